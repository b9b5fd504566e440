import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { GHI_CHU } from './bhyt-codes.js';
import { listenLoopback } from './listen.js';

export type BhytGatewayFault =
  'none' | 'http-500' | 'slow' | 'expire-token' | 'malformed-json' | 'down' | 'redirect' | 'huge-body' | 'wrong-content-type';

export interface BhytGatewayStats {
  readonly tokenRequests: number;
  /** Requests that reached the lookup endpoint, whatever was answered. */
  readonly lookups: number;
  /** Lookups per maThe. */
  readonly byCard: Readonly<Record<string, number>>;
  /** Bytes of 'huge-body' answers written before the client hung up (or all of them). */
  readonly hugeBytesSent: number;
}

interface IssuedToken {
  readonly idToken: string;
  readonly username: string;
  expiresAt: number;
}

const TOKEN_PATH = '/api/token/take';
const LOOKUP_PATH = '/api/egw/KQNhanLichSuKCB2024';
const LOOKUP_FIELDS = ['maThe', 'hoTen', 'ngaySinh', 'hoTenCb', 'cccdCb'] as const;
/** Codes for which the live gateway still returns the card's data. */
const WITH_CARD: ReadonlySet<string> = new Set(['000', '001', '002', '003', '004', '010', '110', '120', '121', '122', '123', '124', '130']);

const md5 = (s: string): string => createHash('md5').update(s, 'utf8').digest('hex');

/**
 * A stand-in for the VSS BHYT gateway (egw.baohiemxahoi.gov.vn): `POST /api/token/take` and
 * `POST /api/egw/KQNhanLichSuKCB2024` with the live shapes (token expiry as an ISO time,
 * maKetQua "200" for a token), per-card result codes, and the faults a kiosk meets in a
 * hospital: 500s, a slow or dead gateway, garbled answers, tokens that expire early.
 */
export class BhytGatewaySim {
  private server: Server | null = null;
  private port = 0;
  private fault: BhytGatewayFault = 'none';
  private delayMs = 10_000;
  private location = 'http://127.0.0.1:9/elsewhere';
  private redirectStatus = 307;
  private hugeBytes = 200 * 1024 * 1024;
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly results = new Map<string, string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private counts = { tokenRequests: 0, lookups: 0, byCard: {} as Record<string, number>, hugeBytesSent: 0 };
  private last: Record<string, unknown> | null = null;

  private constructor(
    private readonly username: string,
    private readonly password: string,
    private readonly tokenTtlSec: number,
  ) {}

  static async start(opts: { username?: string; password?: string; tokenTtlSec?: number } = {}): Promise<BhytGatewaySim> {
    const sim = new BhytGatewaySim(opts.username ?? '79024_BV', opts.password ?? 'matkhau-thu', opts.tokenTtlSec ?? 3600);
    await sim.listen();
    return sim;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The fault set now ('none' after 'expire-token', which acts once). */
  get currentFault(): BhytGatewayFault {
    return this.fault;
  }

  /** The result code the gateway gives for this maThe (BHYT code or CCCD). Default '000'. */
  setResult(cardId: string, code: string): void {
    this.results.set(cardId, code);
  }

  /**
   * 'down' closes the listener (connection refused) and 'none' reopens it on the same port;
   * 'slow' holds every answer for delayMs (default 10 s); 'expire-token' kills every token
   * issued so far, so the next lookup gets HTTP 401 once and the client must take a new one.
   * Faults of a broken or hostile front end: 'redirect' answers every request `status` (307,
   * or 308…) to `location` (e.g. a RequestRecorder's URL); 'huge-body' answers 200 JSON that
   * never seems to end (`bytes`, default 200 MB, no Content-Length); 'wrong-content-type'
   * answers what it would, as text/html.
   */
  async setFault(f: BhytGatewayFault, opts: { delayMs?: number; location?: string; status?: number; bytes?: number } = {}): Promise<void> {
    if (opts.location !== undefined) this.location = opts.location;
    this.redirectStatus = opts.status ?? 307;
    this.hugeBytes = opts.bytes ?? 200 * 1024 * 1024;
    if (f === 'expire-token') {
      for (const t of this.tokens.values()) t.expiresAt = 0;
      this.fault = 'none';
    } else {
      this.fault = f;
    }
    this.delayMs = opts.delayMs ?? 10_000;
    if (f === 'down') await this.close();
    else await this.listen();
  }

  stats(): BhytGatewayStats {
    return {
      tokenRequests: this.counts.tokenRequests,
      lookups: this.counts.lookups,
      byCard: { ...this.counts.byCard },
      hugeBytesSent: this.counts.hugeBytesSent,
    };
  }

  /** The last lookup body as received (parsed), for checking hoTenCb, cccdCb, ngaySinh. */
  lastLookup(): Record<string, unknown> | null {
    return this.last && { ...this.last };
  }

  async stop(): Promise<void> {
    await this.close();
  }

  private async listen(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => void this.handle(req, res));
    this.port = await listenLoopback(server, this.port);
    this.server = server;
  }

