// The conductor's work on the bus and in the ledger: answers deploy requests, runs the rollouts one at
// a time per app and environment, and records everything.
//
// Several conductors may run on one broker. Requests arrive on the shared work queue, so any of them
// may answer one: gates are decided from the ledger, which they share. Running rollouts is different:
// the conductor holding the ledger lease `deploy/<app>/<env>` is the only one that starts rollouts of
// that app and environment. It holds the lease while it drains the queue (renewing it), and gives it up
// when the queue is empty; a conductor that answered a request while another held the lease leaves the
// deployment queued for the holder. After giving the lease up, the holder looks at the queue once more,
// so a request recorded in between is never stranded. A conductor that dies stops renewing; every
// `leaseTtlMs` each conductor sweeps the ledger and takes over app/envs whose lease has run out.
//
// A rollout interrupted by a conductor's death is not resumed (that is a later step): it is finished as
// failed with RESTART_REASON, at start for everything unfinished whose lease is free, and by the sweep.
import { createHash } from 'node:crypto';
import type { Bus, Subscription } from '@deploybus/bus';
import {
  commandQueueName,
  commandRoutingKey,
  deployRequested,
  isMessageOfType,
  replyRoutingKey,
  runsNewRelease,
  workQueueName,
  type Message,
  type PayloadInputOf,
  type PayloadOf,
  type Source,
} from '@deploybus/protocol';
import type { Logger } from '@deploybus/runtime';
import type { Deployment, Ledger } from '@deploybus/store';
import { CommandSigner, type SignedCommand } from './command-signer.js';
import { handleLockRequest } from './lock-requests.js';
import { answerStateQuery } from './state-queries.js';
import { RolloutOptionsError, RosterUnavailableError } from './errors.js';
import { evaluateGates, type BuildGateAnswer, type DeploymentRef, type RefusalCode } from './gates.js';
import { isFullSha, type RefResolver } from './ref-resolver.js';
import type { TagLister } from './repo-tags.js';
import { planRollout } from './rollout-plan.js';
import { RolloutRunner, type RolloutEvent, type RolloutTimer } from './rollout-runner.js';
import { selectTargets, type RosterEntry } from './target-selection.js';

/** The shared work queue competing conductors take deploy requests from. */
export const CONDUCTOR_QUEUE = workQueueName('conductor');
export const RESTART_REASON = 'conductor restarted during the rollout; re-request it';
/** What the shared queue carries: deploy requests, lock changes, state queries. */
export const CONDUCTOR_QUEUE_PATTERNS = ['deploy.requested.*.*', 'conductor.lock.requested.*', 'conductor.state.query.*'] as const;
/** Cancels go to every conductor (a private subscription each). */
export const CANCEL_ROUTING_KEY = 'conductor.deploy.cancel-requested';
const EVENT_PRUNE_INTERVAL_MS = 3_600_000;
/**
 * How long the roster a request was checked against stands for its rollout's start. Keepalive learns
 * of agents by heartbeats seconds apart, so a second question within this time would tell nothing new.
 */
const ROSTER_REUSE_MS = 1_000;

export interface DeployCoordinatorOptions {
  readonly bus: Bus;
  readonly ledger: Ledger;
  readonly logger: Logger;
  /** This conductor as commands name it. */
  readonly source: Source;
  /** Unique per running conductor: owns leases and names the reply address agents answer to. */
  readonly instance: string;
  readonly signing: { readonly keyId: string; readonly privateKey: string };
  readonly roster: { readonly keepaliveHosts: readonly string[]; readonly timeoutMs: number };
  readonly commandTtlMs: number;
  readonly leaseTtlMs: number;
  /** Requesters who may force past the lock and build gates. */
  readonly admins: readonly string[];
  readonly resolveRef: RefResolver;
  /** Whether the config gives `app` a repository URL (refusals say what to do accordingly). */
  readonly hasRepository: (app: string) => boolean;
  /** An app's tags, newest first, for the `tags` state query. */
  readonly listTags: TagLister;
  /** The repository whose builds gate an app (default: the repository named like the app). */
  readonly buildRepoOf?: (app: string) => string;
  /** The build gate's second source (GitHub's combined commit status): asked when the ledger holds no passed build. */
  readonly buildStatusOf?: (app: string, sha: string) => Promise<boolean>;
  readonly timer?: RolloutTimer;
  /** Retention of the ledger's event log (the replay window of callbacks): older events are pruned hourly. Undefined keeps them all. */
  readonly eventRetentionMs?: number | undefined;
}

type StoredRequest = Pick<PayloadOf<'deploy.requested'>, 'targets' | 'rollout'> & {
  /** An admin forced it past the gates: a lock taken while it waits in the queue does not stop it either. */
  readonly force?: boolean;
};

export class DeployCoordinator {
  readonly #o: DeployCoordinatorOptions;
  readonly #signer: CommandSigner;
  readonly #replyTo: string;
  readonly #subscriptions: Subscription[] = [];
  readonly #runners = new Map<string, RolloutRunner>();
  /** host/app/env -> the release and ref last recorded from a heartbeat (bounded by the fleet's size). */
  readonly #heartbeatReleases = new Map<string, string>();
  /** app/env keys this conductor is draining now, with the token of the drain that owns the key. */
  readonly #draining = new Map<string, symbol>();
  readonly #drains = new Set<Promise<void>>();
  readonly #declaredQueues = new Set<string>();
  /** Per app/env key: the deployment #run is starting (between reading it from the queue and registering its runner). */
  readonly #starting = new Map<string, string>();
  /** Cancels of a deployment #run is starting, for #run to act on. */
  readonly #pendingCancels = new Map<string, Message<'deploy.cancel-requested'>>();
  /** The roster a request was checked against, by deployment id: a rollout that starts at once uses it instead of asking again. */
  readonly #requestRosters = new Map<string, { readonly entries: RosterEntry[]; readonly at: number }>();
  #sweepTimer: NodeJS.Timeout | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #stopping = false;

