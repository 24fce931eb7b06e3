// Versioned schema migrations, each written once with Kysely's schema builder and valid on both engines.
// Kysely's Migrator records what ran (ledger_migration) and holds a lock while it runs, so two conductors
// starting together migrate once. Never edit a migration that has shipped; add the next one.
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { LedgerMigrationError } from './errors.js';

export type Engine = 'sqlite' | 'postgres';

function ledgerMigrations(engine: Engine): Record<string, Migration> {
  // The one difference between the engines: how a table gets an increasing row number (the replay cursor).
  const serialType = engine === 'sqlite' ? 'integer' : 'bigint';
  return {
    '0001-initial': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('ledger_events')
          .addColumn('seq', serialType, (c) => (engine === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey().generatedAlwaysAsIdentity()))
          .addColumn('id', 'text', (c) => c.notNull().unique())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('deployment_id', 'text')
          .addColumn('app', 'text')
          .addColumn('env', 'text')
          .addColumn('time', 'text', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('ledger_events_time').on('ledger_events').column('time').execute();
        await db.schema.createIndex('ledger_events_deployment').on('ledger_events').column('deployment_id').execute();

        await db.schema
          .createTable('ledger_deployments')
          .addColumn('seq', serialType, (c) => (engine === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey().generatedAlwaysAsIdentity()))
          .addColumn('id', 'text', (c) => c.notNull().unique())
          .addColumn('app', 'text', (c) => c.notNull())
          .addColumn('env', 'text', (c) => c.notNull())
          .addColumn('ref', 'text', (c) => c.notNull())
          .addColumn('sha', 'text')
          .addColumn('requested_by', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text')
          .addColumn('finished_at', 'text')
          .addColumn('options', 'text', (c) => c.notNull())
          .addColumn('reason', 'text')
          .execute();
        await db.schema.createIndex('ledger_deployments_app_env_state').on('ledger_deployments').columns(['app', 'env', 'state']).execute();
        // At most one running deployment per app and environment, enforced by the database itself.
        await db.schema
          .createIndex('ledger_deployments_one_running')
          .on('ledger_deployments')
          .columns(['app', 'env'])
          .unique()
          .where(sql.ref('state'), '=', sql.lit('running'))
          .execute();

        await db.schema
          .createTable('ledger_host_results')
          .addColumn('deployment_id', 'text', (c) => c.notNull())
          .addColumn('host', 'text', (c) => c.notNull())
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('release', 'text')
          .addColumn('duration_ms', 'integer')
          .addColumn('error', 'text')
          .addColumn('at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('ledger_host_results_pk', ['deployment_id', 'host'])
          .execute();

        await db.schema
          .createTable('ledger_task_logs')
          .addColumn('deployment_id', 'text', (c) => c.notNull())
          .addColumn('host', 'text', (c) => c.notNull())
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('stream', 'text', (c) => c.notNull())
          .addColumn('line', 'text', (c) => c.notNull())
          .addColumn('at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('ledger_task_logs_pk', ['deployment_id', 'host', 'seq'])
          .execute();

        await db.schema
          .createTable('ledger_releases')
          .addColumn('app', 'text', (c) => c.notNull())
          .addColumn('env', 'text', (c) => c.notNull())
          .addColumn('host', 'text', (c) => c.notNull())
          .addColumn('release', 'text', (c) => c.notNull())
          .addColumn('ref', 'text', (c) => c.notNull())
          .addColumn('sha', 'text')
          .addColumn('at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('ledger_releases_pk', ['app', 'env', 'host'])
          .execute();

        await db.schema
          .createTable('ledger_locks')
          .addColumn('env', 'text', (c) => c.notNull())
          .addColumn('app', 'text', (c) => c.notNull())
          .addColumn('locked_by', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('ledger_locks_pk', ['env', 'app'])
          .execute();

        await db.schema
          .createTable('ledger_builds')
          .addColumn('repo', 'text', (c) => c.notNull())
          .addColumn('sha', 'text', (c) => c.notNull())
          .addColumn('job', 'text', (c) => c.notNull())
          .addColumn('number', 'integer', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('url', 'text')
          .addColumn('at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('ledger_builds_pk', ['repo', 'sha', 'job', 'number'])
          .execute();

        await db.schema
          .createTable('ledger_leases')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('owner', 'text', (c) => c.notNull())
          .addColumn('acquired_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
  };
}

/** Runs every ledger migration not yet applied, in name order. Returns the names it applied (none on a current ledger). */
export function runMigrations(db: Kysely<unknown>, engine: Engine, schema: string | undefined): Promise<string[]> {
  return applyMigrations(db, ledgerMigrations(engine), { table: 'ledger_migration', schema });
}

/**
 * Runs the migrations of one store (its own bookkeeping table `table`, lock table `${table}_lock`), so
 * stores sharing a database migrate independently. Returns the names it applied.
 */
export async function applyMigrations(db: Kysely<unknown>, migrations: Record<string, Migration>, options: { table: string; schema: string | undefined }): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: options.table,
    migrationLockTableName: `${options.table}_lock`,
    ...(options.schema === undefined ? {} : { migrationTableSchema: options.schema }),
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  const failed = results.find((r) => r.status === 'Error');
  if (error !== undefined) {
    const problem = error instanceof Error ? error.message : String(error);
    throw new LedgerMigrationError(failed?.migrationName, problem, { cause: error });
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
