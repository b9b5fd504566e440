import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/**
 * The queue database's schema and its migrations. The schema itself guards numbering: unique
 * numbers and sequences per day, and triggers that refuse a number in a business day before the
 * highest one used (a clock stepped back cannot hand out A001 again).
 */
/** `PRAGMA user_version` of the schema below; older files are migrated when opened. */
const SCHEMA_VERSION = 3;

const CHECKINS_TABLE = `
CREATE TABLE checkins (
  id TEXT PRIMARY KEY,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  card TEXT NOT NULL,
  outcome TEXT,
  reason TEXT,
  department TEXT,
  ticket_kind TEXT,
  priority TEXT,
  face_verified INTEGER,
  face_score REAL,
  bhyt_code TEXT,
  bhyt_state TEXT,
  day TEXT,
  number TEXT,
  lane TEXT,
  seq INTEGER,
  ticket_state TEXT CHECK (ticket_state IN ('allocated', 'printed', 'void', 'unknown')),
  void_reason TEXT,
  steps_ms TEXT,
  total_ms INTEGER,
  chip TEXT,
  CHECK ((number IS NULL) = (seq IS NULL) AND (number IS NULL) = (lane IS NULL) AND (number IS NULL) = (day IS NULL))
)`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sequences (day TEXT NOT NULL, lane TEXT NOT NULL, last INTEGER NOT NULL, PRIMARY KEY (day, lane));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS checkins_one_number_a_day ON checkins (day, number) WHERE number IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS checkins_one_seq_a_day ON checkins (day, lane, seq) WHERE seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS checkins_started ON checkins (started_at);
-- A number is never given in a business day before the highest one numbering has used: with the
-- unique indexes, a clock stepped back cannot make the kiosk hand out A001 again.
CREATE TRIGGER IF NOT EXISTS checkins_day_never_back_insert BEFORE INSERT ON checkins
  WHEN NEW.day IS NOT NULL AND NEW.day < (SELECT value FROM meta WHERE key = 'high_day')
  BEGIN SELECT RAISE(ABORT, 'queue number in a business day before the highest one used'); END;
CREATE TRIGGER IF NOT EXISTS checkins_day_never_back_update BEFORE UPDATE OF day ON checkins
  WHEN NEW.day IS NOT NULL AND NEW.day IS NOT OLD.day AND NEW.day < (SELECT value FROM meta WHERE key = 'high_day')
  BEGIN SELECT RAISE(ABORT, 'queue number in a business day before the highest one used'); END;
CREATE TRIGGER IF NOT EXISTS meta_high_day_never_back BEFORE UPDATE ON meta
  WHEN NEW.key = 'high_day' AND NEW.value < OLD.value
  BEGIN SELECT RAISE(ABORT, 'the highest business day never goes back'); END;
CREATE TABLE IF NOT EXISTS bhyt_pending (
  checkin_id TEXT PRIMARY KEY,
  card_id TEXT NOT NULL,
  full_name TEXT NOT NULL,
  date_of_birth TEXT NOT NULL,
  queued_at TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0
);
`;

const CHECKIN_COLUMNS =
  'id, started_at, ended_at, card, outcome, reason, department, ticket_kind, priority, face_verified, face_score, bhyt_code, bhyt_state, day, number, lane, seq, ticket_state, void_reason, steps_ms, total_ms';

/** Lane and sequence of a number ("AU012" → AU, 12). */
function splitNumber(n: string): { lane: string; seq: number } | null {
  const m = /^(.*?)(\d+)$/.exec(n);
  return m ? { lane: m[1]!, seq: Number(m[2]) } : null;
}

/**
 * Brings a database to SCHEMA_VERSION. Version 1 (no user_version) had no lane/seq columns, no
 * `unknown` ticket state and no meta table: the table is rebuilt (SQLite cannot change a CHECK)
 * in one transaction, lane and seq taken from each number, and the highest day used recorded.
 * Version 2 had no `chip` column: it is added.
 */
function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  const hasCheckins = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkins'`).get() !== undefined;
  db.transaction(() => {
    if (!hasCheckins) {
      db.exec(CHECKINS_TABLE);
    } else if (version < 2) {
      db.exec(`DROP INDEX IF EXISTS checkins_one_number_a_day; DROP INDEX IF EXISTS checkins_started; ALTER TABLE checkins RENAME TO checkins_v1;`);
      db.exec(CHECKINS_TABLE);
      const rows = db.prepare(`SELECT * FROM checkins_v1`).all() as Array<Record<string, unknown>>;
      const insert = db.prepare(
        `INSERT INTO checkins (${CHECKIN_COLUMNS}) VALUES (${CHECKIN_COLUMNS.split(', ')
          .map((c) => '@' + c)
          .join(', ')})`,
      );
      for (const r of rows) {
        const split = typeof r['number'] === 'string' && r['day'] ? splitNumber(r['number']) : null;
        insert.run({
          ...Object.fromEntries(CHECKIN_COLUMNS.split(', ').map((c) => [c, r[c] ?? null])),
          day: split ? r['day'] : null,
          number: split ? r['number'] : null,
          lane: split?.lane ?? null,
          seq: split?.seq ?? null,
        });
      }
      db.exec(`DROP TABLE checkins_v1`);
    } else if (version < 3) {
      // Version 3: the chip read's facts (protocol, passive authentication, timings; JSON, no personal data).
      db.exec(`ALTER TABLE checkins ADD COLUMN chip TEXT`);
    }
    db.exec(SCHEMA);
    const highest = db
      .prepare<[], { d: string | null }>(`SELECT MAX(d) AS d FROM (SELECT MAX(day) AS d FROM checkins UNION ALL SELECT MAX(day) FROM sequences)`)
      .get()!.d;
    if (highest)
      db.prepare(`INSERT INTO meta (key, value) VALUES ('high_day', ?) ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)`).run(
        highest,
      );
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/** Opens (creating or migrating) the database: WAL, synchronous=FULL, a 0600 file. */
export function openDatabase(path: string): Database.Database {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  chmodSync(path, 0o600);
  db.pragma('journal_mode = WAL');
  // FULL: a committed number survives a power cut too, not only a killed process.
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 2000');
  // Deleted rows (a reconciled lookup's name and number) are overwritten, not left in free pages.
  db.pragma('secure_delete = ON');
  migrate(db);
  return db;
}