  constructor(options: DeployCoordinatorOptions) {
    this.#o = options;
    this.#replyTo = replyRoutingKey(`conductor_${options.instance}`);
    this.#signer = new CommandSigner({ source: options.source, replyTo: this.#replyTo, privateKey: options.signing.privateKey, keyId: options.signing.keyId, ttlMs: options.commandTtlMs });
  }

  /** Where agents send their replies to this conductor's commands. */
  get replyAddress(): string {
    return this.#replyTo;
  }

  async start(): Promise<void> {
    const { bus } = this.#o;
    await this.#recover();
    this.#subscriptions.push(await bus.subscribe({ patterns: [this.#replyTo] }, (m) => this.#onAgentReply(m)));
    this.#subscriptions.push(await bus.subscribe({ patterns: ['build.succeeded.*', 'build.failed.*'] }, (m) => this.#onBuild(m)));
    this.#subscriptions.push(await bus.subscribe({ patterns: ['task.log.#'] }, (m) => this.#onTaskLog(m)));
    // Agents' step events go into the event log too, so callbacks and replays see a deploy's steps.
    this.#subscriptions.push(await bus.subscribe({ patterns: ['task.started.#', 'task.completed.#'] }, (m) => this.#record(m)));
    // What runs where also comes from the agents' heartbeats, so a release changed outside a rollout shows (as drift).
    this.#subscriptions.push(await bus.subscribe({ patterns: ['heartbeat.deploy-agent.*'] }, (m) => this.#onAgentHeartbeat(m)));
    // Every conductor must see a cancel: only the one running the rollout (or draining its queue) can act on it.
    this.#subscriptions.push(await bus.subscribe({ patterns: [CANCEL_ROUTING_KEY] }, (m) => this.#onCancel(m)));
    // Kept last: stop() unsubscribes it first. Deploy requests, lock changes and state queries: any conductor may answer.
    this.#subscriptions.push(await bus.subscribe({ queue: CONDUCTOR_QUEUE, patterns: CONDUCTOR_QUEUE_PATTERNS }, (m) => this.#onShared(m)));
    this.#sweepTimer = setInterval(() => void this.#sweep(), this.#o.leaseTtlMs);
    this.#sweepTimer.unref();
    // What was queued before this start (and whose lease is free) starts now, not at the first sweep.
    void this.#sweep();
    if (this.#o.eventRetentionMs !== undefined) {
      void this.#pruneEvents(this.#o.eventRetentionMs);
      this.#pruneTimer = setInterval(() => void this.#pruneEvents(this.#o.eventRetentionMs ?? 0), EVENT_PRUNE_INTERVAL_MS);
      this.#pruneTimer.unref();
    }
  }

