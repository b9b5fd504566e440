/* global document, window, EventSource, fetch */
// The hw-sim web panel's page script: renders the server's snapshots (Server-Sent Events)
// and turns clicks into POST /api/<action>: hw-sim's control actions by their own names
// (hw-sim/control/table.ts: printer.paper {level}, bhyt.fault {fault} …). Data is only ever
// set as text, never as HTML: MQTT payloads come from whatever publishes on the broker.
'use strict';

const MAX_ROWS = 500;
const $ = (id) => document.getElementById(id);
let snap = null;
let trafficCount = 0;
const held = [];
let clockInfo = null;
let clockMoving = false;
const zoneFormats = new Map();

function text(id, value) {
  const el = $(id);
  const v = value === null || value === undefined || value === '' ? '—' : String(value);
  if (el.textContent !== v) el.textContent = v;
}

function say(message, ok) {
  const el = $('action-result');
  el.textContent = message;
  el.className = ok ? 'ok' : 'error';
  el.dataset.ok = ok ? 'true' : 'false';
}

async function post(action, body) {
  try {
    const r = await fetch(`/api/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = await r.json().catch(() => ({ ok: false, error: `HTTP ${r.status}` }));
    const error = String(answer.error).startsWith(`${action}:`) ? answer.error : `${action}: ${answer.error}`;
    say(answer.ok ? answer.message : error, answer.ok);
    return answer.ok;
  } catch (err) {
    say(`${action}: ${err instanceof Error ? err.message : String(err)} (is hw-sim still running?)`, false);
    return false;
  }
}

function portText(p) {
  if (!p) return '—';
  const extra = p.reason ? ` (${p.reason})` : p.attempt ? ` (attempt ${p.attempt})` : '';
  return `${p.kind}${extra}`;
}

function render(s) {
  const first = snap === null;
  snap = s;
  text('device-id', s.deviceId);
  const k = s.kiosk;
  const status = k.status || 'unknown';
  const badge = $('kiosk-status');
  badge.textContent = status;
  badge.dataset.status = status;
  const st = k.state || {};
  text('kiosk-mode', st.mode);
  text('kiosk-step', st.step);
  $('kiosk-mode').dataset.mode = st.mode || '';
  text('kiosk-since', st.since ? new Date(st.since).toLocaleTimeString() : null);
  // Counted by the server as kioskd monitor does: the last health's count plus the tickets since.
  text('checkins-today', k.checkinsToday);
  for (const port of ['card', 'camera', 'printer', 'indicators', 'chip']) {
    const p = st.ports ? st.ports[port] : null;
    text(`port-${port}`, portText(p));
    $(`port-${port}`).dataset.kind = p ? p.kind : '';
  }
  const end = k.lastEnd;
  text('last-outcome', end && end.outcome);
  text('last-number', end && end.number);
  text('last-ticket', end ? `${end.ticket || 'none'}${end.ticket_printed ? ', printed' : end.ticket ? ', not printed (held)' : ''}` : null);
  text('last-reason', end && end.reason);
  $('last-outcome').dataset.outcome = end ? end.outcome : '';

  for (const lamp of ['ready', 'busy', 'error']) {
    const v = s.leds[lamp];
    const el = $(`lamp-${lamp}`);
    if (el.dataset.state !== v) el.dataset.state = v;
    text(`lamp-${lamp}-state`, v === 'on' ? 'steady' : v);
  }
  text('buttons-connected', s.buttonsConnected ? 'kioskd is connected to the buttons' : 'kioskd is not connected to the buttons');

  text('scanner-state', `${s.scanner.plugged ? 'plugged in' : 'unplugged'} (${s.scanner.link})`);
  $('scanner-plug').textContent = s.scanner.plugged ? 'Unplug' : 'Plug in';
  text('camera-shows', s.camera);
  for (const b of document.querySelectorAll('#faces button')) b.classList.toggle('chosen', s.camera === b.dataset.label);

  if (s.cameraStream) renderStream(s.cameraStream);
  if (s.chip) renderChip(s.chip);

  const pr = s.printer;
  text('printer-summary', pr.plugged ? `paper ${pr.paper}${pr.coverOpen ? ', cover open' : ''}${pr.offline ? ', offline' : ''}${pr.error ? ', error' : ''}` : 'powered off');
  for (const b of document.querySelectorAll('[data-paper]')) b.classList.toggle('chosen', b.dataset.paper === pr.paper);
  for (const c of document.querySelectorAll('[data-flag]')) c.checked = Boolean(pr[c.dataset.flag]);
  $('printer-power').textContent = pr.plugged ? 'Power off' : 'Power on';
  if (document.activeElement !== $('bhyt-fault')) $('bhyt-fault').value = s.gateway;
  if (document.activeElement !== $('identity-fault')) $('identity-fault').value = s.identity;

  if (first) {
    for (const sel of [$('sample-select'), $('bhyt-sample'), $('chip-sample')]) {
      for (const p of s.samples) sel.append(new window.Option(`${p.label} · ${p.card}`, String(p.n)));
    }
    buildFaces(s.samples);
  }
  renderTickets(s.tickets);
  clockInfo = s.clock;
  renderClock();
}

/** The stream settings the next rpicam-vid reads (when the server sends them); a field being typed in is left alone. */
function renderStream(cs) {
  const field = (id, v) => {
    if (document.activeElement !== $(id)) $(id).value = v === null ? '' : String(v);
  };
  field('stream-startup', cs.startupMs);
  field('stream-dark', cs.darkFrames);
  field('stream-die-after', cs.dieAfterFrames);
  $('stream-busy').checked = Boolean(cs.busy);
}

/** The chip reader: the card on it and its fault, or why hw-sim has no reader (its controls then disabled). */
function renderChip(c) {
  const where = { connecting: 'being placed', connected: 'on the reader', away: 'pulled away, being put back', 'no-chip': 'on the reader (no chip)' };
  const card = c.card === null ? 'no card' : `sample ${c.card}'s card ${where[c.link] || c.link}`;
  text('chip-summary', c.available ? `${card}${c.fault === 'none' ? '' : `, fault ${c.fault}`} · ${c.answered} commands answered` : 'no chip reader');
  $('chip-summary').dataset.link = c.link;
  const off = $('chip-off');
  off.hidden = c.available;
  text('chip-off', c.available ? '' : `hw-sim runs no chip reader: ${c.off}`);
  for (const el of document.querySelectorAll('[data-chip-control]')) el.disabled = !c.available;
  if (document.activeElement !== $('chip-fault')) $('chip-fault').value = c.fault;
  if (c.delayMs !== null && document.activeElement !== $('chip-delay')) $('chip-delay').value = String(c.delayMs);
}

/** "2026-11-25 07:00" on the hospital's clocks; ISO UTC if this browser does not know the zone. */
function localText(ms, timeZone) {
  let f = zoneFormats.get(timeZone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    } catch {
      f = null;
    }
    zoneFormats.set(timeZone, f);
  }
  if (f === null) return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} (UTC)`;
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute} (${timeZone})`;
}

