// The ledger: every query written once with Kysely, run on SQLite or PostgreSQL alike.
import { sql, type Insertable, type Kysely, type Selectable, type Transaction } from 'kysely';
import { LedgerInputError } from './errors.js';
import type { DeploymentsTable, HostResultsTable, LedgerDatabase, ReleasesTable } from './ledger-schema.js';
import type {
  BuildInput,
  Deployment,
  DeploymentState,
  DeploymentWithHosts,
  EventFilter,
  EventPage,
  FinishedState,
  HistoryQuery,
  HostResult,
  HostResultInput,
  Lease,
  LedgerEventInput,
  Lock,
  LockInput,
  LockResult,
  LogLine,
  LogLineInput,
  LogQuery,
  NewDeployment,
  Release,
  ReleaseInput,
  ReleaseMatrix,
  TimeInput,
  UnlockResult,
} from './ledger-types.js';
import { runMigrations, type Engine } from './migrations.js';
import { ReusableQuery } from './reusable-query.js';

/** Rows per INSERT: far below SQLite's and PostgreSQL's limits on bound parameters. */
const INSERT_CHUNK = 500;
const MAX_LIMIT = 10_000;
/** PostgreSQL advisory lock key taken while appending events ('dbev' in ASCII; any constant would do). */
const EVENT_APPEND_LOCK = 0x6462_6576;

/** Which earlier states each final state may be reached from; anything finished stays finished. */
const FINISH_FROM: Record<FinishedState, DeploymentState[]> = {
  succeeded: ['running'],
  failed: ['queued', 'running'],
  cancelled: ['queued', 'running'],
  superseded: ['queued'],
};

export function toIso(value: TimeInput, field: string): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new LedgerInputError(field, `${JSON.stringify(String(value))} is not a time`);
  return date.toISOString();
}

function checkLimit(value: number, field: string, max = MAX_LIMIT): number {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new LedgerInputError(field, `must be a whole number from 0 to ${max}, got ${value}`);
  return value;
}

const orUndefined = <T>(value: T | null): T | undefined => (value === null ? undefined : value);

/** The key seen most often (ties: the one seen most recently); undefined for none. */
function mostCommon(seen: readonly { readonly key: string; readonly at: string }[]): string | undefined {
  const counts = new Map<string, { count: number; latest: string }>();
  for (const { key, at } of seen) {
    const before = counts.get(key);
    counts.set(key, { count: (before?.count ?? 0) + 1, latest: before === undefined || at > before.latest ? at : before.latest });
  }
  let best: string | undefined;
  let bestCount = { count: 0, latest: '' };
  for (const [key, c] of counts) {
    if (c.count > bestCount.count || (c.count === bestCount.count && c.latest > bestCount.latest)) {
      best = key;
      bestCount = c;
    }
  }
  return best;
}
const json = (value: unknown): string => JSON.stringify(value ?? null);
const parse = (text: string): unknown => JSON.parse(text) as unknown;

function toDeployment(row: Selectable<DeploymentsTable>): Deployment {
  return {
    id: row.id,
    app: row.app,
    env: row.env,
    ref: row.ref,
    sha: orUndefined(row.sha),
    requestedBy: row.requested_by,
    state: row.state as DeploymentState,
    createdAt: row.created_at,
    startedAt: orUndefined(row.started_at),
    finishedAt: orUndefined(row.finished_at),
    options: parse(row.options),
    reason: orUndefined(row.reason),
  };
}

function toRelease(row: Selectable<ReleasesTable>): Release {
  return { app: row.app, env: row.env, host: row.host, release: row.release, ref: row.ref, sha: orUndefined(row.sha), at: row.at };
}

function toLock(row: { env: string; app: string; locked_by: string; reason: string; at: string }): Lock {
  return { env: row.env, app: row.app === '' ? undefined : row.app, by: row.locked_by, reason: row.reason, at: row.at };
}

type EventRow = Insertable<LedgerDatabase['ledger_events']> & Record<string, unknown>;

type HostResultRow = HostResultsTable & Record<string, unknown>;
type ReleaseRow = ReleasesTable & Record<string, unknown>;

