/**
 * A stand-in for the HN-212 reader's packaged Socket.IO service (JTH; docs chip.md §12): on the
 * event "/event" of the default namespace it sends { id: 1 } when a card is placed, { id: 2, data:
 * text fields }, then { id: 4, data: raw groups in base64 } — or { id: 3, message } when the read
 * fails. It can also be slow, send garbage or oversize groups, or be down (and come back on the same
 * port). socket.io is a devDependency: it is loaded only when a double starts.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { Server as IoServer } from 'socket.io';
import type { FileName } from '../../src/chip/read-chip.js';
import type { CardIdentity } from './card-files.js';
import { listenLoopback } from '../devices/listen.js';

/**
 * What goes wrong with the next read. error / card-removed: a failure message instead of the groups;
 * garbage: junk messages (to be ignored), then a DG2 that is not base64; not-tlv: base64 that is not the group;
 * oversize: a DG2 over 1 MiB; silent: the card is announced and nothing follows.
 */
export type Hn212Fault = 'none' | 'error' | 'card-removed' | 'garbage' | 'not-tlv' | 'oversize' | 'silent';
export const HN212_FAULTS: readonly Hn212Fault[] = ['none', 'error', 'card-removed', 'garbage', 'not-tlv', 'oversize', 'silent'];

export interface Hn212Card {
  /** The chip's files (buildCardFiles): DG2, DG13, DG14, DG15 and SOD are sent; the others (DG1, COM) are not, as by the real service. */
  readonly files: ReadonlyMap<FileName, Uint8Array>;
  /** The id-2 text fields (hn212TextOf); the kiosk must not use them. */
  readonly text?: Readonly<Record<string, string>>;
  /** img_data: the service's own copy of the portrait (a JPEG). */
  readonly portrait?: Uint8Array;
}

export interface PresentOptions {
  readonly fault?: Hn212Fault;
  /** Between "new card" and the result: a slow reader. */
  readonly delayMs?: number;
}

export interface Hn212Double {
  readonly port: number;
  /** http://127.0.0.1:<port>: the adapter's chip.hn212.url. */
  readonly url: string;
  /** Connected clients. */
  clients(): number;
  isUp(): boolean;
  /** Places the card: sends the messages of one read; resolves when the last is sent. */
  present(card: Hn212Card, opts?: PresentOptions): Promise<void>;
  /** Sends any payload on the event (a test's own garbage). */
  send(payload: unknown): void;
  /** The service stops (clients are dropped) and the port is freed. */
  down(): Promise<void>;
  /** The service comes back on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export interface Hn212DoubleOptions {
  /** 0 (default): a free port. */
  readonly port?: number;
  /** Start down (the port is reserved, then freed): the kiosk starts before the service. */
  readonly down?: boolean;
  /** The event name; "/event" as the public clients of the service listen on. */
  readonly event?: string;
  /** Which transports the service accepts (both by default). */
  readonly transports?: readonly ('polling' | 'websocket')[];
}

const b64 = (bytes: Uint8Array | undefined): string => (bytes ? Buffer.from(bytes).toString('base64') : '');

/** The id-4 data of a card: each group in base64, '' for a group the card lacks. */
export function rawDataOf(card: Hn212Card): Record<string, string> {
  return {
    img_data: b64(card.portrait),
    dg2: b64(card.files.get('DG2')),
    dg13: b64(card.files.get('DG13')),
    dg14: b64(card.files.get('DG14')),
    dg15: b64(card.files.get('DG15')),
    sod: b64(card.files.get('SOD')),
  };
}

/** The id-2 fields the service would send for this identity (names and spellings from JTH's note). */
export function hn212TextOf(p: CardIdentity): Record<string, string> {
  return {
    idCode: p.idNumber,
    oldIdCode: p.idNumber.slice(-9),
    personName: p.fullName,
    dateOfBirth: p.birthDate,
    gender: p.sex === 'M' ? 'Nam' : 'Nữ',
    nationality: 'Việt Nam',
    race: 'Kinh',
    religion: 'Không',
    originPlace: 'Hà Nội',
    residencePlace: 'Hà Nội',
    personalIdentification: '',
    issueDate: p.issueDate ?? '',
    expiryDate: p.expiryDate ?? '',
    fatherName: '',
    motherName: '',
    wifeName: '',
  };
}

/** The messages of one read, in order, each with the pause before it. */
function messagesOf(card: Hn212Card, fault: Hn212Fault, delayMs: number): Array<{ waitMs: number; payload: unknown }> {
  const newCard = { waitMs: 0, payload: { id: 1, message: 'new card!' } };
  const text = { id: 2, message: 'read card successfully!', data: card.text ?? {} };
  const raw = (data: Record<string, string>) => ({ id: 4, message: 'Read raw data successfully!', data });
  const after = (payload: unknown, waitMs = 0) => ({ waitMs, payload });
  switch (fault) {
    case 'none':
      return [newCard, after(text, delayMs), after(raw(rawDataOf(card)))];
    case 'error':
      return [newCard, after({ id: 3, message: 'Read card failed!' }, delayMs)];
    case 'card-removed':
      return [newCard, after({ id: 3, message: 'Card removed while reading' }, delayMs)];
    case 'silent':
      return [newCard];
    case 'garbage':
      return [
        newCard,
        after(null),
        after(42),
        after('not json {'),
        after([1, 2, 3]),
        after({ id: 'x' }),
        after({ id: 99, data: {} }),
        after(raw({ ...rawDataOf(card), dg2: '@@not base64!!' }), delayMs),
      ];
    case 'not-tlv':
      return [newCard, after(raw({ ...rawDataOf(card), dg2: Buffer.from('this is not a DG2 file at all').toString('base64') }), delayMs)];
    case 'oversize':
      return [newCard, after(raw({ ...rawDataOf(card), dg2: Buffer.alloc(1024 * 1024 + 1, 0x75).toString('base64') }), delayMs)];
  }
}

export async function startHn212Double(opts: Hn212DoubleOptions = {}): Promise<Hn212Double> {
  const { Server } = await import('socket.io');
  const event = opts.event ?? '/event';
  let http: HttpServer | null = null;
  let io: IoServer | null = null;
  let port = opts.port ?? 0;

  const up = async (): Promise<void> => {
    if (io) return;
    const server = createServer();
    // The service's real limit is unknown; the double lets big test messages through.
    const s = new Server(server, { maxHttpBufferSize: 8 * 1024 * 1024, transports: [...(opts.transports ?? ['polling', 'websocket'])] });
    port = await listenLoopback(server, port);
    [http, io] = [server, s];
  };
  const down = async (): Promise<void> => {
    const s = io;
    if (!s) return;
    [http, io] = [null, null];
    s.disconnectSockets(true);
    await s.close();
  };

  await up();
  if (opts.down) await down();
  const send = (payload: unknown): void => void io?.emit(event, payload);

  return {
    get port() {
      return port;
    },
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    clients: () => io?.sockets.sockets.size ?? 0,
    isUp: () => io !== null && http !== null,
    async present(card, o = {}) {
      for (const m of messagesOf(card, o.fault ?? 'none', o.delayMs ?? 0)) {
        if (m.waitMs > 0) await new Promise((r) => setTimeout(r, m.waitMs));
        send(m.payload);
      }
    },
    send,
    down,
    up,
    close: down,
  };
}
