import { describeControl } from '../control/table.js';
import type { Expectation, Step } from './schema.js';
import { formatDuration } from '../duration.js';
import { maskPersonalData } from './privacy.js';
import { brief } from './values.js';

/**
 * The readable report: printed as the run goes, and kept for report.txt. Every line is masked
 * first: what it quotes (payloads, ticket text, kioskd's output) may hold a sample patient's
 * name, ID number or birth date, and a report is pasted into tickets and chats.
 */
export class Report {
  private readonly lines: string[] = [];
  constructor(private readonly out: (text: string) => void) {}

  line(text = ''): void {
    const masked = maskPersonalData(text);
    this.lines.push(masked);
    this.out(masked + '\n');
  }

  /** One step: ✔/✘, what it was, how long it took; for a failure, what was expected and seen, indented. */
  step(ok: boolean, what: string, ms: number, note: string | undefined, details: readonly string[] = []): void {
    this.line(`  ${ok ? '✔' : '✘'} ${what}${note ? ` → ${note}` : ''} (${Math.round(ms)} ms)`);
    for (const d of details) for (const l of d.split('\n')) this.line(`      ${l}`);
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

export function summaryLine(passed: number, failed: number): string {
  const n = passed + failed;
  return `${n} scenario${n === 1 ? '' : 's'}: ${passed} passed, ${failed} failed`;
}

/** What a step does, in a technician's words, on one line. */
export function describeStep(s: Step): string {
  // A step on the devices says what its control actions say (the console and the web panel say the same).
  if ('calls' in s) return s.calls.map(describeControl).join(', ');
  switch (s.kind) {
    case 'broker':
      return s.action === 'stop' ? 'stop the MQTT broker' : 'start the MQTT broker again';
    case 'command':
      return `command ${s.name}${s.args ? ` ${brief(s.args, 60)}` : ''}${s.status ? `, answer ${s.status}` : ''}${s.data !== undefined ? ` with ${brief(s.data, 60)}` : ''}`;
    case 'wait':
      return `wait ${formatDuration(s.ms)}`;
    case 'disk':
      return s.fillToMb === undefined ? "free the state directory's disk again" : `fill the state directory's disk until ${s.fillToMb} MB are free`;
    case 'advance':
      return 'toLocal' in s ? `advance kioskd's clock to ${s.toLocal} (local)` : `advance kioskd's clock by ${formatDuration(s.ms)}`;
    case 'kill_daemon':
      return `kill kioskd (${s.signal})`;
    case 'restart_daemon':
      return s.clockBackMs === undefined ? 'start kioskd again' : `start kioskd again with its clock ${formatDuration(s.clockBackMs)} earlier`;
    case 'mark':
      return `mark "${s.label}"`;
    case 'expect':
      return `expect ${describeExpectation(s.expect)}`;
  }
}

function describeExpectation(e: Expectation): string {
  const tail = `${e.within !== undefined ? ` within ${e.within >= 1000 ? `${e.within / 1000} s` : `${e.within} ms`}` : ''}${e.since ? ` since mark ${e.since}` : ''}`;
  switch (e.kind) {
    case 'state':
      return `state ${brief(e.match)}${tail}`;
    case 'mqtt': {
      const want = e.data !== undefined ? brief(e.data) : e.payload !== undefined ? `payload ${brief(e.payload)}` : '';
      const n = e.absent ? 'no ' : e.count !== undefined ? `${e.count}× ` : '';
      return `${n}${e.topic}${want ? ` ${want}` : ''}${tail}`;
    }
    case 'ticket':
      if (e.none) return `no ticket${tail}`;
      return `${e.count !== undefined ? `${e.count} ` : ''}ticket${e.count !== undefined && e.count !== 1 ? 's' : ''}${e.complete === true ? ' complete' : e.complete === false ? ' torn off' : ''}${e.text !== undefined ? `, text ${e.text}` : ''}${tail}`;
    case 'leds':
      return `lamps ${Object.entries(e.leds)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}${tail}`;
    case 'audit':
      return `audit: ${[e.unique_numbers && 'numbers unique', e.no_personal_data && 'no personal data', e.ticket_state && `ticket state ${brief(e.ticket_state)}`].filter(Boolean).join(', ')}${tail}`;
    case 'calls':
      return `calls ${Object.entries(e.counts)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}${tail}`;
    case 'no_personal_data':
      return `no personal data in ${e.where.map((w) => (w === 'mqtt' ? 'MQTT' : 'the daemon log')).join(' and ')}${tail}`;
  }
}