/** Re-run every second: kioskd's clock runs on from the time it last reported. */
function renderClock() {
  const c = clockInfo;
  if (!c) return;
  const k = c.kioskd;
  let line;
  if (k) {
    // The panel serves loopback only, so this browser shares the clock heardAt was read from.
    const wall = Date.parse(k.wallClock) + Math.max(0, Date.now() - k.heardAt);
    line = `kioskd's clock: ${localText(wall, c.timeZone)} — ${k.ahead}`;
  } else {
    line = c.canMove ? "kioskd's clock: not heard yet (its next health report, or a move, will tell)" : 'kioskd not running (hw-sim --no-daemon)';
  }
  text('clock-now', line);
  $('clock-now').dataset.offsetMs = k ? String(k.offsetMs) : '';
  const note = $('clock-note');
  note.hidden = c.canMove;
  text('clock-note', c.canMove ? '' : 'kioskd not running under hw-sim (started with --no-daemon): its clock cannot be moved from here');
  for (const b of document.querySelectorAll('[data-clock-ms], #clock-to, #clock-to-go')) b.disabled = !c.canMove || clockMoving;
}

async function moveClock(body) {
  clockMoving = true;
  renderClock();
  try {
    await post('clock', body);
  } finally {
    clockMoving = false;
    renderClock();
  }
}