  /** Stops taking requests, cancels running rollouts before their next batch, waits for them, gives leases up. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    if (this.#pruneTimer !== undefined) clearInterval(this.#pruneTimer);
    const request = this.#subscriptions.pop();
    await request?.unsubscribe();
    for (const runner of this.#runners.values()) runner.cancel('conductor', 'the conductor is stopping');
    await Promise.allSettled([...this.#drains]);
    for (const s of this.#subscriptions.splice(0)) await s.unsubscribe().catch(() => undefined);
  }

  // ---- requests ----

  async #onShared(message: Message): Promise<void> {
    if (isMessageOfType(message, 'deploy.requested')) return this.#onRequest(message);
    if (isMessageOfType(message, 'lock.requested')) return this.#onLockRequest(message);
    if (isMessageOfType(message, 'state.query')) return this.#onStateQuery(message);
    this.#o.logger.warn({ id: message.id, type: message.type }, 'not a deploy.requested, lock.requested or state.query on the conductor queue; ignored');
  }

  async #onLockRequest(message: Message<'lock.requested'>): Promise<void> {
    const { bus, ledger, logger } = this.#o;
    const state = await handleLockRequest(ledger, message.payload, this.#o.admins);
    logger.info({ env: state.env, app: state.app, action: message.payload.action, by: message.payload.by, outcome: state.outcome }, 'lock request answered');
    // Everyone sees lock changes (and refusals); recorded in the ledger's event log like deploy events.
    await this.#answer(message, bus.message('lock.state', state, { correlationId: message.id }));
  }

  async #onStateQuery(message: Message<'state.query'>): Promise<void> {
    const { bus, logger } = this.#o;
    if (message.replyTo === undefined) {
      logger.warn({ id: message.id }, 'state.query without replyTo; nobody to answer, ignored');
      return;
    }
    const answer = await answerStateQuery({ ledger: this.#o.ledger, tags: this.#o.listTags }, message.payload);
    if (!answer.ok) logger.info({ kind: answer.kind, error: answer.error }, 'bad state.query answered with an error');
    const payload = answer.ok ? { kind: answer.kind, result: answer.result, ...(answer.truncated ? { truncated: true } : {}) } : { kind: answer.kind, error: answer.error };
    await bus.reply(message, bus.message('state.reply', payload, { correlationId: message.id }));
  }

  // ---- cancel ----

  /**
   * Every conductor sees every cancel. not-found and already-finished are answered by each (the same
   * answer; the requester takes the first). A running rollout is cancelled by the conductor running it.
   * A queued deployment is cancelled in the ledger from `queued` only, which no markRunning can race: by
   * whichever conductor gets there first, whether or not it drains the app/env (the drainer may be dead,
   * its lease not yet run out); it answers, the others stay silent.
   */
  async #onCancel(message: Message): Promise<void> {
    const { ledger, logger } = this.#o;
    if (!isMessageOfType(message, 'deploy.cancel-requested')) {
      logger.warn({ id: message.id, type: message.type }, 'not a deploy.cancel-requested on the cancel subscription; ignored');
      return;
    }
    const id = message.payload.deploymentId;
    const runner = this.#runners.get(id);
    if (runner !== undefined) return this.#cancelRunning(message, runner);
    const deployment = await ledger.deployment(id);
    if (deployment === undefined) return this.#cancelAnswer(message, 'not-found');
    if (deployment.state !== 'queued' && deployment.state !== 'running') return this.#cancelAnswer(message, 'already-finished', deployment.state);
    const key = leaseKey(deployment.app, deployment.env);
    if (!this.#draining.has(key)) {
      if (deployment.state === 'running') return; // another conductor's rollout: that one answers
      // Queued, and this conductor does not drain its app/env. The holder of the lease may be alive or
      // dead (its lease not yet run out), so no lease is waited for: the ledger's finish from `queued`
      // cannot race the holder's markRunning, and of the conductors trying, exactly one wins and answers.
      if (this.#stopping) return;
      if (await ledger.finish(id, { state: 'cancelled', at: new Date(), reason: cancelReason(message), onlyFrom: ['queued'] })) return this.#cancelledQueued(message, deployment);
      const now = await ledger.deployment(id);
      // Cancelled by another conductor (which answered), or started meanwhile (its runner answers).
      if (now === undefined || now.state === 'cancelled' || now.state === 'running' || now.state === 'queued') return;
      return this.#cancelAnswer(message, 'already-finished', now.state);
    }
    // This conductor drains the app/env: only its #run marks deployments running.
    if (this.#starting.get(key) === id) {
      // #run is about to start it (or just did): it acts on the cancel there.
      this.#pendingCancels.set(id, message);
      return;
    }
    await this.#cancelQueued(message, deployment);
  }

  async #cancelQueued(message: Message<'deploy.cancel-requested'>, deployment: Deployment): Promise<void> {
    this.#pendingCancels.delete(deployment.id);
    // Only while still queued: a rollout that started since the cancel was looked at is cancelled as one.
    if (!(await this.#o.ledger.finish(deployment.id, { state: 'cancelled', at: new Date(), reason: cancelReason(message), onlyFrom: ['queued'] }))) {
      const runner = this.#runners.get(deployment.id);
      if (runner !== undefined) return this.#cancelRunning(message, runner);
      if (this.#starting.get(leaseKey(deployment.app, deployment.env)) === deployment.id) {
        this.#pendingCancels.set(deployment.id, message); // #runStarting cancels it once its runner exists
        return;
      }
      const now = await this.#o.ledger.deployment(deployment.id);
      // Another conductor's rollout (that one answers), or another conductor won this very cancel (and answered).
      if (now?.state === 'running' || now?.state === 'cancelled') return;
      return this.#cancelAnswer(message, 'already-finished', now?.state);
    }
    await this.#cancelledQueued(message, deployment);
  }

