// The notifier's tables as Kysely sees them: callback subscriptions, and one delivery position per
// destination (a subscription or a configured notifier). Times are ISO-8601 UTC strings; lists are JSON text.
import type { Migration } from 'kysely';
import type { Kysely } from 'kysely';
import type { Engine } from './migrations.js';

export interface SubscriptionsTable {
  id: string;
  url: string;
  /** JSON array of event type patterns. */
  events: string;
  app: string | null;
  env: string | null;
  secret: string;
  description: string | null;
  created_by: string;
  created_at: string;
}

export interface DeliveryPositionsTable {
  destination: string;
  /** The seq of the last event of the ledger's log this destination is done with (delivered or not matching). */
  cursor: number;
  state: string;
  failures: number;
  last_error: string | null;
  updated_at: string;
}

/** Which notifier delivers (several may share the store; one delivers at a time). */
export interface NotifierLeasesTable {
  key: string;
  owner: string;
  expires_at: string;
}

export interface SubscriptionDatabase {
  notifier_subscriptions: SubscriptionsTable;
  notifier_positions: DeliveryPositionsTable;
  notifier_leases: NotifierLeasesTable;
}

/** Never edit a migration that has shipped; add the next one. */
export function subscriptionMigrations(engine: Engine): Record<string, Migration> {
  const cursorType = engine === 'sqlite' ? 'integer' : 'bigint';
  return {
    '0001-subscriptions': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('notifier_subscriptions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('url', 'text', (c) => c.notNull())
          .addColumn('events', 'text', (c) => c.notNull())
          .addColumn('app', 'text')
          .addColumn('env', 'text')
          .addColumn('secret', 'text', (c) => c.notNull())
          .addColumn('description', 'text')
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('notifier_positions')
          .addColumn('destination', 'text', (c) => c.primaryKey())
          .addColumn('cursor', cursorType, (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('failures', 'integer', (c) => c.notNull())
          .addColumn('last_error', 'text')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0002-leases': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('notifier_leases')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('owner', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
  };
}