function renderTickets(tickets) {
  const box = $('tickets');
  const shown = [...box.querySelectorAll('figure')].map((f) => f.dataset.index).join(',');
  if (shown === tickets.map((t) => String(t.index)).join(',')) return;
  box.replaceChildren();
  if (tickets.length === 0) {
    const p = document.createElement('p');
    p.className = 'dim';
    p.textContent = 'none yet';
    box.append(p);
    return;
  }
  for (const t of tickets) {
    const fig = document.createElement('figure');
    fig.dataset.index = String(t.index);
    fig.dataset.complete = String(t.complete);
    fig.dataset.testid = `ticket-${t.index}`;
    const a = document.createElement('a');
    a.href = t.url;
    a.target = '_blank';
    a.rel = 'noopener';
    const img = document.createElement('img');
    img.src = t.url;
    img.alt = `ticket ${t.index}`;
    img.dataset.testid = 'ticket-img';
    img.id = `ticket-img-${t.index}`;
    a.append(img);
    const cap = document.createElement('figcaption');
    cap.textContent = `#${t.index} · ${t.complete ? 'complete' : 'torn off unfinished'} · ${t.bytes} bytes`;
    fig.append(a, cap);
    box.append(fig);
  }
}

function buildFaces(samples) {
  const box = $('faces');
  const faces = [...samples.map((p) => ({ who: String(p.n), label: `sample-${p.n}`, title: p.label })), { who: 'stranger', label: 'stranger', title: 'Stranger' }, { who: 'empty', label: 'empty', title: 'Nobody' }];
  for (const f of faces) {
    const b = document.createElement('button');
    b.type = 'button';
    b.id = `face-${f.who}`;
    b.dataset.testid = `face-${f.who}`;
    b.dataset.label = f.label;
    const img = document.createElement('img');
    img.src = `/faces/${f.who}.jpg`;
    img.alt = f.title;
    const cap = document.createElement('span');
    cap.textContent = f.title;
    b.append(img, cap);
    b.addEventListener('click', () => post('camera.face', { who: /^\d+$/.test(f.who) ? Number(f.who) : f.who }));
    box.append(b);
  }
}

function trafficRow(e) {
  const tr = document.createElement('tr');
  tr.dataset.topic = e.topic;
  const time = document.createElement('td');
  time.textContent = e.at.slice(11, 23);
  const topic = document.createElement('td');
  topic.textContent = e.retain ? `${e.topic} (retained)` : e.topic;
  const payload = document.createElement('td');
  payload.textContent = e.payload;
  payload.title = `${e.bytes} bytes`;
  tr.append(time, topic, payload);
  return tr;
}

function applyFilter(tr) {
  const f = $('traffic-filter').value.trim();
  tr.hidden = f !== '' && !tr.dataset.topic.includes(f);
}

function addTraffic(entries) {
  if ($('traffic-pause').checked) {
    held.push(...entries);
    if (held.length > MAX_ROWS) held.splice(0, held.length - MAX_ROWS);
    return;
  }
  const rows = $('traffic-rows');
  // Newest on top; the table keeps the last MAX_ROWS, as the server does.
  for (const e of entries) {
    const tr = trafficRow(e);
    applyFilter(tr);
    rows.prepend(tr);
    trafficCount++;
  }
  while (rows.childElementCount > MAX_ROWS) rows.lastElementChild.remove();
  text('traffic-count', `${trafficCount} messages${trafficCount > MAX_ROWS ? `, last ${MAX_ROWS} shown` : ''}`);
}

function connect() {
  const es = new EventSource('/events');
  const link = $('link');
  es.addEventListener('open', () => {
    link.textContent = 'live';
    link.dataset.link = 'live';
  });
  es.addEventListener('error', () => {
    link.textContent = 'reconnecting…';
    link.dataset.link = 'down';
  });
  es.addEventListener('snapshot', (ev) => render(JSON.parse(ev.data)));
  es.addEventListener('traffic', (ev) => {
    // A (re)connect sends the whole backlog: start the table over.
    $('traffic-rows').replaceChildren();
    trafficCount = 0;
    addTraffic(JSON.parse(ev.data));
  });
  es.addEventListener('mqtt', (ev) => addTraffic([JSON.parse(ev.data)]));
}

