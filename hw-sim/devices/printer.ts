import { closeSync, createReadStream, existsSync, mkdirSync, openSync, writeFileSync, writeSync, type ReadStream } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { EscPosReader } from '../printer/escpos.js';
import { openPtyPair, type PtyPair } from './pty.js';
import { Paper, createSheetRenderer, sheetPictures, sheetText, type SheetRenderer, type SheetResult } from '../printer/paper.js';
import { listenLoopback } from './listen.js';
import { ocrAvailable, ocrText } from '../printer/ocr.js';
import { cutAt, usePaper, type PrinterFaults } from '../printer/faults.js';
import { statusByte, type PrinterState } from '../printer/status.js';

export type { PrinterFaults, PrinterState };

/** One connection to the printer: a TCP client, or the device file's other end. */
interface Conn {
  write(bytes: Uint8Array): void;
  destroy(): void;
  pause(): void;
  resume(): void;
  /** Received but not yet processed (a slow printer). */
  backlog: Buffer[];
  pumping: boolean;
  closed: boolean;
}

export interface PrintedTicket {
  readonly index: number;
  readonly complete: boolean;
  readonly png: string;
  readonly txt: string;
  readonly text: string;
  readonly bytes: number;
  readonly unknownCommands: readonly string[];
}

/**
 * A virtual ESC/POS receipt printer on raw TCP (port 9100 on a real one). It interprets the
 * command subset kioskd emits, answers DLE EOT from the state a test or technician sets, can
 * fail mid-job, and writes each ticket to `<outDir>/ticket-N.png` and `.txt`. The text of
 * raster (picture) tickets is read back with tesseract OCR when it is installed
 * (apt-get install tesseract-ocr tesseract-ocr-vie); otherwise the .txt names the pictures.
 */
export class VirtualPrinter {
  readonly state: PrinterState = { paper: 'ok', coverOpen: false, offline: false, error: false, mute: false };
  faults: PrinterFaults = {};
  readonly tickets: PrintedTicket[] = [];
  private readonly listeners = new Set<(t: PrintedTicket) => void>();
  private readonly cutListeners = new Set<(c: { complete: boolean; at: number }) => void>();
  /** Off for benchmarks: sheets are counted, not rendered to PNG and text. */
  render = true;
  private readonly conns = new Set<Conn>();
  private server: Server | null = null;
  private pty: { pair: PtyPair; stream: ReadStream; closeFd: () => void } | null = null;
  private port = 0;
  private bytesThisSheet = 0;
  private paper: Paper;
  private renderer: SheetRenderer | null = null;
  private pendingWrites: Promise<void> = Promise.resolve();
  /** The next ticket number to try (see reserveName). */
  private nextIndex = 1;

  private constructor(
    readonly outDir: string,
    readonly widthDots: number,
    private readonly ocr: boolean,
    /** tcp: raw TCP like a network printer; device: a pty standing in for /dev/usb/lp0. */
    readonly link: 'tcp' | 'device',
  ) {
    this.paper = new Paper(widthDots);
  }

  static async start(o: { outDir: string; paperMm?: 80 | 58; port?: number; ocr?: boolean; link?: 'tcp' | 'device' }): Promise<VirtualPrinter> {
    mkdirSync(o.outDir, { recursive: true });
    const p = new VirtualPrinter(o.outDir, o.paperMm === 58 ? 384 : 576, o.ocr ?? VirtualPrinter.ocrAvailable(), o.link ?? 'tcp');
    p.renderer = await createSheetRenderer();
    p.port = o.port ?? 0;
    await p.plug();
    return p;
  }

  static ocrAvailable(): boolean {
    return ocrAvailable();
  }

  get host(): string {
    return '127.0.0.1';
  }
  get tcpPort(): number {
    return this.port;
  }
  get url(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }
  /** The device file the daemon opens (link "device"). */
  get devicePath(): string {
    if (!this.pty) throw new Error('the virtual printer is not a device file (or is unplugged)');
    return this.pty.pair.daemonEnd;
  }
  get plugged(): boolean {
    return this.server !== null || this.pty !== null;
  }