/** The writes made for every event, host result and release report: compiled once per ledger. */
function hotWrites(db: Kysely<LedgerDatabase>) {
  return {
    event: new ReusableQuery<EventRow>(['id', 'type', 'deployment_id', 'app', 'env', 'time', 'payload'], (row) => db.insertInto('ledger_events').values(row).onConflict((oc) => oc.column('id').doNothing())),
    hostResult: new ReusableQuery<HostResultRow>(['deployment_id', 'host', 'outcome', 'release', 'duration_ms', 'error', 'at'], (row) => {
      const { deployment_id: _id, host: _host, ...values } = row;
      return db
        .insertInto('ledger_host_results')
        .values(row)
        .onConflict((oc) => oc.columns(['deployment_id', 'host']).doUpdateSet(values));
    }),
    release: new ReusableQuery<ReleaseRow>(['app', 'env', 'host', 'release', 'ref', 'sha', 'at'], (row) =>
      db
        .insertInto('ledger_releases')
        .values(row)
        .onConflict((oc) =>
          oc
            .columns(['app', 'env', 'host'])
            .doUpdateSet({
              release: row.release,
              ref: row.ref,
              at: row.at,
              sha: sql<string | null>`coalesce(excluded.sha, case when ledger_releases.release = excluded.release then ledger_releases.sha end)`,
            })
            .where('ledger_releases.at', '<=', (eb) => eb.ref('excluded.at')),
        ),
    ),
  };
}

