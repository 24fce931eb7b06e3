// The notifier's store: callback subscriptions and where each destination is in the ledger's event log.
// Its own tables and migration bookkeeping, so it can share a database with the ledger or have its own.
import type { Kysely, Selectable } from 'kysely';
import { LedgerInputError } from './errors.js';
import { toIso } from './ledger.js';
import type { TimeInput } from './ledger-types.js';
import { applyMigrations, type Engine } from './migrations.js';
import { openDatabase, type OpenDatabaseOptions } from './open-database.js';
import { subscriptionMigrations, type DeliveryPositionsTable, type SubscriptionDatabase, type SubscriptionsTable } from './subscription-schema.js';

export interface StoredSubscription {
  readonly id: string;
  readonly url: string;
  /** Event type patterns ("deploy.*", "deploy.succeeded", "*"). */
  readonly events: readonly string[];
  readonly app: string | undefined;
  readonly env: string | undefined;
  readonly secret: string;
  readonly description: string | undefined;
  readonly createdBy: string;
  readonly createdAt: string;
}

export interface NewSubscription extends Omit<StoredSubscription, 'createdAt'> {
  readonly createdAt: TimeInput;
}

export const DELIVERY_STATES = ['active', 'failing'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export interface DeliveryPosition {
  readonly destination: string;
  readonly cursor: number;
  readonly state: DeliveryState;
  /** Deliveries given up on in a row (0 while active). */
  readonly failures: number;
  readonly lastError: string | undefined;
  readonly updatedAt: string;
}

export interface DeliveryPositionInput {
  readonly cursor: number;
  readonly state: DeliveryState;
  readonly failures: number;
  readonly lastError?: string | undefined;
  readonly at: TimeInput;
}

const orUndefined = <T>(value: T | null): T | undefined => (value === null ? undefined : value);

function toSubscription(row: Selectable<SubscriptionsTable>): StoredSubscription {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    app: orUndefined(row.app),
    env: orUndefined(row.env),
    secret: row.secret,
    description: orUndefined(row.description),
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

function toPosition(row: Selectable<DeliveryPositionsTable>): DeliveryPosition {
  return {
    destination: row.destination,
    cursor: Number(row.cursor),
    state: row.state === 'failing' ? 'failing' : 'active',
    failures: row.failures,
    lastError: orUndefined(row.last_error),
    updatedAt: row.updated_at,
  };
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export class SubscriptionStore {
  readonly engine: Engine;
  readonly #db: Kysely<SubscriptionDatabase>;
  readonly #schema: string | undefined;

  /** Use `openSubscriptionStore`. */
  constructor(db: Kysely<SubscriptionDatabase>, engine: Engine, schema: string | undefined) {
    this.#db = db;
    this.engine = engine;
    this.#schema = schema;
  }

  /** Brings the schema up to date; safe on every start. Returns the migrations it applied. */
  migrate(): Promise<string[]> {
    return applyMigrations(this.#db as unknown as Kysely<unknown>, subscriptionMigrations(this.engine), { table: 'notifier_migration', schema: this.#schema });
  }

  close(): Promise<void> {
    return this.#db.destroy();
  }

  /** Stores a subscription and its starting position in one transaction; false when the id is taken. */
  async createSubscription(s: NewSubscription, startCursor: number): Promise<boolean> {
    checkCursor(startCursor, 'startCursor');
    const createdAt = toIso(s.createdAt, 'createdAt');
    try {
      await this.#db.transaction().execute(async (trx) => {
        await trx
          .insertInto('notifier_subscriptions')
          .values({ id: s.id, url: s.url, events: JSON.stringify(s.events), app: s.app ?? null, env: s.env ?? null, secret: s.secret, description: s.description ?? null, created_by: s.createdBy, created_at: createdAt })
          .execute();
        await trx.deleteFrom('notifier_positions').where('destination', '=', s.id).execute();
        await trx.insertInto('notifier_positions').values({ destination: s.id, cursor: startCursor, state: 'active', failures: 0, last_error: null, updated_at: createdAt }).execute();
      });
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /** Deletes a subscription and its position; false when there was none. */
  async deleteSubscription(id: string): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const result = await trx.deleteFrom('notifier_subscriptions').where('id', '=', id).executeTakeFirst();
      await trx.deleteFrom('notifier_positions').where('destination', '=', id).execute();
      return Number(result.numDeletedRows) > 0;
    });
  }

  async subscription(id: string): Promise<StoredSubscription | undefined> {
    const row = await this.#db.selectFrom('notifier_subscriptions').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toSubscription(row);
  }

  /** Every subscription, oldest first. */
  async subscriptions(): Promise<StoredSubscription[]> {
    const rows = await this.#db.selectFrom('notifier_subscriptions').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toSubscription);
  }

  async position(destination: string): Promise<DeliveryPosition | undefined> {
    const row = await this.#db.selectFrom('notifier_positions').selectAll().where('destination', '=', destination).executeTakeFirst();
    return row === undefined ? undefined : toPosition(row);
  }

  async positions(): Promise<DeliveryPosition[]> {
    return (await this.#db.selectFrom('notifier_positions').selectAll().orderBy('destination').execute()).map(toPosition);
  }

  /**
   * Takes (or extends) the lease `key` for `owner` when it is free, expired or already `owner`'s; one
   * statement, so two notifiers racing for it cannot both win. Same rule as the ledger's leases.
   */
  async tryAcquireLease(key: string, owner: string, ttlMs: number, now: TimeInput): Promise<boolean> {
    const at = toIso(now, 'now');
    const expiresAt = new Date(Date.parse(at) + checkTtl(ttlMs)).toISOString();
    const row = await this.#db
      .insertInto('notifier_leases')
      .values({ key, owner, expires_at: expiresAt })
      .onConflict((oc) =>
        oc
          .column('key')
          .doUpdateSet((eb) => ({ owner: eb.ref('excluded.owner'), expires_at: eb.ref('excluded.expires_at') }))
          .where((eb) => eb.or([eb('notifier_leases.expires_at', '<=', at), eb('notifier_leases.owner', '=', owner)])),
      )
      .returning('owner')
      .executeTakeFirst();
    return row?.owner === owner;
  }

  /** Gives a lease up (on shutdown) so another notifier takes over at once. */
  async releaseLease(key: string, owner: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('notifier_leases').where('key', '=', key).where('owner', '=', owner).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  /** Records where a destination is (insert or replace). */
  async savePosition(destination: string, p: DeliveryPositionInput): Promise<void> {
    checkCursor(p.cursor, 'cursor');
    if (!Number.isInteger(p.failures) || p.failures < 0) throw new LedgerInputError('failures', `must be a whole number from 0, got ${p.failures}`);
    const row = { cursor: p.cursor, state: p.state, failures: p.failures, last_error: p.lastError?.slice(0, 2048) ?? null, updated_at: toIso(p.at, 'at') };
    await this.#db
      .insertInto('notifier_positions')
      .values({ destination, ...row })
      .onConflict((oc) => oc.column('destination').doUpdateSet(row))
      .execute();
  }
}

function checkTtl(ttlMs: number): number {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new LedgerInputError('ttlMs', `must be a whole number above 0, got ${ttlMs}`);
  return ttlMs;
}

function checkCursor(value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new LedgerInputError(field, `must be a whole number from 0, got ${value}`);
}

/** Opens the notifier's store at `url` (`sqlite:PATH`, a plain path, ':memory:' or `postgres://...`). Call `migrate()` next. */
export async function openSubscriptionStore(url: string, options: OpenDatabaseOptions = {}): Promise<SubscriptionStore> {
  const { db, engine, schema } = await openDatabase<SubscriptionDatabase>(url, options);
  return new SubscriptionStore(db, engine, schema);
}