  private async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const server = this.server;
    this.server = null;
    if (!server) return;
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeAllConnections(); // keep-alive and held (slow) requests go too, as when the host dies
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const raw = await readBody(req).catch(() => null);
    if (raw === null) return void res.destroy();
    if (req.method !== 'POST' || (url.pathname !== TOKEN_PATH && url.pathname !== LOOKUP_PATH))
      return send(res, 404, { message: 'No HTTP resource was found that matches the request URI.' });
    const body = parseBody(raw, req.headers['content-type']);
    if (url.pathname === TOKEN_PATH) this.counts.tokenRequests++;
    else this.countLookup(body);
    if (this.fault === 'slow') await this.sleep(this.delayMs);
    if (res.destroyed) return;
    if (this.fault === 'http-500') return send(res, 500, '<html><body><h1>500 Internal Server Error</h1></body></html>');
    if (this.fault === 'malformed-json') return send(res, 200, '{"maKetQua":"000","ghiChu":"Th');
    if (this.fault === 'redirect') {
      res
        .writeHead(this.redirectStatus, { location: new URL(url.pathname + url.search, this.location).href, 'content-type': 'text/html' })
        .end('<html><body>Moved</body></html>');
      return;
    }
    if (this.fault === 'huge-body') return this.huge(res);
    if (this.fault === 'wrong-content-type') res.setHeader('x-sim-content-type', 'text/html; charset=utf-8');
    if (url.pathname === TOKEN_PATH) return this.token(body, res);
    return this.lookup(url.searchParams, body, res);
  }

  /** A JSON answer that starts well and goes on for hugeBytes, written as fast as the client reads. */
  private huge(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    const chunk = Buffer.alloc(64 * 1024, 0x61); // 'a'
    let left = this.hugeBytes;
    const head = Buffer.from('{"maKetQua":"000","ghiChu":"');
    res.write(head);
    this.counts.hugeBytesSent += head.length;
    const pump = (): void => {
      while (left > 0 && !res.destroyed) {
        const n = Math.min(left, chunk.length);
        left -= n;
        this.counts.hugeBytesSent += n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end('"}');
    };
    pump();
  }

  private countLookup(body: Record<string, unknown> | null): void {
    this.counts.lookups++;
    if (body) this.last = body;
    const card = body?.['maThe'];
    if (typeof card === 'string') this.counts.byCard[card] = (this.counts.byCard[card] ?? 0) + 1;
  }

  private token(body: Record<string, unknown> | null, res: ServerResponse): void {
    const password = typeof body?.['password'] === 'string' ? body['password'].toLowerCase() : '';
    if (body?.['username'] !== this.username || password !== md5(this.password)) return send(res, 200, { maKetQua: '401', APIKey: null });
    const access = randomBytes(48).toString('base64');
    const expiresAt = Date.now() + this.tokenTtlSec * 1000;
    this.tokens.set(access, { idToken: randomUUID(), username: this.username, expiresAt });
    const t = this.tokens.get(access)!;
    send(res, 200, {
      maKetQua: '200',
      // The live gateway gives the expiry as an ISO time, not seconds as documented.
      APIKey: {
        access_token: access,
        id_token: t.idToken,
        token_type: 'Bearer',
        username: this.username,
        expires_in: new Date(expiresAt).toISOString(),
      },
    });
  }

  private lookup(q: URLSearchParams, body: Record<string, unknown> | null, res: ServerResponse): void {
    const t = this.tokens.get(q.get('token') ?? '');
    if (!t || t.idToken !== q.get('id_token') || t.expiresAt <= Date.now())
      return send(res, 401, { maKetQua: '401', ghiChu: 'Token không đúng hoặc đã hết hạn!' });
    if (q.get('username') !== t.username || (q.get('password') ?? '').toLowerCase() !== md5(this.password))
      return send(res, 200, { maKetQua: '401', ghiChu: GHI_CHU['401'] });
    const missing = LOOKUP_FIELDS.filter((k) => typeof body?.[k] !== 'string' || body[k] === '');
    const dob = body?.['ngaySinh'];
    if (!body || missing.length > 0 || typeof dob !== 'string' || !/^(\d{2}\/\d{2}\/\d{4}|\d{4})$/.test(dob)) {
      return send(res, 200, { maKetQua: '205', ghiChu: `${GHI_CHU['205']} ${missing.length ? `Thiếu ${missing.join(', ')}` : 'ngaySinh'}` });
    }
    const maThe = body['maThe'] as string;
    send(res, 200, cardAnswer(this.results.get(maThe) ?? '000', maThe, body['hoTen'] as string, dob));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}

/** A response body shaped like the live one, consistent with the code. */
function cardAnswer(code: string, maThe: string, hoTen: string, ngaySinh: string): Record<string, unknown> {
  const year = new Date().getFullYear();
  const ghiChu = GHI_CHU[code] ?? 'Mã kết quả không xác định';
  const empty = {
    maKetQua: code,
    ghiChu,
    maThe: null,
    hoTen: null,
    ngaySinh: null,
    gioiTinh: null,
    diaChi: null,
    maDKBD: null,
    cqBHXH: null,
    gtTheTu: null,
    gtTheDen: null,
    maKV: null,
    ngayDu5Nam: null,
    maSoBHXH: null,
    maTheCu: null,
    maTheMoi: null,
    gtTheTuMoi: null,
    gtTheDenMoi: null,
    maDKBDMoi: null,
    tenDKBDMoi: null,
    dsLichSuKCB2018: null,
    dsLichSuKT2018: null,
  };
  if (!WITH_CARD.has(code)) return empty;
  // A CCCD number stands for the card it is linked to; its 4th digit is century and sex (even: male).
  const cccd = /^\d{12}$/.test(maThe);
  const cardCode = cccd ? `DN479${maThe.slice(2)}` : maThe;
  const gioiTinh = cccd && Number(maThe[3]) % 2 === 1 ? 'Nữ' : 'Nam';
  const [from, to] = code === '010' || code === '003' ? [`01/01/${year - 1}`, `31/12/${year - 1}`] : [`01/01/${year}`, `31/12/${year + 1}`];
  const renewed = code === '003' || code === '004';
  const newCode = renewed ? `${cardCode.slice(0, 5)}${String((Number(cardCode.slice(-10)) + 1) % 1e10).padStart(10, '0')}` : null;
  return {
    ...empty,
    ghiChu: `${ghiChu} Họ tên: ${hoTen}, Ngày sinh: ${ngaySinh}, Giới tính : ${gioiTinh}! Nơi KCBBĐ: 79024; Hạn thẻ: ${from} - ${to}`,
    maThe: cardCode,
    hoTen: hoTen.toUpperCase(),
    ngaySinh,
    gioiTinh,
    diaChi: 'Phường Bến Nghé, Thành phố Hồ Chí Minh',
    maDKBD: '79024',
    cqBHXH: 'Bảo hiểm xã hội Thành phố Hồ Chí Minh',
    gtTheTu: from,
    gtTheDen: to,
    maKV: '',
    ngayDu5Nam: `01/01/${year + 2}`,
    maSoBHXH: cardCode.slice(-10),
    maTheCu: renewed ? cardCode : null,
    maTheMoi: newCode,
    gtTheTuMoi: renewed ? `01/01/${year}` : null,
    gtTheDenMoi: renewed ? `31/12/${year + 1}` : null,
    maDKBDMoi: renewed ? '79025' : null,
    tenDKBDMoi: renewed ? 'Bệnh viện Quận 1' : null,
    dsLichSuKCB2018: [
      {
        maHoSo: '7902400012345',
        maCSKCB: '79024',
        ngayVao: `${year}01150830`,
        ngayRa: `${year}01151030`,
        tenBenh: 'Viêm họng cấp',
        tinhTrang: '1',
        kqDieuTri: '1',
        lyDoVV: '1',
      },
    ],
    dsLichSuKT2018: [{ userKT: '79024_BV', maCSKCB: '79024', thoiGianKT: `${year}0115083000`, thongBao: GHI_CHU['000'] }],
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 64 * 1024) req.destroy(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** JSON or form-urlencoded, as different clients send either; anything else → null. */
function parseBody(raw: string, contentType: string | undefined): Record<string, unknown> | null {
  if (/json/i.test(contentType ?? '')) {
    try {
      const v: unknown = JSON.parse(raw);
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed || res.writableEnded) return;
  // Strings are what a broken front end sends (HTML error pages, cut-off JSON).
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  // 'wrong-content-type' marks the answer beforehand: the same JSON, labelled as a web page.
  const forced = res.getHeader('x-sim-content-type');
  res.removeHeader('x-sim-content-type');
  res.writeHead(status, {
    'content-type': typeof forced === 'string' ? forced : typeof body === 'string' && status >= 500 ? 'text/html' : 'application/json; charset=utf-8',
  });
  res.end(text);
}