function eventRow(e: LedgerEventInput, field: string): EventRow {
  return { id: e.id, type: e.type, deployment_id: e.deploymentId ?? null, app: e.app ?? null, env: e.env ?? null, time: toIso(e.time, field), payload: json(e.payload) };
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export class Ledger {
  readonly engine: Engine;
  readonly #db: Kysely<LedgerDatabase>;
  readonly #schema: string | undefined;
  readonly #onClose: () => Promise<void>;
  readonly #hot: ReturnType<typeof hotWrites>;

  /** Use `openLedger`; this constructor takes an already connected Kysely instance. */
  constructor(db: Kysely<LedgerDatabase>, engine: Engine, schema: string | undefined, onClose: () => Promise<void> = () => db.destroy()) {
    this.#db = db;
    this.engine = engine;
    this.#schema = schema;
    this.#onClose = onClose;
    this.#hot = hotWrites(db);
  }

  /** Brings the schema up to date; safe to call on every start. Returns the migrations it applied. */
  migrate(): Promise<string[]> {
    return runMigrations(this.#db as unknown as Kysely<unknown>, this.engine, this.#schema);
  }

  async close(): Promise<void> {
    if (this.#appendQueue.length > 0) this.#flushAppends(); // appended, not yet flushed: written before closing
    while (this.#flushing !== undefined) await this.#flushing;
    await this.#onClose();
  }

  // ---- events ----

  /** Stores events in one transaction; ids already stored are skipped. Returns how many were new. */
  async appendEvents(events: readonly LedgerEventInput[]): Promise<number> {
    const rows = events.map((e, i) => eventRow(e, `events[${i}].time`));
    if (rows.length === 0) return 0;
    return this.#db.transaction().execute(async (trx) => {
      await this.#takeAppendTurn(trx);
      let inserted = 0;
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        const result = await trx
          .insertInto('ledger_events')
          .values(rows.slice(i, i + INSERT_CHUNK))
          .onConflict((oc) => oc.column('id').doNothing())
          .executeTakeFirst();
        inserted += Number(result.numInsertedOrUpdatedRows ?? 0n);
      }
      return inserted;
    });
  }

  /**
   * Stores one event; false when its id was stored already. Events appended in the same turn of the
   * event loop (a conductor takes a burst of task events from one socket read) share one transaction:
   * one commit for all of them instead of one each, in the order they were appended.
   */
  appendEvent(event: LedgerEventInput): Promise<boolean> {
    let row: EventRow;
    try {
      row = eventRow(event, 'time');
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return new Promise((resolve, reject) => {
      this.#appendQueue.push({ row, resolve, reject });
      if (this.#appendQueue.length === 1) setImmediate(() => this.#flushAppends());
    });
  }

  #appendQueue: { row: EventRow; resolve: (inserted: boolean) => void; reject: (error: unknown) => void }[] = [];
  #flushing: Promise<void> | undefined;

  #flushAppends(): void {
    const batch = this.#appendQueue.splice(0);
    if (batch.length === 0) return; // flushed already (by close)
    const previous = this.#flushing ?? Promise.resolve();
    const flush = previous.then(async () => {
      try {
        const inserted = await this.#db.transaction().execute(async (trx) => {
          await this.#takeAppendTurn(trx);
          const flags: boolean[] = [];
          for (const { row } of batch) {
            const result = await this.#hot.event.run(trx, row);
            flags.push(Number(result.numAffectedRows ?? 0n) > 0);
          }
          return flags;
        });
        batch.forEach((entry, i) => entry.resolve(inserted[i] === true));
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    });
    this.#flushing = flush;
    void flush.then(() => {
      if (this.#flushing === flush) this.#flushing = undefined;
    });
  }

  /**
   * On PostgreSQL, writers that take sequence numbers concurrently could commit them out of order, and a
   * reader replaying after seq N would miss a lower seq committed later. Appends therefore take turns
   * (SQLite has one writer anyway), so seq order is commit order and the replay cursor never skips.
   */
  async #takeAppendTurn(trx: Transaction<LedgerDatabase>): Promise<void> {
    if (this.engine === 'postgres') await sql`select pg_advisory_xact_lock(${sql.lit(EVENT_APPEND_LOCK)})`.execute(trx);
  }

  /** Events stored after `cursor` (0: from the start), oldest first, narrowed by `filter`. */
  async eventsAfter(cursor: number, limit: number, filter: EventFilter = {}): Promise<EventPage> {
    checkLimit(cursor, 'cursor', Number.MAX_SAFE_INTEGER);
    const types = (filter.types ?? []).map((t, i) => eventTypePattern(t, `types[${i}]`));
    let query = this.#db.selectFrom('ledger_events').selectAll().where('seq', '>', cursor);
    if (filter.deploymentId !== undefined) query = query.where('deployment_id', '=', filter.deploymentId);
    if (filter.app !== undefined) query = query.where('app', '=', filter.app);
    if (filter.env !== undefined) query = query.where('env', '=', filter.env);
    if (types.length > 0 && !types.some((t) => t.prefix === '')) {
      query = query.where((eb) => eb.or(types.map((t) => (t.exact !== undefined ? eb('type', '=', t.exact) : eb('type', 'like', `${t.prefix}%`)))));
    }
    const rows = await query
      .orderBy('seq')
      .limit(checkLimit(limit, 'limit'))
      .execute();
    const events = rows.map((r) => ({
      seq: Number(r.seq),
      id: r.id,
      type: r.type,
      deploymentId: orUndefined(r.deployment_id),
      app: orUndefined(r.app),
      env: orUndefined(r.env),
      time: r.time,
      payload: parse(r.payload),
    }));
    return { events, cursor: events.at(-1)?.seq ?? cursor };
  }

  /**
   * The seq of the stored event with this id (a bus message id), or undefined when the ledger does not
   * hold it (never stored, not stored yet, or pruned). Lets a client that saw a live event, which carries
   * only its message id, resume the log right after it.
   */
  async seqOfEvent(id: string): Promise<number | undefined> {
    if (id === '' || id.length > 255) return undefined;
    const row = await this.#db.selectFrom('ledger_events').select('seq').where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : Number(row.seq);
  }

  /** Retention: deletes events older than `time`. Returns how many went. */
  async pruneEventsBefore(time: TimeInput): Promise<number> {
    const result = await this.#db.deleteFrom('ledger_events').where('time', '<', toIso(time, 'time')).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  // ---- deployments ----

  /** Records a new deployment as queued. False when one with this id exists already (a redelivered request). */
  async createDeployment(d: NewDeployment): Promise<boolean> {
    const result = await this.#db
      .insertInto('ledger_deployments')
      .values({
        id: d.id,
        app: d.app,
        env: d.env,
        ref: d.ref,
        sha: d.sha ?? null,
        requested_by: d.requestedBy,
        state: 'queued',
        created_at: toIso(d.createdAt, 'createdAt'),
        options: json(d.options),
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  /** Sets the sha once it is resolved (a queued deployment may have been requested by tag). */
  async setDeploymentSha(id: string, sha: string): Promise<boolean> {
    const result = await this.#db.updateTable('ledger_deployments').set({ sha }).where('id', '=', id).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * queued -> running. False when the deployment is not queued (already running, finished, unknown) or another
   * deployment of the same app and environment is running.
   */
  async markRunning(id: string, at: TimeInput): Promise<boolean> {
    try {
      const result = await this.#db
        .updateTable('ledger_deployments')
        .set({ state: 'running', started_at: toIso(at, 'at') })
        .where('id', '=', id)
        .where('state', '=', 'queued')
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('ledger_deployments as other')
                .select('other.id')
                .whereRef('other.app', '=', 'ledger_deployments.app')
                .whereRef('other.env', '=', 'ledger_deployments.env')
                .where('other.state', '=', 'running'),
            ),
          ),
        )
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    } catch (error) {
      // Two writers racing past the check above meet the one-running index; the loser simply did not start.
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /** Moves a deployment to a final state. False when that transition is not allowed (e.g. it already finished). */
  /**
   * Ends a deployment; false when its state does not allow it (already finished, or not one of
   * `onlyFrom`: a cancel of a queued deployment must not end one that started meanwhile).
   */
  async finish(id: string, outcome: { state: FinishedState; at: TimeInput; reason?: string | undefined; onlyFrom?: readonly DeploymentState[] }): Promise<boolean> {
    const allowed = FINISH_FROM[outcome.state] as DeploymentState[] | undefined;
    if (allowed === undefined) throw new LedgerInputError('state', `${JSON.stringify(outcome.state)} is not a final state`);
    const from = outcome.onlyFrom === undefined ? allowed : allowed.filter((state) => outcome.onlyFrom?.includes(state));
    if (from.length === 0) return false;
    const result = await this.#db
      .updateTable('ledger_deployments')
      .set({ state: outcome.state, finished_at: toIso(outcome.at, 'at'), reason: outcome.reason ?? null })
      .where('id', '=', id)
      .where('state', 'in', from)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Records (or replaces, for a retried host) one host's result in a deployment. */
  async recordHostResult(deploymentId: string, r: HostResultInput): Promise<void> {
    await this.#hot.hostResult.run(this.#db, {
      deployment_id: deploymentId,
      host: r.host,
      outcome: r.outcome,
      release: r.release ?? null,
      duration_ms: r.durationMs ?? null,
      error: r.error ?? null,
      at: toIso(r.at, 'at'),
    });
  }

  async hostResults(deploymentId: string): Promise<HostResult[]> {
    const rows = await this.#db.selectFrom('ledger_host_results').selectAll().where('deployment_id', '=', deploymentId).orderBy('at').orderBy('host').execute();
    return rows.map((r) => ({
      host: r.host,
      outcome: r.outcome,
      release: orUndefined(r.release),
      durationMs: r.duration_ms === null ? undefined : Number(r.duration_ms),
      error: orUndefined(r.error),
      at: r.at,
    }));
  }

  async deployment(id: string): Promise<DeploymentWithHosts | undefined> {
    const row = await this.#db.selectFrom('ledger_deployments').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) return undefined;
    return { ...toDeployment(row), hosts: await this.hostResults(id) };
  }

  /** Deployments newest first, optionally of one app and/or environment, paged with `before` (a deployment id). */
  async history(q: HistoryQuery): Promise<Deployment[]> {
    let query = this.#db.selectFrom('ledger_deployments').selectAll();
    if (q.app !== undefined) query = query.where('app', '=', q.app);
    if (q.env !== undefined) query = query.where('env', '=', q.env);
    if (q.before !== undefined) {
      const before = q.before;
      query = query.where('seq', '<', (eb) => eb.selectFrom('ledger_deployments as cursor').select('cursor.seq').where('cursor.id', '=', before));
    }
    query = query.orderBy('seq', 'desc').limit(checkLimit(q.limit, 'limit'));
    if (q.offset !== undefined && q.offset > 0) query = query.offset(checkLimit(q.offset, 'offset', 1_000_000));
    const rows = await query.execute();
    return rows.map(toDeployment);
  }

  async activeDeployment(app: string, env: string): Promise<Deployment | undefined> {
    const row = await this.#db
      .selectFrom('ledger_deployments')
      .selectAll()
      .where('app', '=', app)
      .where('env', '=', env)
      .where('state', '=', 'running')
      .executeTakeFirst();
    return row === undefined ? undefined : toDeployment(row);
  }

  /** Queued deployments of an app and environment, first in line first. */
  async queue(app: string, env: string): Promise<Deployment[]> {
    const rows = await this.#db
      .selectFrom('ledger_deployments')
      .selectAll()
      .where('app', '=', app)
      .where('env', '=', env)
      .where('state', '=', 'queued')
      .orderBy('seq')
      .execute();
    return rows.map(toDeployment);
  }

  /** Every queued or running deployment, oldest first: what a restarting conductor must resume or fail. */
  async unfinished(): Promise<Deployment[]> {
    const rows = await this.#db.selectFrom('ledger_deployments').selectAll().where('state', 'in', ['queued', 'running']).orderBy('seq').execute();
    return rows.map(toDeployment);
  }

  // ---- task logs ----

  /** Stores log lines of one host; lines already stored under their seq (a redelivered batch) are skipped. */
  async appendLogs(deploymentId: string, host: string, lines: readonly LogLineInput[]): Promise<number> {
    const rows = lines.map((l, i) => ({
      deployment_id: deploymentId,
      host,
      seq: checkLimit(l.seq, `lines[${i}].seq`, Number.MAX_SAFE_INTEGER),
      stream: l.stream ?? 'stdout',
      line: l.line,
      at: toIso(l.at, `lines[${i}].at`),
    }));
    if (rows.length === 0) return 0;
    return this.#db.transaction().execute(async (trx) => {
      let inserted = 0;
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        const result = await trx
          .insertInto('ledger_task_logs')
          .values(rows.slice(i, i + INSERT_CHUNK))
          .onConflict((oc) => oc.columns(['deployment_id', 'host', 'seq']).doNothing())
          .executeTakeFirst();
        inserted += Number(result.numInsertedOrUpdatedRows ?? 0n);
      }
      return inserted;
    });
  }

  /** Log lines of a deployment (of one host, or all hosts by time), from `offset`, at most `limit`. */
  async logs(deploymentId: string, q: LogQuery = {}): Promise<LogLine[]> {
    let query = this.#db.selectFrom('ledger_task_logs').select(['host', 'seq', 'stream', 'line', 'at']).where('deployment_id', '=', deploymentId);
    if (q.host !== undefined) query = query.where('host', '=', q.host);
    const rows = await query
      .orderBy('at')
      .orderBy('host')
      .orderBy('seq')
      .limit(checkLimit(q.limit ?? 1000, 'limit'))
      .offset(checkLimit(q.offset ?? 0, 'offset', Number.MAX_SAFE_INTEGER))
      .execute();
    return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
  }

  /** The last `n` log lines of a deployment (optionally of one host), in order. */
  async tail(deploymentId: string, n: number, host?: string): Promise<LogLine[]> {
    let query = this.#db.selectFrom('ledger_task_logs').select(['host', 'seq', 'stream', 'line', 'at']).where('deployment_id', '=', deploymentId);
    if (host !== undefined) query = query.where('host', '=', host);
    const rows = await query.orderBy('at', 'desc').orderBy('host', 'desc').orderBy('seq', 'desc').limit(checkLimit(n, 'n')).execute();
    return rows.reverse().map((r) => ({ ...r, seq: Number(r.seq) }));
  }

  // ---- release state ----

  /**
   * What a host runs now. An older report (a late heartbeat) never overwrites a newer one, and a report
   * without a commit (heartbeats carry none) keeps the commit already known for the same release.
   */
  async recordRelease(r: ReleaseInput): Promise<boolean> {
    const result = await this.#hot.release.run(this.#db, { app: r.app, env: r.env, host: r.host, release: r.release, ref: r.ref, sha: r.sha ?? null, at: toIso(r.at, 'at') });
    return Number(result.numAffectedRows ?? 0n) === 1;
  }

  async releases(q: { app?: string | undefined; env?: string | undefined } = {}): Promise<Release[]> {
    let query = this.#db.selectFrom('ledger_releases').selectAll();
    if (q.app !== undefined) query = query.where('app', '=', q.app);
    if (q.env !== undefined) query = query.where('env', '=', q.env);
    const rows = await query.orderBy('app').orderBy('env').orderBy('host').execute();
    return rows.map(toRelease);
  }

  /**
   * Which ref every host of an app and environment runs, with hosts off the expected version flagged. A
   * version is a ref and, where known, its commit: hosts on one branch name at different commits differ.
   * A commit that is not known (a heartbeat's release with no commit recorded) compares by ref alone.
   */
  async matrix(app: string, env: string): Promise<ReleaseMatrix> {
    const hosts = await this.releases({ app, env });
    const last = await this.#db
      .selectFrom('ledger_deployments')
      .select(['ref', 'sha'])
      .where('app', '=', app)
      .where('env', '=', env)
      .where('state', '=', 'succeeded')
      .orderBy('finished_at', 'desc')
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    const commonRef = mostCommon(hosts.map((h) => ({ key: h.ref, at: h.at })));
    // The commit most hosts on the common ref run, where commits are known.
    const commonSha = mostCommon(hosts.flatMap((h) => (h.ref === commonRef && h.sha !== undefined ? [{ key: h.sha, at: h.at }] : [])));
    const lastDeployedRef = last?.ref;
    const lastDeployedSha = orUndefined(last?.sha ?? null);
    const sameVersion = (h: Release, ref: string | undefined, sha: string | undefined): boolean => h.ref === ref && (h.sha === undefined || sha === undefined || h.sha === sha);
    return {
      app,
      env,
      commonRef,
      commonSha,
      lastDeployedRef,
      lastDeployedSha,
      hosts: hosts.map((h) => {
        const differsFromCommon = !sameVersion(h, commonRef, commonSha);
        const differsFromLastDeployed = lastDeployedRef !== undefined && !sameVersion(h, lastDeployedRef, lastDeployedSha);
        return { ...h, differsFromCommon, differsFromLastDeployed, drift: lastDeployedRef === undefined ? differsFromCommon : differsFromLastDeployed };
      }),
    };
  }

  // ---- locks ----

  /** Locks an environment (or one app in it). Locking what is locked returns the lock that is there. */
  async lock(l: LockInput): Promise<LockResult> {
    const key = { env: l.env, app: l.app ?? '' };
    const result = await this.#db
      .insertInto('ledger_locks')
      .values({ ...key, locked_by: l.by, reason: l.reason, at: toIso(l.at, 'at') })
      .onConflict((oc) => oc.columns(['env', 'app']).doNothing())
      .executeTakeFirst();
    const row = await this.#db.selectFrom('ledger_locks').selectAll().where('env', '=', key.env).where('app', '=', key.app).executeTakeFirstOrThrow();
    return { acquired: Number(result.numInsertedOrUpdatedRows ?? 0n) === 1, lock: toLock(row) };
  }

  /** Removes a lock; only its holder may, unless `force` (an admin). */
  async unlock(env: string, by: string, opts: { app?: string | undefined; force?: boolean } = {}): Promise<UnlockResult> {
    const app = opts.app ?? '';
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('ledger_locks').selectAll().where('env', '=', env).where('app', '=', app).executeTakeFirst();
      if (row === undefined) return { status: 'not-locked' } as const;
      if (row.locked_by !== by && opts.force !== true) return { status: 'held-by-other', lock: toLock(row) } as const;
      const result = await trx
        .deleteFrom('ledger_locks')
        .where('env', '=', env)
        .where('app', '=', app)
        .where('locked_by', '=', row.locked_by)
        .where('at', '=', row.at)
        .executeTakeFirst();
      return Number(result.numDeletedRows) === 1 ? ({ status: 'unlocked', lock: toLock(row) } as const) : ({ status: 'not-locked' } as const);
    });
  }

  /** The lock that applies: the whole environment's if there is one, else the app's (when `app` is given). */
  async lockOf(env: string, app?: string): Promise<Lock | undefined> {
    const rows = await this.#db
      .selectFrom('ledger_locks')
      .selectAll()
      .where('env', '=', env)
      .where('app', 'in', app === undefined ? [''] : ['', app])
      .orderBy('app')
      .execute();
    const row = rows[0];
    return row === undefined ? undefined : toLock(row);
  }

  async locks(): Promise<Lock[]> {
    const rows = await this.#db.selectFrom('ledger_locks').selectAll().orderBy('env').orderBy('app').execute();
    return rows.map(toLock);
  }

  // ---- builds ----

  /** Records a build's state; a later report of the same job run replaces the earlier one. */
  async recordBuild(b: BuildInput): Promise<void> {
    const values = { status: b.status, url: b.url ?? null, at: toIso(b.at, 'at') };
    await this.#db
      .insertInto('ledger_builds')
      .values({ repo: b.repo, sha: b.sha, job: b.job, number: checkLimit(b.number, 'number', Number.MAX_SAFE_INTEGER), ...values })
      .onConflict((oc) => oc.columns(['repo', 'sha', 'job', 'number']).doUpdateSet(values))
      .execute();
  }

  /** The build gate: has any build of this commit succeeded? */
  async buildPassed(repo: string, sha: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('ledger_builds')
      .select('job')
      .where('repo', '=', repo)
      .where('sha', '=', sha)
      .where('status', '=', 'succeeded')
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  // ---- leadership leases ----

  /**
   * Takes the lease on `key` for `owner` if it is free, expired, or already this owner's (which extends it).
   * One statement (INSERT ... ON CONFLICT DO UPDATE ... WHERE), so two conductors racing cannot both win.
   */
  async tryAcquireLease(key: string, owner: string, ttlMs: number, now: TimeInput): Promise<boolean> {
    const at = toIso(now, 'now');
    const expiresAt = new Date(Date.parse(at) + checkLimit(ttlMs, 'ttlMs', Number.MAX_SAFE_INTEGER)).toISOString();
    const row = await this.#db
      .insertInto('ledger_leases')
      .values({ key, owner, acquired_at: at, expires_at: expiresAt })
      .onConflict((oc) =>
        oc
          .column('key')
          .doUpdateSet((eb) => ({
            owner: eb.ref('excluded.owner'),
            expires_at: eb.ref('excluded.expires_at'),
            acquired_at: eb.case().when('ledger_leases.owner', '=', owner).then(eb.ref('ledger_leases.acquired_at')).else(eb.ref('excluded.acquired_at')).end(),
          }))
          .where((eb) => eb.or([eb('ledger_leases.expires_at', '<=', at), eb('ledger_leases.owner', '=', owner)])),
      )
      .returning('owner')
      .executeTakeFirst();
    return row?.owner === owner;
  }

  /** Extends a lease its owner still holds. False when another owner has it (or nobody). */
  async renewLease(key: string, owner: string, ttlMs: number, now: TimeInput): Promise<boolean> {
    const at = toIso(now, 'now');
    const expiresAt = new Date(Date.parse(at) + checkLimit(ttlMs, 'ttlMs', Number.MAX_SAFE_INTEGER)).toISOString();
    const result = await this.#db.updateTable('ledger_leases').set({ expires_at: expiresAt }).where('key', '=', key).where('owner', '=', owner).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Gives a lease up (on shutdown) so another conductor can take over at once. */
  async releaseLease(key: string, owner: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('ledger_leases').where('key', '=', key).where('owner', '=', owner).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async leaseOf(key: string): Promise<Lease | undefined> {
    const row = await this.#db.selectFrom('ledger_leases').selectAll().where('key', '=', key).executeTakeFirst();
    return row === undefined ? undefined : { key: row.key, owner: row.owner, acquiredAt: row.acquired_at, expiresAt: row.expires_at };
  }
}

/**
 * An event type pattern: an exact type, `prefix.*`, or `*`. Only letters, digits, "-" and "." occur in
 * types, so a prefix needs no LIKE escaping once checked.
 */
function eventTypePattern(pattern: string, field: string): { exact?: string; prefix: string } {
  if (pattern === '*') return { prefix: '' };
  const match = /^([a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)*)(\.\*)?$/.exec(pattern);
  if (match === null || pattern.length > 128) throw new LedgerInputError(field, `"${pattern.slice(0, 64)}" is not an event type or a "prefix.*" pattern`);
  const [, base = '', star] = match;
  return star === undefined ? { exact: base, prefix: base } : { prefix: `${base}.` };
}
