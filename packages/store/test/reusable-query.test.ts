// ReusableQuery (compiled once, run with new values) and the SQLite statement reuse under it.
import { describe, expect, it } from 'vitest';
import { sql, type Kysely } from 'kysely';
import Database from 'better-sqlite3';
import { openDatabase, reusingStatements } from '../src/open-database.js';
import { ReusableQuery } from '../src/reusable-query.js';

interface Db {
  notes: { id: string; body: string | null; n: number };
}

async function notesDb(): Promise<Kysely<Db>> {
  const { db } = await openDatabase<Db>(':memory:');
  await sql`create table notes (id text primary key, body text, n integer not null)`.execute(db);
  return db;
}

describe('ReusableQuery', () => {
  it('runs the compiled statement with each call\'s values, literals kept, nulls bound', async () => {
    const db = await notesDb();
    try {
      const upsert = new ReusableQuery<{ id: string; body: string | null }>(['id', 'body'], (v) =>
        db
          .insertInto('notes')
          .values({ ...v, n: 7 })
          .onConflict((oc) => oc.column('id').doUpdateSet({ body: v.body, n: 8 })),
      );
      expect(Number((await upsert.run(db, { id: 'a', body: 'first' })).numAffectedRows)).toBe(1);
      await upsert.run(db, { id: 'b', body: null });
      await upsert.run(db, { id: 'a', body: 'second' });
      expect(await db.selectFrom('notes').selectAll().orderBy('id').execute()).toEqual([
        { id: 'a', body: 'second', n: 8 },
        { id: 'b', body: null, n: 7 },
      ]);
    } finally {
      await db.destroy();
    }
  });

  it('refuses a query that does not bind every value it names', async () => {
    const db = await notesDb();
    try {
      expect(() => new ReusableQuery<{ id: string; body: string }>(['id', 'body'], (v) => db.insertInto('notes').values({ id: v.id, body: 'fixed', n: 1 }))).toThrow(/values body are not bound parameters/);
    } finally {
      await db.destroy();
    }
  });
});

describe('SQLite statement reuse', () => {
  it('hands out the kept statement, and a fresh one while the kept one is still being iterated', () => {
    const database = new Database(':memory:');
    try {
      const statements = reusingStatements(database);
      database.exec("create table notes (id text); insert into notes values ('a'), ('b')");
      const first = statements.prepare('select id from notes order by id');
      expect(statements.prepare('select id from notes order by id')).toBe(first);
      const seen: unknown[] = [];
      for (const row of first.iterate([])) {
        seen.push(row);
        const again = statements.prepare('select id from notes order by id');
        expect(again).not.toBe(first);
        expect(again.all([])).toEqual([{ id: 'a' }, { id: 'b' }]);
      }
      expect(seen).toEqual([{ id: 'a' }, { id: 'b' }]);
      expect(statements.prepare('select id from notes order by id')).toBe(first);
    } finally {
      database.close();
    }
  });
});
