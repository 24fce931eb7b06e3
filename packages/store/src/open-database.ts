// Opens a Kysely database on the engine a URL names (embedded SQLite or PostgreSQL) and checks that it
// answers, so a bad URL or a database that is down is one clear error at start. Shared by every store in
// this package (the ledger, the notifier's subscriptions), so each opens and fails the same way.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase } from 'kysely';
import pg from 'pg';
import { LedgerInputError, LedgerUnreachableError, maskUrl } from './errors.js';
import { parseLedgerUrl } from './ledger-url.js';
import type { Engine } from './migrations.js';

export interface OpenDatabaseOptions {
  /** PostgreSQL only: keep the tables in this schema (created if missing), e.g. to share a database. */
  readonly schema?: string | undefined;
  /** PostgreSQL only: most connections in the pool. Default 10. */
  readonly maxConnections?: number | undefined;
  /** PostgreSQL only: how long to wait for a connection. Default 5000 ms. */
  readonly connectTimeoutMs?: number | undefined;
}

export interface OpenedDatabase<DB> {
  readonly db: Kysely<DB>;
  readonly engine: Engine;
  /** PostgreSQL: the schema the tables live in; SQLite: undefined. */
  readonly schema: string | undefined;
}

/** Prepared SQLite statements kept for reuse, by their SQL; the oldest goes when one more is needed. */
const STATEMENT_CACHE_SIZE = 200;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const PG_INT8 = 20;

/** Opens `url` (`sqlite:PATH`, a plain path, ':memory:' or `postgres://...`); the caller migrates next. */
export async function openDatabase<DB>(url: string, options: OpenDatabaseOptions = {}): Promise<OpenedDatabase<DB>> {
  const target = parseLedgerUrl(url);
  if (target.engine === 'sqlite') {
    if (options.schema !== undefined) throw new LedgerInputError('schema', 'schemas are a PostgreSQL feature; leave it out for SQLite');
    return { db: openSqlite<DB>(target.path), engine: 'sqlite', schema: undefined };
  }
  return openPostgres<DB>(target.url, options);
}

function openSqlite<DB>(path: string): Kysely<DB> {
  let database: Database.Database;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    database = new Database(path);
    database.pragma('busy_timeout = 5000');
    if (path !== ':memory:') database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.prepare('select 1').get();
  } catch (error) {
    const problem = error instanceof Error ? error.message : String(error);
    throw new LedgerUnreachableError('sqlite', path, `${problem} (is the path a writable file, not a directory?)`, { cause: error });
  }
  return new Kysely<DB>({ dialect: new SqliteDialect({ database: reusingStatements(database) }) });
}

/**
 * Kysely prepares every query it runs, and better-sqlite3 compiles the SQL each time; a conductor runs
 * the same few statements for every event it hears. Statements are kept by their SQL and run again. A
 * statement still busy (a result being iterated) is never handed out twice: a fresh one is prepared.
 */
export function reusingStatements(database: Database.Database): SqliteDatabase {
  const statements = new Map<string, Database.Statement>();
  return {
    close: () => {
      statements.clear();
      database.close();
    },
    prepare: (sql) => {
      const kept = statements.get(sql);
      if (kept !== undefined && !kept.busy) return kept;
      const statement = database.prepare(sql);
      if (kept === undefined) {
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

function describePgError(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : String(error);
  switch (e?.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is PostgreSQL running and listening there?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case '28P01':
    case '28000':
      return `authentication failed: ${message}`;
    case '3D000':
      return `${message} (create it with createdb)`;
    default:
      return message;
  }
}

async function openPostgres<DB>(url: string, options: OpenDatabaseOptions): Promise<OpenedDatabase<DB>> {
  const target = maskUrl(url);
  const schema = options.schema;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new LedgerInputError('schema', `${JSON.stringify(schema)} is not a plain schema name (lower-case letters, digits, _)`);
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    // bigint columns (the replay cursor, counts) as numbers; they stay far below 2^53.
    types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === PG_INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? 'text'))) as typeof pg.types.getTypeParser },
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  // An idle connection that the server drops must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  let tableSchema: string;
  try {
    const client = await pool.connect();
    try {
      if (schema !== undefined) await client.query(`create schema if not exists "${schema}"`);
      const result = await client.query<{ schema: string | null }>('select current_schema() as schema');
      const current = result.rows[0]?.schema ?? null;
      if (current === null) throw new LedgerUnreachableError('postgres', target, 'no schema to create tables in (the search_path is empty)');
      tableSchema = current;
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => undefined);
    if (error instanceof LedgerUnreachableError) throw error;
    throw new LedgerUnreachableError('postgres', target, describePgError(error), { cause: error });
  }
  return { db: new Kysely<DB>({ dialect: new PostgresDialect({ pool }) }), engine: 'postgres', schema: tableSchema };
}