  onTicket(l: (t: PrintedTicket) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Called the moment a sheet is cut (or torn off), before it is rendered: `at` is performance.now(). */
  onCut(l: (c: { complete: boolean; at: number }) => void): () => void {
    this.cutListeners.add(l);
    return () => this.cutListeners.delete(l);
  }

  /** Resolves once every ticket cut so far is written to disk. */
  settled(): Promise<void> {
    return this.pendingWrites;
  }

  async plug(): Promise<void> {
    if (this.plugged) return;
    if (this.link === 'device') {
      const pair = await openPtyPair(this.outDir, 'printer-device');
      const fd = openSync(pair.simEnd, 'r+');
      const stream = createReadStream('', { fd, autoClose: false });
      // The fd is closed here, once, never by stream.destroy(): that would wait for the read
      // blocked on the pty (forever), and closing it twice could close a number already reused.
      // Closing it ends the blocked read with an error, which the stream keeps to itself.
      let open = true;
      const closeFd = (): void => {
        if (open) closeSync(fd);
        open = false;
      };
      this.pty = { pair, stream, closeFd };
      const conn: Conn = {
        write: (b) => {
          try {
            if (open) writeSync(fd, b);
          } catch {
            // the daemon side is gone
          }
        },
        destroy: closeFd,
        pause: () => stream.pause(),
        resume: () => stream.resume(),
        backlog: [],
        pumping: false,
        closed: false,
      };
      this.conns.add(conn);
      const reader = new EscPosReader();
      stream.on('error', () => {});
      stream.on('data', (chunk) => this.receive(conn, reader, chunk as Buffer));
      return;
    }
    const server = createServer((sock) => {
      sock.on('error', () => {});
      const conn: Conn = {
        write: (b) => sock.write(b),
        destroy: () => sock.destroy(),
        pause: () => sock.pause(),
        resume: () => sock.resume(),
        backlog: [],
        pumping: false,
        closed: false,
      };
      this.conns.add(conn);
      sock.on('close', () => {
        conn.closed = true;
        conn.backlog = [];
        this.conns.delete(conn);
      });
      const reader = new EscPosReader();
      sock.on('data', (chunk: Buffer) => this.receive(conn, reader, chunk));
    });
    this.port = await listenLoopback(server, this.port);
    this.server = server;
  }

  /** Power off / pull the network cable: every connection drops and nothing answers. */
  async unplug(): Promise<void> {
    for (const c of this.conns) {
      c.closed = true;
      c.destroy();
    }
    this.conns.clear();
    const pty = this.pty;
    this.pty = null;
    if (pty) {
      pty.closeFd();
      await pty.pair.close();
    }
    const srv = this.server;
    this.server = null;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }

  async stop(): Promise<void> {
    await this.unplug();
    await this.pendingWrites;
  }

  private receive(conn: Conn, reader: EscPosReader, chunk: Buffer): void {
    if (conn.backlog.length > 0 || this.faults.drainBytesPerSec) {
      // A busy printer: bytes wait in its buffer and are processed at the drain rate, so a
      // request queued behind them (GS r, even DLE EOT) waits too; the sender is held back.
      conn.backlog.push(chunk);
      conn.pause();
      this.pump(conn, reader);
      return;
    }
    this.take(conn, reader, chunk);
  }

  private pump(conn: Conn, reader: EscPosReader): void {
    if (conn.pumping) return;
    conn.pumping = true;
    const step = (): void => {
      if (conn.closed) return;
      const rate = this.faults.drainBytesPerSec;
      let budget = rate ? Math.max(1, Math.floor(rate / 10)) : Infinity;
      while (conn.backlog.length > 0 && budget > 0) {
        const head = conn.backlog[0]!;
        const n = Math.min(head.length, budget);
        this.take(conn, reader, head.subarray(0, n));
        budget -= n;
        if (n === head.length) conn.backlog.shift();
        else conn.backlog[0] = head.subarray(n);
      }
      if (conn.backlog.length > 0) setTimeout(step, 100);
      else {
        conn.pumping = false;
        conn.resume();
      }
    };
    step();
  }

  private take(conn: Conn, reader: EscPosReader, chunk: Buffer): void {
    const cut = cutAt(this.faults, chunk.length);
    this.consume(reader, cut === null ? chunk : chunk.subarray(0, cut), conn);
    if (cut === null) return;
    this.tear();
    conn.destroy();
  }

  private consume(reader: EscPosReader, data: Uint8Array, conn: Conn): void {
    for (const cmd of reader.push(data)) {
      if (cmd.kind === 'status-request') {
        if (!this.state.mute) conn.write(Uint8Array.of(statusByte(this.state, cmd.n)));
        continue;
      }
      // A printer with no paper, an open cover or in error prints nothing.
      if (!this.canPrint()) continue;
      if (cmd.kind === 'text') this.countBytes(cmd.bytes.length);
      else if (cmd.kind === 'raster') this.countBytes(cmd.data.length + 8);
      else this.countBytes(2);
      if (!this.canPrint()) {
        this.tear(); // the paper ran out under this command
        continue;
      }
      if (cmd.kind === 'transmit-status') {
        // In order: everything before it has been printed by now. Paper sensor: 0x03 near end.
        conn.write(Uint8Array.of(cmd.n === 1 && this.state.paper === 'near-end' ? 0x03 : 0x00));
        continue;
      }
      const sheet = this.paper.apply(cmd);
      if (sheet) this.finish(sheet);
    }
  }

  private countBytes(n: number): void {
    this.bytesThisSheet += n;
    usePaper(this.faults, this.state, n);
  }

  private canPrint(): boolean {
    return this.state.paper !== 'out' && !this.state.coverOpen && !this.state.error && !this.state.offline;
  }

  private tear(): void {
    const sheet = this.paper.tear();
    if (sheet) this.finish(sheet);
  }

  /**
   * The ticket's number and file name, taken the moment the sheet is cut: rendering finishes
   * later, and a burst of cuts must not share a name (they once all wrote ticket-003). The PNG
   * is created exclusively, so a ticket never overwrites one already in the folder (a kept
   * --dir, or another printer writing there).
   */
  private reserveName(complete: boolean): { index: number; base: string } {
    for (;;) {
      const index = this.nextIndex++;
      const stem = join(this.outDir, `ticket-${String(index).padStart(3, '0')}`);
      if (existsSync(`${stem}.png`) || existsSync(`${stem}-torn.png`)) continue;
      const base = complete ? stem : `${stem}-torn`;
      try {
        closeSync(openSync(`${base}.png`, 'wx'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        // The folder is gone or read-only: writing the ticket then fails and says so.
      }
      return { index, base };
    }
  }

  private finish(sheet: SheetResult): void {
    const at = performance.now();
    for (const l of this.cutListeners) l({ complete: sheet.complete, at });
    if (!this.render) {
      this.bytesThisSheet = 0;
      return;
    }
    const { index, base } = this.reserveName(sheet.complete);
    const bytes = this.bytesThisSheet;
    this.bytesThisSheet = 0;
    const renderer = this.renderer!;
    const write = async (): Promise<void> => {
      const png = await renderer.png(sheet, this.widthDots);
      writeFileSync(`${base}.png`, png);
      const pictures = sheetPictures(sheet);
      const read: string[] = [];
      for (const pic of pictures) read.push(this.ocr ? await ocrText(await renderer.pictureToPng(pic)) : '');
      const text = sheetText(sheet, (i) => (this.ocr ? (read[i] ?? '') : null));
      writeFileSync(`${base}.txt`, text);
      const t: PrintedTicket = {
        index,
        complete: sheet.complete,
        png: `${base}.png`,
        txt: `${base}.txt`,
        text,
        bytes,
        unknownCommands: sheet.unknown,
      };
      this.tickets.push(t);
      for (const l of this.listeners) l(t);
    };
    this.pendingWrites = this.pendingWrites.then(write, write);
  }
}
