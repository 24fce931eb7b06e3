// Opens a ledger on the engine its URL names and checks that the database answers, so a bad URL or a
// database that is down is one clear error at start, not a stack trace at the first deploy.
import { Ledger } from './ledger.js';
import type { LedgerDatabase } from './ledger-schema.js';
import { openDatabase, type OpenDatabaseOptions } from './open-database.js';

export type OpenLedgerOptions = OpenDatabaseOptions;

/** Opens the ledger at `url` (`sqlite:PATH`, a plain path, ':memory:' or `postgres://...`). Call `migrate()` next. */
export async function openLedger(url: string, options: OpenLedgerOptions = {}): Promise<Ledger> {
  const { db, engine, schema } = await openDatabase<LedgerDatabase>(url, options);
  return new Ledger(db, engine, schema);
}
