// @deploybus/store: the conductor's ledger, on embedded SQLite or PostgreSQL, each query written once.
export { openLedger, type OpenLedgerOptions } from './open-ledger.js';
export { Ledger } from './ledger.js';
export { parseLedgerUrl, type LedgerTarget } from './ledger-url.js';
export type { Engine } from './migrations.js';
export { LedgerInputError, LedgerMigrationError, LedgerUnreachableError, LedgerUrlError } from './errors.js';
export * from './ledger-types.js';
export { openDatabase, type OpenDatabaseOptions, type OpenedDatabase } from './open-database.js';
export {
  openSubscriptionStore,
  SubscriptionStore,
  DELIVERY_STATES,
  type DeliveryPosition,
  type DeliveryPositionInput,
  type DeliveryState,
  type NewSubscription,
  type StoredSubscription,
} from './subscription-store.js';
