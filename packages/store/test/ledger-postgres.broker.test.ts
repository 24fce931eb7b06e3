// The shared ledger suite on the real PostgreSQL, each run in a fresh random schema dropped afterwards,
// plus what only a server shows: two pools racing for one lease, and the errors for an unreachable server.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerUnreachableError, openLedger, type Ledger } from '../src/index.js';
import { ledgerSuite } from './support/ledger-suite.js';

const POSTGRES_URL = process.env['DEPLOYBUS_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Throws a sentence unless PostgreSQL answers: these tests fail, never skip, without their database. */
async function requirePostgres(): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    const ci = process.env['CI'] === 'true' ? ' (CI=true: database tests never skip)' : '';
    throw new Error(
      `PostgreSQL is not reachable at ${POSTGRES_URL}${ci}: ${error instanceof Error ? error.message : String(error)}. ` +
        'Start it (e.g. `pg_ctlcluster 15 main start`) and create the database with `createdb -U postgres test`, or set DEPLOYBUS_TEST_POSTGRES_URL.',
      { cause: error },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

const randomSchema = (): string => `ledger_test_${randomBytes(6).toString('hex')}`;

beforeAll(requirePostgres);

ledgerSuite(
  'PostgreSQL',
  async () => {
    const schema = randomSchema();
    const ledger = await openLedger(POSTGRES_URL, { schema });
    return {
      ledger,
      openAnother: () => openLedger(POSTGRES_URL, { schema }),
      cleanup: async () => {
        await ledger.close();
        await dropSchema(schema);
      },
    };
  },
  true,
);

describe('ledger on PostgreSQL, concurrency', () => {
  const schema = randomSchema();
  let ledgers: Ledger[] = [];
  beforeAll(async () => {
    ledgers = [await openLedger(POSTGRES_URL, { schema, maxConnections: 4 }), await openLedger(POSTGRES_URL, { schema, maxConnections: 4 })];
    // Both conductors migrate at once; the migration lock lets exactly one apply it.
    const applied = await Promise.all(ledgers.map((l) => l.migrate()));
    expect(applied.flat()).toEqual(['0001-initial']);
  });
  afterAll(async () => {
    await Promise.all(ledgers.map((l) => l.close()));
    await dropSchema(schema);
  });

  it('lets exactly one of two pools racing for a lease win, every time', async () => {
    const [a, b] = ledgers;
    if (a === undefined || b === undefined) throw new Error('two ledgers expected');
    const now = new Date();
    for (let round = 0; round < 20; round += 1) {
      const key = `race-${round}-${randomBytes(3).toString('hex')}/prod`;
      const attempts = await Promise.all([
        ...[0, 1, 2, 3].map(() => a.tryAcquireLease(key, 'conductor-a', 30_000, now)),
        ...[0, 1, 2, 3].map(() => b.tryAcquireLease(key, 'conductor-b', 30_000, now)),
      ]);
      const winner = (await a.leaseOf(key))?.owner;
      expect(winner === 'conductor-a' || winner === 'conductor-b').toBe(true);
      // Every attempt by the winner succeeds (re-acquiring extends its own lease); every attempt by the other fails.
      expect(attempts.slice(0, 4).every((won) => won === (winner === 'conductor-a'))).toBe(true);
      expect(attempts.slice(4).every((won) => won === (winner === 'conductor-b'))).toBe(true);
    }
  });

  it('lets a reader following eventsAfter see every event exactly once while two pools append', async () => {
    const [a, b] = ledgers;
    if (a === undefined || b === undefined) throw new Error('two ledgers expected');
    const tag = randomBytes(4).toString('hex');
    let cursor = (await a.eventsAfter(0, 10_000)).cursor;
    const seen: string[] = [];
    let writing = true;
    const reader = (async () => {
      for (;;) {
        const done = !writing;
        const page = await a.eventsAfter(cursor, 500);
        seen.push(...page.events.map((e) => e.id));
        cursor = page.cursor;
        if (done && page.events.length === 0) return;
      }
    })();
    const writer = async (ledger: Ledger, name: string): Promise<void> => {
      for (let batch = 0; batch < 20; batch += 1) {
        const events = Array.from({ length: 1 + (batch % 5) }, (_, i) => ({ id: `${tag}-${name}-${batch}-${i}`, type: 'task.log', time: new Date(), payload: { batch } }));
        await ledger.appendEvents(events);
      }
    };
    await Promise.all([writer(a, 'a'), writer(b, 'b'), writer(a, 'c'), writer(b, 'd')]);
    writing = false;
    await reader;
    const mine = seen.filter((id) => id.startsWith(tag));
    expect(new Set(mine).size).toBe(mine.length);
    expect(mine).toHaveLength(4 * (4 * (1 + 2 + 3 + 4 + 5)));
  });

  it('starts only one of two deployments of one app and environment raced from two pools', async () => {
    const [a, b] = ledgers;
    if (a === undefined || b === undefined) throw new Error('two ledgers expected');
    for (let round = 0; round < 10; round += 1) {
      const app = `app-${randomBytes(4).toString('hex')}`;
      await a.createDeployment({ id: `${app}-one`, app, env: 'prod', ref: 'v1', requestedBy: 'ada', createdAt: new Date() });
      await b.createDeployment({ id: `${app}-two`, app, env: 'prod', ref: 'v2', requestedBy: 'bob', createdAt: new Date() });
      const started = await Promise.all([a.markRunning(`${app}-one`, new Date()), b.markRunning(`${app}-two`, new Date())]);
      expect(started.filter(Boolean)).toHaveLength(1);
    }
  });
});

describe('opening a PostgreSQL ledger that cannot be reached', () => {
  it('names a refused connection', async () => {
    const error: unknown = await openLedger('postgres://postgres:hunter2@127.0.0.1:1/test').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LedgerUnreachableError);
    expect((error as Error).message).toMatch(/cannot reach the PostgreSQL ledger at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test: connection refused/);
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('names a database that does not exist', async () => {
    const url = POSTGRES_URL.replace(/\/[^/]*$/, `/no_such_db_${randomBytes(4).toString('hex')}`);
    await expect(openLedger(url)).rejects.toThrow(/does not exist/);
  });
});