function wire() {
  for (const b of document.querySelectorAll('[data-button]')) b.addEventListener('click', () => post('panel.press', { button: b.dataset.button }));
  for (const b of document.querySelectorAll('[data-daemon]')) b.addEventListener('click', () => post('daemon', { command: b.dataset.daemon }));
  for (const b of document.querySelectorAll('[data-camera]')) b.addEventListener('click', () => post('camera.mode', { mode: b.dataset.camera }));
  for (const b of document.querySelectorAll('[data-paper]')) b.addEventListener('click', () => post('printer.paper', { level: b.dataset.paper }));
  for (const c of document.querySelectorAll('[data-flag]')) c.addEventListener('change', () => post('printer.status', { [c.dataset.flag]: c.checked }));
  $('stream-startup-set').addEventListener('click', () => post('camera.stream', { startupMs: Number($('stream-startup').value) }));
  $('stream-dark-set').addEventListener('click', () => post('camera.stream', { darkFrames: Number($('stream-dark').value) }));
  // Empty: the stream does not die.
  $('stream-die-after-set').addEventListener('click', () => post('camera.stream', { dieAfterFrames: $('stream-die-after').value === '' ? null : Number($('stream-die-after').value) }));
  $('stream-busy').addEventListener('change', () => post('camera.stream', { busy: $('stream-busy').checked }));
  $('stream-reset').addEventListener('click', async () => {
    // Until a snapshot says otherwise: by default nothing holds the camera and the stream does not die.
    if (await post('camera.stream', { reset: true })) {
      $('stream-busy').checked = false;
      $('stream-die-after').value = '';
    }
  });
  $('printer-power').addEventListener('click', () => post('printer.power', { on: !(snap && snap.printer.plugged) }));
  $('printer-paper-out-after-set').addEventListener('click', () => post('printer.faults', { paperOutAfterBytes: Number($('printer-paper-out-after').value) }));
  $('scan').addEventListener('click', () => post('scanner.scan', { sample: Number($('sample-select').value), form: $('scan-form').value }));
  $('send-raw').addEventListener('click', () => post('raw', { text: $('raw-bytes').value, mode: $('raw-mode').value }));
  $('scanner-plug').addEventListener('click', () => post('scanner.plug', { plugged: !(snap && snap.scanner.plugged) }));
  $('chip-place').addEventListener('click', () => post('chip.place', { sample: Number($('chip-sample').value) }));
  $('chip-remove').addEventListener('click', () => post('chip.remove', {}));
  const chipFault = () => {
    const fault = $('chip-fault').value;
    return post('chip.fault', fault === 'slow' ? { fault, delayMs: Number($('chip-delay').value) } : { fault });
  };
  $('chip-fault').addEventListener('change', chipFault);
  $('chip-delay').addEventListener('change', () => $('chip-fault').value === 'slow' && chipFault());
  $('bhyt-fault').addEventListener('change', () => post('bhyt.fault', { fault: $('bhyt-fault').value }));
  $('identity-fault').addEventListener('change', () => post('identity.fault', { fault: $('identity-fault').value }));
  $('bhyt-set').addEventListener('click', () => post('bhyt.result', { sample: Number($('bhyt-sample').value), code: $('bhyt-code').value.trim() }));
  for (const b of document.querySelectorAll('[data-clock-ms]')) b.addEventListener('click', () => moveClock({ ms: Number(b.dataset.clockMs) }));
  $('clock-to').addEventListener('input', () => {
    $('clock-to-go').textContent = `to ${$('clock-to').value || 'HH:MM'}`;
  });
  $('clock-to-go').addEventListener('click', () => {
    const to = $('clock-to').value;
    if (!/^\d\d:\d\d$/.test(to)) return say('clock: choose a time of day (HH:MM) first', false);
    void moveClock({ toLocal: to });
  });
  window.setInterval(renderClock, 1000);
  $('traffic-filter').addEventListener('input', () => {
    for (const tr of $('traffic-rows').children) applyFilter(tr);
  });
  $('traffic-pause').addEventListener('change', () => {
    if (!$('traffic-pause').checked) addTraffic(held.splice(0));
  });
  connect();
}

wire();
