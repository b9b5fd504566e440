/**
 * What every driver needs around its protocol, in one place (node-serialport's split between
 * the binding and the stream): the port's state cell and listeners, the lifetime
 * AbortController, reconnecting with jittered backoff, logging a fault once per reason, and one
 * classifier for why a device could not be opened. Drivers keep only framing and protocol.
 */
import { backoffMs } from '../util/backoff.js';
import type { Clock } from '../util/clock.js';
import type { DriverDeps, PortCode, PortState, Unsubscribe } from './ports.js';

export interface StateCell {
  state(): PortState;
  /** Sets the state; false (and no listener called) when it equals the current one. */
  set(next: PortState): boolean;
  onStateChange(listener: (state: PortState) => void): Unsubscribe;
}

/**
 * A port's state and its listeners. The same state is never reported twice in a row.
 * `onChange` runs before the listeners (for the driver's own log line).
 */
export function createStateCell(initial: PortState, onChange?: (next: PortState, before: PortState) => void): StateCell {
  let state = initial;
  const listeners = new Set<(s: PortState) => void>();
  return {
    state: () => state,
    set(next) {
      if (JSON.stringify(next) === JSON.stringify(state)) return false;
      const before = state;
      state = next;
      onChange?.(next, before);
      for (const l of listeners) l(next);
      return true;
    },
    onStateChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Why a port is faulted: a code for machines, a reason for people. `retry: false`: nothing a retry can fix. */
export interface Fault {
  readonly code: PortCode;
  readonly reason: string;
  readonly retry?: false;
}

/** An error that already knows which fault it is (a driver's own refusal, e.g. "not found"). */
export class PortFaultError extends Error {
  constructor(readonly fault: Fault) {
    super(fault.reason);
  }
}

/**
 * Why a device (`device`: "scanner", "printer" …) could not be opened, from the OS error.
 * Permission problems carry the udev hint, since a missing rule is the usual cause.
 */
export function openFault(err: unknown, device: string): Fault {
  if (err instanceof PortFaultError) return err.fault;
  const e = err as NodeJS.ErrnoException | null | undefined;
  const message = e?.message ?? String(err);
  if (e?.code === 'ENOENT' || /No such file/.test(message)) return { code: 'not-present', reason: 'device not present' };
  if (e?.code === 'ECONNREFUSED') return { code: 'connection-refused', reason: 'connection refused' };
  if (e?.code === 'EBUSY') return { code: 'busy', reason: 'device busy (another program has it open)' };
  if (e?.code === 'EACCES' || /Permission denied/.test(message))
    return {
      code: 'permission',
      reason: `permission denied (the ${device} should be group kioskd: is /etc/udev/rules.d/99-kioskd.rules installed? then udevadm trigger)`,
    };
  if (e?.code === 'ETIMEDOUT' || e?.code === 'EHOSTUNREACH' || e?.code === 'ENETUNREACH') return { code: 'unreachable', reason: message };
  return { code: 'open-failed', reason: message };
}

export interface SupervisorOptions<L> {
  /** Where the device is, for log lines: a path or URL. */
  readonly where: string;
  /** Names the device in the permission hint: "scanner", "printer", "panel". */
  readonly device: string;
  readonly deps: Pick<DriverDeps, 'clock' | 'log'>;
  /**
   * Reconnect delay: jittered exponential backoff, or a fixed delay, which faulted states then
   * show as `retryInMs`.
   */
  readonly retry: { readonly baseMs: number; readonly maxMs: number; readonly random: () => number } | { readonly fixedMs: number };
  readonly initial?: PortState;
  /** The driver's log line for a state change (runs before the listeners). */
  readonly onChange?: (next: PortState, before: PortState) => void;
  /** Opens the device; rejects when it cannot (classified by openFault, or a PortFaultError). */
  readonly open: (signal: AbortSignal) => L | Promise<L>;
  readonly close: (link: L) => void;
  /**
   * Wires a fresh link (data and close listeners). The port is then `ready`, unless
   * `attachSetsState`: the driver reads the device first and sets the state itself.
   */
  readonly attach: (link: L, signal: AbortSignal) => void | Promise<void>;
  readonly attachSetsState?: boolean;
  /** Log lines: opening failed (once per reason), a working link was lost, the device is back. */
  readonly say: { readonly cannotOpen: string; readonly lost: string; readonly back?: string };
}

export interface Supervisor<L> extends StateCell {
  /** The open link, or null while there is none. */
  readonly link: L | null;
  readonly running: boolean;
  /** Aborted by stop(): everything in flight on the port's behalf ends with it. */
  readonly signal: AbortSignal;
  /**
   * Starts connecting; resolves after the first attempt (drivers do not wait for it: boot never
   * waits for a device). With `tiedTo`, its abort stops reconnecting too.
   */
  start(tiedTo?: AbortSignal): Promise<void>;
  /** Idempotent: stops reconnecting, aborts the lifetime, closes the link. */
  stop(): void;
  /** A working link went away: logs it, faults the port and reconnects. `detail` is for the log. */
  lost(link: L, fault: Fault, detail: string): void;
  /** Gives up on a link (it may be out of step): closes it, faults the port and reconnects. */
  drop(link: L, fault: Fault): void;
}

/** Keeps a device connected: open, attach, and on any failure fault the port and retry with backoff. */
export function supervise<L>(o: SupervisorOptions<L>): Supervisor<L> {
  const { clock, log } = o.deps;
  const cell = createStateCell(o.initial ?? { kind: 'connecting', attempt: 1 }, o.onChange);
  const retries = createRetries(clock, o.retry);
  let link: L | null = null;
  let running = false;
  let lifetime = new AbortController();
  /** What connection attempts run under: the lifetime, and the open signal when tied to it. */
  let session: AbortSignal = lifetime.signal;

  const fault = (f: Fault): void => {
    cell.set(faulted(f, retries.shownMs));
    const signal = session;
    if (f.retry !== false && running && !signal.aborted) retries.schedule(() => void connect(signal));
  };

  // Synchronous when `open` and `attach` are (a HID device opens at once): the state is then
  // set before the retry timer's callback returns.
  const connect = (signal: AbortSignal): void | Promise<void> => {
    if (!running || signal.aborted) return;
    retries.tried();
    let opening: L | Promise<L>;
    try {
      opening = o.open(signal);
    } catch (err) {
      return failed(err, signal);
    }
    if (!(opening instanceof Promise)) return opened(opening, signal);
    return opening.then(
      (l) => opened(l, signal),
      (err) => failed(err, signal),
    );
  };
  const failed = (err: unknown, signal: AbortSignal): void => {
    if (!running || signal.aborted) return;
    const f = openFault(err, o.device);
    // Once per reason: a device that stays away is retried quietly.
    if (!sameFault(cell.state(), f)) log.warn({ where: o.where, reason: f.reason }, o.say.cannotOpen);
    fault(f);
  };
  const opened = (l: L, signal: AbortSignal): void | Promise<void> => {
    if (!running || signal.aborted) return o.close(l);
    link = l;
    const wasFaulted = cell.state().kind === 'faulted';
    retries.reset();
    const settle = (): void => {
      if (o.attachSetsState || link !== l || !running) return;
      if (wasFaulted && o.say.back) log.info({ where: o.where }, o.say.back);
      cell.set({ kind: 'ready' });
    };
    const attaching = o.attach(l, signal);
    return attaching instanceof Promise ? attaching.then(settle) : settle();
  };

  const drop = (l: L, f: Fault): void => {
    if (link !== l) return;
    link = null;
    o.close(l);
    if (!running) return;
    retries.reset();
    fault(f);
  };

  return {
    ...cell,
    get link() {
      return link;
    },
    get running() {
      return running;
    },
    get signal() {
      return lifetime.signal;
    },
    async start(tiedTo) {
      if (running || tiedTo?.aborted) return;
      running = true;
      lifetime = new AbortController();
      session = tiedTo ? AbortSignal.any([tiedTo, lifetime.signal]) : lifetime.signal;
      await connect(session);
    },
    stop() {
      running = false;
      lifetime.abort(new Error('closed'));
      retries.cancel();
      const l = link;
      link = null;
      if (l !== null) o.close(l);
    },
    lost(l, f, detail) {
      if (link !== l) return;
      if (running) log.warn({ where: o.where, reason: detail }, o.say.lost);
      drop(l, f);
    },
    drop,
  };
}

function faulted(f: Fault, retryInMs: number | undefined): PortState {
  const { code, reason } = f;
  return retryInMs === undefined || f.retry === false ? { kind: 'faulted', code, reason } : { kind: 'faulted', code, reason, retryInMs };
}

const sameFault = (s: PortState, f: Fault): boolean => s.kind === 'faulted' && s.reason === f.reason;

/** The reconnect timer: jittered backoff growing with each failed attempt in a row, or a fixed delay. */
function createRetries(clock: Clock, retry: SupervisorOptions<unknown>['retry']) {
  let attempt = 0;
  let timer: unknown = null;
  return {
    /** The delay faulted states show (a fixed delay only: a jittered one would make every fault a new state). */
    shownMs: 'fixedMs' in retry ? retry.fixedMs : undefined,
    tried: () => void attempt++,
    reset: () => void (attempt = 0),
    schedule(fn: () => void): void {
      clock.clearTimeout(timer);
      timer = clock.setTimeout(fn, 'fixedMs' in retry ? retry.fixedMs : backoffMs(attempt, retry, retry.random));
    },
    cancel: () => clock.clearTimeout(timer),
  };
}