  /** Says that a queued deployment was cancelled (the ledger says so already). */
  async #cancelledQueued(message: Message<'deploy.cancel-requested'>, deployment: Deployment): Promise<void> {
    const { by, reason } = message.payload;
    this.#o.logger.info({ deploymentId: deployment.id, by, reason }, 'queued deployment cancelled');
    await this.#publish(this.#o.bus.message('deploy.cancelled', { deploymentId: deployment.id, app: deployment.app, env: deployment.env, cancelledBy: by, reason: reason.slice(0, 2048) }));
    await this.#cancelAnswer(message, 'cancelled', 'cancelled');
  }

  /** Cancels a rollout this conductor runs, before its next batch, and says so. */
  async #cancelRunning(message: Message<'deploy.cancel-requested'>, runner: RolloutRunner): Promise<void> {
    const { deploymentId, by, reason } = message.payload;
    if (runner.state === 'finishing') {
      // Past the point a cancel could change: rolling back after a failure, or its last batch done.
      this.#o.logger.info({ deploymentId, by, reason }, 'cancel of a rollout that is already ending; it ends as it is');
      await this.#cancelAnswer(message, 'finishing', 'running');
      return;
    }
    runner.cancel(by, reason);
    this.#o.logger.info({ deploymentId, by, reason }, 'rollout cancelling before its next batch');
    await this.#cancelAnswer(message, 'cancelling', 'running');
  }

  async #cancelAnswer(message: Message<'deploy.cancel-requested'>, outcome: PayloadOf<'deploy.cancel-result'>['outcome'], state?: string): Promise<void> {
    if (message.replyTo === undefined) return;
    const { bus } = this.#o;
    await bus.reply(message, bus.message('deploy.cancel-result', { deploymentId: message.payload.deploymentId, outcome, ...(state === undefined ? {} : { state }) }, { correlationId: message.id }));
  }

  async #onRequest(message: Message<'deploy.requested'>): Promise<void> {
    const { ledger, logger } = this.#o;
    const request = message.payload;
    const deploymentId = deploymentIdFor(message.id);
    const existing = await ledger.deployment(deploymentId);
    if (existing !== undefined) {
      // A redelivered request: it was recorded (and probably answered); answer again, do nothing twice.
      const queue = await ledger.queue(request.app, request.env);
      const position = existing.state === 'queued' ? queue.findIndex((d) => d.id === deploymentId) + ((await ledger.activeDeployment(request.app, request.env)) === undefined ? 0 : 1) : 0;
      await this.#answer(message, this.#o.bus.message('deploy.queued', { deploymentId, app: existing.app, env: existing.env, ref: existing.ref, requestedBy: existing.requestedBy, position: Math.max(0, position), ...(existing.sha === undefined ? {} : { sha: existing.sha }) }, { correlationId: message.id }));
      this.#kick(request.app, request.env);
      return;
    }

    if (request.sha !== undefined && isFullSha(request.ref) && request.ref !== request.sha) {
      return this.#refuse(message, 'INVALID_REQUEST', `ref ${request.ref} is a commit id other than the pinned sha ${request.sha}; give one commit`);
    }
    const rosterAt = Date.now();
    // The ref's commit is looked up (git ls-remote) while the roster is asked for; a request refused
    // for its targets or options drops the lookup's answer, and its failure with it. A pinned commit
    // (a rollback's) is not looked up: the ref is only its label, wherever it points now.
    const resolving = request.sha !== undefined ? Promise.resolve<string | undefined>(request.sha) : this.#o.resolveRef(request.app, request.ref);
    resolving.catch(() => undefined);
    let roster: RosterEntry[];
    try {
      roster = await this.#roster();
    } catch (error) {
      // As for a failed ref lookup: answered now, not left to the bus's retries and a dead letter.
      if (error instanceof RosterUnavailableError) return this.#refuse(message, 'ROSTER_UNAVAILABLE', `${error.message} Nothing was queued.`);
      throw error;
    }
    const selection = selectTargets(roster, request.app, request.env, request.targets);
    if (!selection.ok) return this.#refuse(message, selection.code, selection.reason);
    try {
      planRollout(selection.hosts, request.rollout);
    } catch (error) {
      if (error instanceof RolloutOptionsError) return this.#refuse(message, 'INVALID_REQUEST', error.message);
      throw error;
    }

    let sha: string | undefined;
    try {
      sha = await resolving;
    } catch (error) {
      // The repository did not answer (unreachable, refused our credentials...): say so now, rather
      // than leave the request to the bus's retries and a dead letter nobody answers.
      return this.#refuse(message, 'REF_LOOKUP_FAILED', `could not look ${request.ref} up in ${request.app}'s repository, so nothing was queued: ${errorText(error)}`);
    }
    const repo = this.#o.buildRepoOf?.(request.app) ?? request.app;
    const passed = sha !== undefined && ((await ledger.buildPassed(repo, sha)) || (await this.#o.buildStatusOf?.(request.app, sha)) === true);
    const build: BuildGateAnswer = sha === undefined ? { state: 'unknown' } : passed ? { state: 'passed', sha } : { state: 'unknown', sha };
    const lock = await ledger.lockOf(request.env, request.app);
    const active = await ledger.activeDeployment(request.app, request.env);
    const queue = await ledger.queue(request.app, request.env);
    const decision = evaluateGates({
      request,
      mayForce: this.#o.admins.includes(request.requestedBy),
      lock: lock === undefined ? undefined : { env: lock.env, lockedBy: lock.by, reason: lock.reason, since: lock.at },
      build,
      active: active === undefined ? undefined : refOf(active),
      queue: queue.map(refOf),
    });
    if (decision.kind === 'refused' && decision.code !== 'BUILD_NOT_PASSED') return this.#refuse(message, decision.code, decision.reason);
    if (sha === undefined) {
      const why = this.#o.hasRepository(request.app)
        ? `${request.ref} is not a tag, branch or commit of ${request.app}'s repository`
        : `${request.ref} does not name a commit of ${request.app} that the conductor can find; give a full commit id, or configure apps.${request.app}.repoUrl so tags and branches resolve`;
      return this.#refuse(message, 'BAD_REF', why);
    }
    if (decision.kind === 'refused') return this.#refuse(message, decision.code, decision.reason);

    const stored: StoredRequest = { targets: request.targets, rollout: request.rollout, ...(decision.forced ? { force: true } : {}) };
    await ledger.createDeployment({ id: deploymentId, app: request.app, env: request.env, ref: request.ref, sha, requestedBy: request.requestedBy, createdAt: new Date(), options: stored });
    for (const older of decision.supersedes) {
      if (await ledger.finish(older.deploymentId, { state: 'superseded', at: new Date(), reason: `superseded by ${deploymentId} (${request.ref})` })) {
        await this.#publish(this.#o.bus.message('deploy.cancelled', { deploymentId: older.deploymentId, app: older.app, env: older.env, cancelledBy: request.requestedBy, reason: `superseded by a newer request: ${request.ref} (${deploymentId})` }));
      }
    }
    for (const [id, kept] of this.#requestRosters) if (rosterAt - kept.at > ROSTER_REUSE_MS) this.#requestRosters.delete(id);
    this.#requestRosters.set(deploymentId, { entries: roster, at: rosterAt });
    logger.info({ deploymentId, app: request.app, env: request.env, ref: request.ref, position: decision.position, forced: decision.forced }, 'deploy request accepted');
    await this.#answer(message, this.#o.bus.message('deploy.queued', { deploymentId, app: request.app, env: request.env, ref: request.ref, sha, requestedBy: request.requestedBy, position: decision.position }, { correlationId: message.id }));
    this.#kick(request.app, request.env);
  }

  async #refuse(message: Message<'deploy.requested'>, code: RefusalCode, reason: string): Promise<void> {
    const { app, env, ref, requestedBy } = message.payload;
    this.#o.logger.info({ app, env, ref, requestedBy, code, reason }, 'deploy request refused');
    await this.#answer(message, this.#o.bus.message('deploy.refused', { app, env, ref, requestedBy, code, reason: reason.slice(0, 2048) }, { correlationId: message.id }));
  }

  /** Replies to the requester (when it asked for a reply) and publishes the same event for everyone, at once and in that order. */
  async #answer(request: Message, message: Message): Promise<void> {
    await Promise.all([request.replyTo === undefined ? undefined : this.#o.bus.reply(request, message), this.#publish(message)]);
  }

  // ---- rollouts ----

  /** Makes sure someone drains the app/env's queue: this conductor, unless it already is. */
  #kick(app: string, env: string): void {
    if (this.#stopping || this.#draining.has(leaseKey(app, env))) return;
    const drain = this.#drain(app, env).catch((error: unknown) => {
      this.#o.logger.error({ app, env, err: errorText(error) }, 'could not start the queued deployments; the next sweep tries again');
    });
    this.#drains.add(drain);
    void drain.finally(() => this.#drains.delete(drain));
  }

  async #drain(app: string, env: string): Promise<void> {
    const { ledger } = this.#o;
    const key = leaseKey(app, env);
    let token = Symbol(key);
    this.#draining.set(key, token);
    try {
      for (;;) {
        if (this.#stopping) return;
        if (!(await ledger.tryAcquireLease(key, this.#o.instance, this.#o.leaseTtlMs, new Date()))) return;
        const active = await ledger.activeDeployment(app, env);
        // We hold the lease, so a running deployment we do not run lost its conductor.
        if (active !== undefined && !this.#runners.has(active.id)) await this.#failInterrupted(active);
        const next = (await ledger.queue(app, env))[0];
        if (next === undefined) {
          this.#draining.delete(key);
          await ledger.releaseLease(key, this.#o.instance);
          // A request recorded while we were letting go would otherwise wait for the next sweep.
          if ((await ledger.queue(app, env)).length === 0 || this.#draining.has(key) || this.#stopping) return;
          token = Symbol(key);
          this.#draining.set(key, token);
          continue;
        }
        await this.#run(next);
      }
    } finally {
      if (this.#draining.get(key) === token) this.#draining.delete(key);
      // A conductor that stops gives the lease up, so another starts what is queued at once, not once it runs out.
      if (this.#stopping) await ledger.releaseLease(key, this.#o.instance).catch(() => undefined);
    }
  }

  async #run(deployment: Deployment): Promise<void> {
    const key = leaseKey(deployment.app, deployment.env);
    this.#starting.set(key, deployment.id);
    try {
      await this.#runStarting(deployment);
    } finally {
      if (this.#starting.get(key) === deployment.id) this.#starting.delete(key);
      this.#pendingCancels.delete(deployment.id);
    }
  }

  async #runStarting(deployment: Deployment): Promise<void> {
    const { ledger, logger } = this.#o;
    const { id, app, env, ref, sha } = deployment;
    const stored = storedRequestOf(deployment);
    if (stored === undefined || sha === undefined) {
      await ledger.finish(id, { state: 'failed', at: new Date(), reason: 'the ledger holds no usable request options or commit for this deployment' });
      await this.#publishFailed(deployment, 'the ledger holds no usable request options or commit for this deployment');
      return;
    }
    // The roster before markRunning: a keepalive that does not answer leaves the deployment queued for a later try.
    // A rollout that starts right after its request uses the roster the request was checked against.
    const kept = this.#requestRosters.get(id);
    this.#requestRosters.delete(id);
    const roster = kept !== undefined && Date.now() - kept.at <= ROSTER_REUSE_MS ? kept.entries : await this.#roster();
    const selection = selectTargets(roster, app, env, stored.targets);
    const cancelFirst = this.#pendingCancels.get(id);
    if (cancelFirst !== undefined) return this.#cancelQueued(cancelFirst, deployment);
    // A lock taken while this deployment waited in the queue stops it too (unless an admin forced it):
    // it is cancelled, naming the lock, rather than started now or kept to start whenever the lock goes.
    const lock = stored.force === true ? undefined : await ledger.lockOf(env, app);
    if (lock !== undefined) {
      const reason = `${lock.app === undefined ? env : `${lock.app} in ${env}`} was locked by ${lock.by} at ${lock.at} (${JSON.stringify(lock.reason)}) before this deployment started; request it again once unlocked, or an admin may force it`;
      if (await ledger.finish(id, { state: 'cancelled', at: new Date(), reason, onlyFrom: ['queued'] })) {
        logger.info({ deploymentId: id, app, env, lockedBy: lock.by }, 'queued deployment cancelled: its environment was locked');
        await this.#publish(this.#o.bus.message('deploy.cancelled', { deploymentId: id, app, env, cancelledBy: lock.by, reason: reason.slice(0, 2048) }));
      }
      return;
    }
    if (!(await ledger.markRunning(id, new Date()))) {
      const now = await ledger.deployment(id);
      if (now !== undefined && now.state !== 'queued' && now.state !== 'running') return; // cancelled or superseded meanwhile
      logger.warn({ deploymentId: id }, 'deployment could not be marked running; another rollout of its app and environment runs');
      throw new Error(`deployment ${id} could not start: another rollout of ${app} in ${env} is running`);
    }
    if (!selection.ok) {
      await ledger.finish(id, { state: 'failed', at: new Date(), reason: selection.reason });
      await this.#publishFailed(deployment, `no targets when the rollout was to start: ${selection.reason}`);
      return;
    }
    let batches: string[][];
    try {
      batches = planRollout(selection.hosts, stored.rollout);
    } catch (error) {
      await ledger.finish(id, { state: 'failed', at: new Date(), reason: errorText(error) });
      await this.#publishFailed(deployment, errorText(error));
      return;
    }
    const previousReleases = new Map<string, string>();
    const previousRefs = new Map<string, string>();
    for (const t of selection.targets) {
      if (t.release !== undefined) previousReleases.set(t.host, t.release);
      if (t.ref !== undefined) previousRefs.set(t.host, t.ref);
    }
    /** Whether the ledger answered the runner's write of the outcome (written, or refused: someone else finished it). */
    let settled = false;
    const runner = new RolloutRunner(
      { deploymentId: id, app, env, ref, sha, requestedBy: deployment.requestedBy, batches, pauseMs: stored.rollout.pauseMs, hostTimeoutMs: stored.rollout.hostTimeoutMs, rollbackOnFailure: stored.rollout.rollbackOnFailure, previousReleases },
      {
        gateway: { send: (host, command) => this.#sendCommand(host, command) },
        commands: this.#signer,
        emit: (event) => this.#emitRolloutEvent(event, deployment, previousRefs),
        onEmitError: (error, event) => logger.error({ deploymentId: id, type: event.type, err: errorText(error) }, 'rollout event not published or recorded'),
        settle: async ({ status, reason }) => {
          const written = await ledger.finish(id, { state: status, at: new Date(), reason, onlyFrom: ['running'] });
          settled = true;
          if (!written) logger.error({ deploymentId: id, app, env, status }, 'the ledger has this deployment finished by another conductor (which took its app and environment over); its final event is not published');
          return written;
        },
        ...(this.#o.timer === undefined ? {} : { timer: this.#o.timer }),
      },
    );
    this.#runners.set(id, runner);
    const key = leaseKey(app, env);
    this.#starting.delete(key);
    const cancel = this.#pendingCancels.get(id);
    if (cancel !== undefined) {
      this.#pendingCancels.delete(id);
      await this.#cancelRunning(cancel, runner);
    }
    // A conductor that loses the lease (another took the app/env over, or the ledger could not be written
    // for a whole leaseTtlMs, after which another may) stops its rollout before the next batch: only one
    // conductor acts for an app and environment.
    let renewedAt = Date.now();
    const giveUp = (why: string): void => {
      if (runner.cancel('conductor', why)) logger.error({ deploymentId: id, app, env }, `${why}; the rollout stops before its next batch`);
    };
    const renew = setInterval(() => {
      ledger.renewLease(key, this.#o.instance, this.#o.leaseTtlMs, new Date()).then(
        (held) => {
          if (held) renewedAt = Date.now();
          else giveUp(`this conductor lost the lease of ${app} in ${env} to another conductor`);
        },
        (error: unknown) => {
          logger.warn({ deploymentId: id, err: errorText(error) }, 'lease not renewed');
          if (Date.now() - renewedAt >= this.#o.leaseTtlMs) giveUp(`the lease of ${app} in ${env} could not be renewed for ${this.#o.leaseTtlMs} ms (${errorText(error)}), so another conductor may take it over`);
        },
      );
    }, Math.max(1, Math.floor(this.#o.leaseTtlMs / 3)));
    try {
      logger.info({ deploymentId: id, app, env, ref, batches }, 'rollout starting');
      const result = await runner.run();
      // The runner writes the outcome before its final event; a write that failed then is tried once more.
      if (!settled) await ledger.finish(id, { state: result.status, at: new Date(), reason: result.reason, onlyFrom: ['running'] });
      logger.info({ deploymentId: id, status: result.status, reason: result.reason }, 'rollout finished');
    } finally {
      clearInterval(renew);
      this.#runners.delete(id);
    }
  }

  async #sendCommand(host: string, command: SignedCommand): Promise<void> {
    const queue = commandQueueName(host);
    if (!this.#declaredQueues.has(queue)) {
      // The agent's durable queue may not exist yet (agent never started): declared so the command waits in it.
      await this.#o.bus.declareQueue(queue, [commandRoutingKey(host)]);
      this.#declaredQueues.add(queue);
    }
    await this.#o.bus.publish(command);
  }

  /**
   * Publishes a rollout event (see #publish) and writes a host result's rows to the ledger beside it;
   * resolves when all are done. Hosts finishing together do not wait for each other's confirms and writes.
   */
  async #emitRolloutEvent(event: RolloutEvent, deployment: Deployment, previousRefs: ReadonlyMap<string, string>): Promise<void> {
    const message = this.#rolloutMessage(event);
    const work = [this.#publish(message)];
    if (event.type === 'deploy.host-result') work.push(this.#recordHostResult(event.payload, deployment, previousRefs));
    await Promise.all(work);
  }

  #rolloutMessage(event: RolloutEvent): Message {
    const { bus } = this.#o;
    switch (event.type) {
      case 'deploy.started':
        return bus.message(event.type, event.payload);
      case 'deploy.batch':
        return bus.message(event.type, event.payload);
      case 'deploy.host-result':
        return bus.message(event.type, event.payload);
      case 'deploy.succeeded':
        return bus.message(event.type, event.payload);
      case 'deploy.failed':
        return bus.message(event.type, event.payload);
      case 'deploy.cancelled':
        return bus.message(event.type, event.payload);
    }
  }

  async #recordHostResult(p: PayloadInputOf<'deploy.host-result'>, deployment: Deployment, previousRefs: ReadonlyMap<string, string>): Promise<void> {
    const { ledger } = this.#o;
    const at = new Date();
    // The ledger row changes here, not from a heartbeat: the host's next heartbeat is written whatever the
    // last one said (a rollback whose reply was lost, or a release changed by hand, shows then).
    this.#heartbeatReleases.delete(heartbeatKey(p.host, p.app, p.env));
    await ledger.recordHostResult(p.deploymentId, { host: p.host, outcome: p.outcome, release: p.release, durationMs: p.durationMs, error: p.error, at });
    if (p.release !== undefined && p.outcome === 'succeeded') {
      await ledger.recordRelease({ app: p.app, env: p.env, host: p.host, release: p.release, ref: deployment.ref, sha: deployment.sha, at });
    }
    const previousRef = previousRefs.get(p.host);
    if (p.release !== undefined && p.outcome === 'rolled-back' && previousRef !== undefined) {
      await ledger.recordRelease({ app: p.app, env: p.env, host: p.host, release: p.release, ref: previousRef, at });
    }
  }

  #onAgentReply(message: Message): void {
    if (!isMessageOfType(message, 'agent.reply')) {
      this.#o.logger.warn({ id: message.id, type: message.type }, 'not an agent.reply on the conductor reply address; ignored');
      return;
    }
    for (const runner of this.#runners.values()) {
      if (runner.deliverReply(message.payload)) return;
    }
    this.#o.logger.debug({ commandId: message.payload.commandId, host: message.payload.host, status: message.payload.status }, 'agent reply for no running rollout (late, or after a restart); ignored');
  }

  // ---- recovery ----

  /**
   * At start: a rollout left running by a conductor that is gone (its lease free) is failed. Queued
   * deployments never started, so they stay queued: start() drains them once it listens.
   */
  async #recover(): Promise<void> {
    const { ledger, logger } = this.#o;
    for (const [key, deployments] of groupByTarget(await ledger.unfinished())) {
      const running = deployments.filter((d) => d.state === 'running');
      if (running.length === 0) continue;
      if (!(await ledger.tryAcquireLease(key, this.#o.instance, this.#o.leaseTtlMs, new Date()))) continue;
      try {
        for (const d of running) await this.#failInterrupted(d);
      } finally {
        await ledger.releaseLease(key, this.#o.instance);
      }
    }
    logger.debug({}, 'recovery done');
  }

  /** Every leaseTtlMs: app/envs with unfinished deployments whose conductor is gone (or never came) are drained here. */
  async #sweep(): Promise<void> {
    try {
      for (const deployments of groupByTarget(await this.#o.ledger.unfinished()).values()) {
        const first = deployments[0];
        if (first !== undefined) this.#kick(first.app, first.env);
      }
    } catch (error) {
      this.#o.logger.warn({ err: errorText(error) }, 'ledger sweep failed; trying again later');
    }
  }

  /** Drops events older than the retention window; every conductor may prune (deletes are idempotent). */
  async #pruneEvents(retentionMs: number): Promise<void> {
    try {
      const pruned = await this.#o.ledger.pruneEventsBefore(new Date(Date.now() - retentionMs));
      if (pruned > 0) this.#o.logger.info({ pruned, retentionMs }, 'old events pruned from the event log');
    } catch (error) {
      this.#o.logger.warn({ err: errorText(error) }, 'event log not pruned; trying again later');
    }
  }

  async #failInterrupted(deployment: Deployment): Promise<void> {
    if (!(await this.#o.ledger.finish(deployment.id, { state: 'failed', at: new Date(), reason: RESTART_REASON }))) return;
    this.#o.logger.warn({ deploymentId: deployment.id, app: deployment.app, env: deployment.env, state: deployment.state }, 'unfinished deployment of a conductor that is gone, finished as failed');
    await this.#publishFailed(deployment, RESTART_REASON);
  }

  async #publishFailed(deployment: Deployment, reason: string): Promise<void> {
    const hosts = await this.#o.ledger.hostResults(deployment.id);
    const started = deployment.startedAt === undefined ? undefined : Date.parse(deployment.startedAt);
    await this.#publish(this.#o.bus.message('deploy.failed', {
      deploymentId: deployment.id,
      app: deployment.app,
      env: deployment.env,
      ref: deployment.ref,
      durationMs: started === undefined ? 0 : Math.max(0, Date.now() - started),
      succeededHosts: hosts.filter((h) => runsNewRelease(h.outcome)).map((h) => h.host),
      failedHosts: hosts.filter((h) => !runsNewRelease(h.outcome)).map((h) => h.host),
      reason: reason.slice(0, 4096),
    }));
  }

  // ---- the ledger's other inputs ----

  async #onBuild(message: Message): Promise<void> {
    if (isMessageOfType(message, 'build.succeeded')) {
      const p = message.payload;
      await this.#o.ledger.recordBuild({ repo: p.repo, sha: p.sha, status: 'succeeded', job: p.job, number: p.number, url: p.url, at: message.time });
    } else if (isMessageOfType(message, 'build.failed')) {
      const p = message.payload;
      // A build that never started has no number: nothing to record against the commit.
      if (p.number === undefined) return;
      await this.#o.ledger.recordBuild({ repo: p.repo, sha: p.sha, status: p.result === 'ABORTED' ? 'aborted' : 'failed', job: p.job, number: p.number, url: p.url, at: message.time });
    }
  }

  /** Records each app's release from an agent heartbeat, writing only when it changed since the last one seen. */
  async #onAgentHeartbeat(message: Message): Promise<void> {
    if (!isMessageOfType(message, 'heartbeat')) return;
    const p = message.payload;
    for (const app of p.apps ?? []) {
      if (app.release === undefined || app.ref === undefined) continue;
      const key = heartbeatKey(p.host, app.app, app.env);
      const seen = `${app.release}\u0000${app.ref}`;
      if (this.#heartbeatReleases.get(key) === seen) continue;
      await this.#o.ledger.recordRelease({ app: app.app, env: app.env, host: p.host, release: app.release, ref: app.ref, at: message.time });
      this.#heartbeatReleases.set(key, seen);
    }
  }

  async #onTaskLog(message: Message): Promise<void> {
    if (!isMessageOfType(message, 'task.log')) return;
    const p = message.payload;
    // A batch holds at most 1000 lines, so batch * 1000 + index orders every line of a host.
    const lines = p.lines.map((l, i) => ({ seq: p.seq * 1000 + i, line: l.text, at: l.at, stream: l.stream }));
    await this.#o.ledger.appendLogs(p.deploymentId, p.host, lines);
  }

  // ---- shared pieces ----

  /** Asks keepalive for the deploy-agents; the first complete answer, in keepaliveHosts order of arrival, wins. */
  async #roster(): Promise<RosterEntry[]> {
    const { bus, roster } = this.#o;
    const query = bus.message('roster.query', { service: 'deploy-agent' }, { expectReplies: true });
    let answered: (entries: RosterEntry[]) => void = () => undefined;
    const first = new Promise<RosterEntry[]>((resolve) => {
      answered = resolve;
    });
    const onReply = (_responder: string, reply: Message): void => {
      if (isMessageOfType(reply, 'roster.reply') && reply.payload.truncated !== true) answered(reply.payload.entries);
    };
    const all = bus.request(query, { expect: roster.keepaliveHosts, timeoutMs: roster.timeoutMs, onReply });
    const result = await Promise.race([first, all]);
    if (Array.isArray(result)) {
      void all.catch(() => undefined);
      return result;
    }
    for (const host of roster.keepaliveHosts) {
      const reply = result.replies.get(host);
      if (reply !== undefined && isMessageOfType(reply, 'roster.reply') && reply.payload.truncated !== true) return reply.payload.entries;
    }
    throw new RosterUnavailableError(roster.keepaliveHosts, result.missing.length > 0 ? `no answer within ${roster.timeoutMs} ms from ${result.missing.join(', ')}` : 'every answer was truncated');
  }

  /**
   * Publishes an event and records it in the event log: both handed on at once (each keeps the order
   * of calls), neither waiting for the other; a failed publish still leaves the record.
   */
  async #publish(message: Message): Promise<void> {
    await Promise.all([this.#o.bus.publish(message), this.#record(message)]);
  }

  async #record(message: Message): Promise<void> {
    const payload = message.payload as { deploymentId?: string; app?: string; env?: string };
    await this.#o.ledger.appendEvent({ id: message.id, type: message.type, deploymentId: payload.deploymentId, app: payload.app, env: payload.env, time: message.time, payload: message.payload });
  }
}

/** One id per request message, so a redelivered request finds its deployment instead of making a second. */
export function deploymentIdFor(requestId: string): string {
  return `d-${createHash('sha256').update(requestId).digest('hex').slice(0, 24)}`;
}

function leaseKey(app: string, env: string): string {
  return `deploy/${app}/${env}`;
}

function refOf(d: Deployment): DeploymentRef {
  return { deploymentId: d.id, app: d.app, env: d.env, ref: d.ref, requestedBy: d.requestedBy };
}

function groupByTarget(deployments: readonly Deployment[]): Map<string, Deployment[]> {
  const groups = new Map<string, Deployment[]>();
  for (const d of deployments) {
    const key = leaseKey(d.app, d.env);
    const group = groups.get(key) ?? [];
    group.push(d);
    groups.set(key, group);
  }
  return groups;
}

/** The request options stored with the deployment, read back through the request's own schema. */
function storedRequestOf(d: Deployment): StoredRequest | undefined {
  const options = d.options as Partial<StoredRequest> | null | undefined;
  const parsed = deployRequested.payload.safeParse({ app: d.app, env: d.env, ref: d.ref, requestedBy: d.requestedBy, targets: options?.targets, rollout: options?.rollout });
  return parsed.success ? { targets: parsed.data.targets, rollout: parsed.data.rollout, force: options?.force === true } : undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function cancelReason(message: Message<'deploy.cancel-requested'>): string {
  return `cancelled by ${message.payload.by}: ${message.payload.reason}`.slice(0, 2048);
}

function heartbeatKey(host: string, app: string, env: string): string {
  return `${host}\u0000${app}\u0000${env}`;
}
