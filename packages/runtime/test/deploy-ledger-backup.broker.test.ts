// The ledger's backup and restore, exactly as docs/operating.md tells an operator to do them: the
// command blocks marked `<!-- tested: NAME -->` there are read from the docs and run, on a real SQLite
// ledger file and on the real PostgreSQL. Only the places differ: the docs' paths and database URL are
// pointed at a temp dir and a scratch database. `systemctl stop/start deploybus-conductor` become closing
// and reopening the ledger, as the conductor would; `chown` (it needs the deploybus user) is left out.
// Scenario: a ledger with history, a lock and a release is backed up while open; then it changes; the
// restore brings back exactly the state at the backup. Named .broker because it needs the real
// PostgreSQL, like packages/store's PostgreSQL tests.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger, type Ledger } from '@deploybus/store';
import { REPO_ROOT } from './support/deploy-layout.js';

const run = promisify(execFile);
const POSTGRES_URL = process.env['DEPLOYBUS_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The docs' names for things, replaced by the test's own. */
const DOC_LEDGER_DIR = '/var/lib/deploybus/conductor';
const DOC_BACKUP_DIR = '/var/backups/deploybus';
const DOC_POSTGRES_URL = 'postgres://conductor@db.example.com:5432/deploybus';

/** The lines of the fenced block after `<!-- tested: name -->` in docs/operating.md. */
async function documentedBlock(name: string): Promise<string[]> {
  const docs = await readFile(join(REPO_ROOT, 'docs', 'operating.md'), 'utf8');
  const match = new RegExp(`<!-- tested: ${name} -->\\s*\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(docs);
  if (match?.[1] === undefined) throw new Error(`docs/operating.md has no block marked <!-- tested: ${name} -->`);
  return match[1].split('\n').filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
}

interface Places {
  readonly ledgerDir: string;
  readonly backupDir: string;
  readonly postgresUrl?: string;
}

/** Runs a documented block: shell lines through sh, the conductor's stop and start through the callbacks. */
async function runBlock(name: string, places: Places, conductor: { stop: () => Promise<void>; start: () => Promise<void> }): Promise<string[]> {
  const ran: string[] = [];
  for (const documented of await documentedBlock(name)) {
    const line = documented.replace(/\s+#.*$/, '');
    if (/^systemctl stop deploybus-conductor\b/.test(line)) await conductor.stop();
    else if (/^systemctl start deploybus-conductor\b/.test(line)) await conductor.start();
    else if (/^chown /.test(line)) continue; // needs the deploybus user, which this machine does not have
    else {
      let command = line.replaceAll(DOC_LEDGER_DIR, places.ledgerDir).replaceAll(DOC_BACKUP_DIR, places.backupDir);
      if (places.postgresUrl !== undefined) command = command.replaceAll(DOC_POSTGRES_URL, places.postgresUrl);
      const { stdout } = await run('sh', ['-ec', command], { timeout: 60_000 });
      ran.push(`${line}\n${stdout}`);
    }
  }
  return ran;
}

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:05:00.000Z';

/** History, a lock and a release: what the backup must carry. */
async function fill(ledger: Ledger): Promise<void> {
  await ledger.migrate();
  await ledger.createDeployment({ id: 'd-backed-up-1', app: 'shop', env: 'production', ref: 'v1.4.1', requestedBy: 'ada', createdAt: T0 });
  await ledger.markRunning('d-backed-up-1', T0);
  await ledger.finish('d-backed-up-1', { state: 'succeeded', at: T0 });
  await ledger.lock({ env: 'production', by: 'bob', reason: 'incident 311', at: T0 });
  await ledger.recordRelease({ app: 'shop', env: 'production', host: 'web1', release: '20260101000000000-v1.4.1', ref: 'v1.4.1', at: T0 });
}

/** What happens after the backup, and must be gone after the restore. */
async function change(ledger: Ledger): Promise<void> {
  await ledger.createDeployment({ id: 'd-after-backup', app: 'shop', env: 'production', ref: 'v1.5.0', requestedBy: 'ada', createdAt: T1 });
  await ledger.unlock('production', 'bob');
}

async function expectStateAtBackup(ledger: Ledger): Promise<void> {
  expect(await ledger.migrate(), 'the restored schema is current').toEqual([]);
  expect((await ledger.history({ limit: 100 })).map((d) => [d.id, d.state])).toEqual([['d-backed-up-1', 'succeeded']]);
  expect(await ledger.deployment('d-after-backup')).toBeUndefined();
  expect((await ledger.locks()).map((l) => [l.env, l.by, l.reason])).toEqual([['production', 'bob', 'incident 311']]);
  expect((await ledger.releases({ app: 'shop' })).map((r) => [r.host, r.ref])).toEqual([['web1', 'v1.4.1']]);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deploybus-ledger-backup-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('docs/operating.md: backing up and restoring the SQLite ledger', () => {
  it('an online .backup of the open ledger, checked, and restored with the conductor stopped, brings back the state at the backup', async () => {
    const places = { ledgerDir: join(dir, 'sqlite', 'conductor'), backupDir: join(dir, 'sqlite', 'backups') };
    await mkdir(places.backupDir, { recursive: true });
    const url = `sqlite:${join(places.ledgerDir, 'ledger.db')}`;
    let ledger = await openLedger(url);
    try {
      await fill(ledger);
      // The backup is taken while the ledger is open (WAL mode), as with a running conductor.
      const backup = await runBlock('sqlite-backup', places, { stop: () => Promise.reject(new Error('no stop in a backup')), start: () => Promise.resolve() });
      expect(backup.join('\n')).toMatch(/integrity_check[^\n]*\nok\n/);
      await change(ledger);
      expect(await ledger.deployment('d-after-backup')).toBeDefined();

      await runBlock('sqlite-restore', places, {
        stop: () => ledger.close(),
        start: async () => {
          ledger = await openLedger(url);
        },
      });
      await expectStateAtBackup(ledger);
    } finally {
      await ledger.close();
    }
  });
});

describe('docs/operating.md: backing up and restoring the PostgreSQL ledger', () => {
  // A scratch database on the test server (created through database "test", dropped afterwards): the
  // documented pg_restore --clean works on a whole database, so it must not be one others' tests use.
  const scratch = `deploybus_backup_${randomBytes(4).toString('hex')}`;
  const admin = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (error) {
      throw new Error(`PostgreSQL is not reachable at ${POSTGRES_URL}: ${error instanceof Error ? error.message : String(error)}. Start it, or set DEPLOYBUS_TEST_POSTGRES_URL.`, { cause: error });
    }
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const scratchUrl = (): string => {
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${scratch}`;
    return url.toString();
  };

  beforeAll(async () => {
    await admin((client) => client.query(`create database "${scratch}"`));
  });
  afterAll(async () => {
    await admin((client) => client.query(`drop database if exists "${scratch}" with (force)`));
  });

  it('pg_dump of the live ledger, restored with pg_restore --clean while the conductors are stopped, brings back the state at the backup', async () => {
    const places = { ledgerDir: join(dir, 'pg', 'conductor'), backupDir: join(dir, 'pg', 'backups'), postgresUrl: scratchUrl() };
    await mkdir(places.backupDir, { recursive: true });
    let ledger = await openLedger(places.postgresUrl);
    try {
      await fill(ledger);
      await runBlock('postgres-backup', places, { stop: () => Promise.reject(new Error('no stop in a backup')), start: () => Promise.resolve() });
      await change(ledger);
      expect(await ledger.deployment('d-after-backup')).toBeDefined();

      await runBlock('postgres-restore', places, {
        stop: () => ledger.close(),
        start: async () => {
          ledger = await openLedger(places.postgresUrl);
        },
      });
      await expectStateAtBackup(ledger);
    } finally {
      await ledger.close();
    }
  });
});
