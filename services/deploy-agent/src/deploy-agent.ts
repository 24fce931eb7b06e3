// deploy-agent: one per server. Consumes its durable command queue, checks every agent.command
// (signature, expiry, replay, host, app, env, ref) and refuses what fails with an agent.reply naming
// the reason, nothing run. Accepted commands are carried out one at a time per app: deploy, rollback,
// state, or an operator-defined action, with progress as task.* events and the outcome as a reply.
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Bus, BusLogger, Subscription } from '@deploybus/bus';
import { GitClient } from '@deploybus/git';
import { commandQueueName, commandRoutingKey, routingSegment, type Message, type PayloadInputOf } from '@deploybus/protocol';
import { ConfigError, type DaemonDefinition, type RunningDaemon } from '@deploybus/runtime';
import type { HeartbeatApps } from '@deploybus/runtime';
import { buildActionArgv } from './action-command.js';
import { appState, deployRelease, pruneReleases, RecordError, rollbackRelease, runAction, type OperationDeps, type OperationOutcome, type StepTime } from './app-operations.js';
import { checkCommand, type AgentCommand } from './command-check.js';
import { runCommand, type CommandRunner } from './command-runner.js';
import { deployAgentConfigSchema, loadTrustedKeys, type AppConfig, type DeployAgentConfig } from './config.js';
import { ExecutedCommands } from './executed-commands.js';
import { PreparedReleases } from './prepared-releases.js';
import { ReleaseDir } from './release-dir.js';
import { GitReleaseStrategy, type MirrorGit, type ReleaseStrategy } from './release-strategy.js';
import { ROLLBACK_FIRST_LOG_SEQ, TaskReporter } from './task-reporter.js';

export const SERVICE = 'deploy-agent';
export const VERSION = '0.1.0';
/** Heartbeats name at most this many prepared commits per app (the protocol's limit). */
const MAX_PREPARED_IN_HEARTBEAT = 20;
/**
 * Commands being taken at once (checked and their id written to disk); once taken, a command waits in
 * its app's queue without holding one of these, and each app's commands run one at a time (`serialized`).
 */
const COMMAND_CONCURRENCY = 16;

export interface DeployAgentDependencies {
  readonly config: DeployAgentConfig;
  readonly bus: Bus;
  readonly host: string;
  readonly logger: BusLogger;
  readonly git?: MirrorGit;
  readonly runCommand?: CommandRunner;
  readonly now?: () => Date;
}

export interface DeployAgent extends RunningDaemon {
  /** Handles one command as the bus would hand it over (exported for tests and the all-in-one process). */
  handle(message: Message): Promise<void>;
  /** Resolves once no command is running. */
  idle(): Promise<void>;
  apps(): HeartbeatApps;
}

type Reply = Omit<PayloadInputOf<'agent.reply'>, 'commandId' | 'host'>;

export async function startDeployAgent(deps: DeployAgentDependencies): Promise<DeployAgent> {
  const { config, bus, host, logger } = deps;
  const now = deps.now ?? (() => new Date());
  let pems: Map<string, string>;
  try {
    pems = loadTrustedKeys(config.trustedKeys);
  } catch (error) {
    throw new ConfigError('trustedKeys', error instanceof Error ? error.message : String(error), undefined, { cause: error });
  }
  // Parsed once here, not at every command's verification; a key that is not an Ed25519 key stops the agent now.
  const trustedKeys = new Map<string, KeyObject>();
  for (const [keyId, pem] of pems) {
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (error) {
      throw new ConfigError('trustedKeys', `key ${JSON.stringify(keyId)} is not a readable PEM key`, undefined, { cause: error });
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError('trustedKeys', `key ${JSON.stringify(keyId)} must be an Ed25519 public key (got ${key.asymmetricKeyType ?? key.type})`, undefined);
    trustedKeys.set(keyId, key);
  }
  if (trustedKeys.size === 0) logger.warn({}, 'no trustedKeys configured: every command will be refused');
  let executed: ExecutedCommands;
  try {
    executed = await ExecutedCommands.open(config.stateDir);
  } catch (error) {
    throw new ConfigError('stateDir', `cannot read the executed-commands file in ${config.stateDir} (${error instanceof Error ? error.message : String(error)})`, undefined, { cause: error });
  }
  const apps = new Map(config.apps.map((app) => [app.name, app]));
  const strategies: Record<AppConfig['strategy'], ReleaseStrategy> = {
    'git-release': new GitReleaseStrategy(deps.git ?? new GitClient({ allowedProtocols: config.allowedProtocols }), config.mirrorsDir),
  };
  const operationDeps: OperationDeps = { runCommand: deps.runCommand ?? runCommand, now };
  const appQueues = new Map<string, Promise<void>>();
  /** Ids of the commands being carried out now, until their final reply is sent. */
  const inHand = new Set<string>();
  const running = new Set<Promise<void>>();
  const snapshot = new Map<string, { release?: string; ref?: string; prepared?: string[] }>();
  const prepared = new Map(config.apps.filter((app) => app.preparedReleases > 0).map((app) => [app.name, new PreparedReleases(app.deployRoot, app.preparedReleases)]));
  for (const app of config.apps) {
    const trees = prepared.get(app.name);
    // Half-built leftovers of a crash go; so do the trees of an app that no longer prepares.
    await (trees === undefined ? new PreparedReleases(app.deployRoot, 0).clear() : trees.prune()).catch((error: unknown) => {
      logger.warn({ app: app.name, err: error instanceof Error ? error.message : String(error) }, 'prepared releases not tidied');
    });
  }

  /** What heartbeats say of an app: its current release and ref, and the commits prepared ahead (newest first). */
  const refreshSnapshot = async (app: AppConfig): Promise<void> => {
    const [state, trees] = await Promise.all([appState(app).catch(() => undefined), prepared.get(app.name)?.list().catch(() => []) ?? []]);
    const ready = trees.slice(-MAX_PREPARED_IN_HEARTBEAT).reverse();
    snapshot.set(app.name, { ...(state?.current ? { release: state.current } : {}), ...(state?.ref ? { ref: state.ref } : {}), ...(ready.length > 0 ? { prepared: ready } : {}) });
  };
  await Promise.all(config.apps.map(refreshSnapshot));

  const send = async (command: AgentCommand, reply: Reply): Promise<void> => {
    // Answered: from here on a copy of the command is a replay to refuse (the bus sends this reply first).
    if (reply.status !== 'accepted') inHand.delete(command.payload.commandId);
    if (command.replyTo === undefined) return;
    try {
      await bus.reply(command, bus.message('agent.reply', { commandId: command.payload.commandId, host, ...reply }, { correlationId: command.id }));
    } catch (error) {
      logger.warn({ commandId: command.payload.commandId, status: reply.status, err: error instanceof Error ? error.message : String(error) }, 'reply not sent');
    }
  };
  const refuse = async (command: AgentCommand, code: string, reason: string): Promise<void> => {
    logger.warn({ commandId: command.payload.commandId, action: command.payload.action, code, reason }, 'command refused');
    await send(command, { status: 'refused', error: `${code}: ${reason}`.slice(0, 4000) });
  };
  const finish = async (command: AgentCommand, outcome: OperationOutcome): Promise<void> => {
    logger.info({ commandId: command.payload.commandId, action: command.payload.action, ok: outcome.ok, failedStep: outcome.failedStep, release: outcome.release }, outcome.ok ? 'command succeeded' : 'command failed');
    await send(command, {
      status: outcome.ok ? 'succeeded' : 'failed',
      ...(outcome.release === undefined ? {} : { release: outcome.release }),
      ...(outcome.failedStep === undefined ? {} : { failedStep: outcome.failedStep }),
      ...(outcome.exitCode === undefined ? {} : { exitCode: outcome.exitCode }),
      ...(outcome.error === undefined ? {} : { error: outcome.error }),
      ...(outcome.result === undefined ? {} : { result: outcome.result }),
      steps: outcome.steps.slice(-100),
    });
  };
  const reporterFor = (command: AgentCommand, scope: { deploymentId: string; app: string; env: string }): TaskReporter =>
    new TaskReporter({ bus, logger, scope: { ...scope, host }, correlationId: command.id, batchMs: config.logBatchMs, batchLines: config.logBatchLines, firstSeq: command.payload.action === 'rollback' ? ROLLBACK_FIRST_LOG_SEQ : 0 });

  /** One command at a time per app, in arrival order. */
  const serialized = (app: string, work: () => Promise<void>): Promise<void> => {
    const previous = appQueues.get(app) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    appQueues.set(app, settled);
    running.add(settled);
    void settled.then(() => {
      running.delete(settled);
      if (appQueues.get(app) === settled) appQueues.delete(app);
    });
    return next;
  };

  const recordFailure = (error: unknown): string => `cannot record the command id in ${config.stateDir} (${error instanceof Error ? error.message : String(error)}); not run`;
  /** Waits for the command id to be on disk; false (and a failed reply) when it cannot be. */
  const onDisk = async (command: AgentCommand, recorded: Promise<void>): Promise<boolean> => {
    try {
      await recorded;
      return true;
    } catch (error) {
      const reason = recordFailure(error);
      logger.error({ commandId: command.payload.commandId }, reason);
      await send(command, { status: 'failed', failedStep: 'record', error: reason.slice(0, 4000) });
      return false;
    }
  };

  /** `recorded` resolves once the command id is on disk: awaited before anything a second run could repeat. */
  const carryOut = async (command: AgentCommand, expiresAtMs: number, recorded: Promise<void>): Promise<void> => {
    const payload = command.payload;
    if (payload.action === 'state') {
      if (!(await onDisk(command, recorded))) return;
      // One app whose deploy root cannot be read is named with the reason; the others are reported all the same.
      const states = await Promise.all(
        config.apps.map((app) =>
          appState(app).catch((error: unknown) => ({ app: app.name, env: app.env, current: null, ref: null, sha: null, releases: [], error: `cannot read ${app.deployRoot}: ${error instanceof Error ? error.message : String(error)}`.slice(0, 1000) })),
        ),
      );
      await send(command, { status: 'succeeded', result: { apps: states } });
      return;
    }
    const app = apps.get(payload.app);
    if (app === undefined) return; // checked before; kept for the type
    // Queued behind the app's earlier commands before anything is awaited, so they run in arrival order.
    await serialized(app.name, async () => {
      if (payload.action !== 'deploy' && !(await onDisk(command, recorded))) return;
      postpone(app.name);
      if (now().getTime() >= expiresAtMs) {
        await refuse(command, 'EXPIRED', `command expired at ${command.expiresAt ?? '?'} while waiting for an earlier command on app ${app.name}`);
        return;
      }
      try {
        if (payload.action === 'deploy') {
          const strategy = strategies[app.strategy];
          const start = performance.now();
          const trees = prepared.get(app.name);
          const reporter = reporterFor(command, { deploymentId: payload.deploymentId, app: app.name, env: app.env });
          // A fetch (the mirror lacks the ref) is a step a person watches like the others: it can be the longest.
          let fetchStart: number | undefined;
          const fetchEnded = (ok: boolean): number => {
            const durationMs = Math.round(performance.now() - (fetchStart ?? start));
            if (fetchStart !== undefined) reporter.completed('fetch', ok, durationMs);
            return durationMs;
          };
          // The conductor names the commit it resolved the ref to: a tree prepared for it needs no git at all.
          let resolved: { sha: string; fetched: boolean } | undefined;
          try {
            if (payload.sha !== undefined && trees !== undefined && (await trees.has(payload.sha))) resolved = { sha: payload.sha, fetched: false };
            else {
              resolved = await strategy.resolve(app, payload.sha ?? payload.ref, () => {
                fetchStart = performance.now();
                reporter.started('fetch');
              });
            }
          } catch (error) {
            fetchEnded(false);
            await reporter.drain();
            await send(command, { status: 'failed', failedStep: 'fetch', error: `fetch: ${error instanceof Error ? error.message : String(error)}`.slice(0, 4000) });
            return;
          }
          const fetchMs = fetchEnded(true);
          if (resolved === undefined) {
            await reporter.drain();
            const what = payload.sha === undefined ? `ref ${payload.ref}` : `commit ${payload.sha} (ref ${payload.ref})`;
            await refuse(command, 'UNKNOWN_REF', `${what} does not exist in the mirror of ${app.repo}, even after a fetch`);
            return;
          }
          if (resolved.fetched && now().getTime() >= expiresAtMs) {
            // The sender stopped waiting while the agent fetched (and reports this host as not having
            // taken the command): it must not deploy now.
            await reporter.drain();
            await refuse(command, 'EXPIRED', `command expired at ${command.expiresAt ?? '?'} while the agent fetched ${payload.ref} into its mirror (${fetchMs} ms); nothing was deployed`);
            return;
          }
          const steps: StepTime[] = resolved.fetched ? [{ name: 'fetch', durationMs: fetchMs }] : [];
          // Not awaited before the work starts: the bus keeps publish order, so it still reaches the
          // conductor before the final reply (which waits for it too).
          const accepted = send(command, { status: 'accepted' });
          // The id's sync overlaps the resolve and the checkout (a new directory nobody uses yet, so a
          // crash before the sync can only leave an unused directory); hooks and the switch wait for it.
          const written = recorded.catch((error: unknown) => {
            throw new RecordError(recordFailure(error));
          });
          written.catch(() => undefined); // deployRelease waits for it after the checkout
          const outcome = await deployRelease(operationDeps, strategy, reporter, { app, ref: payload.ref, sha: resolved.sha, recorded: written, prepared: trees }, steps);
          // Heartbeats name the new release no later than the reply does (a failure is read back from disk below).
          if (outcome.ok && outcome.release !== undefined) snapshot.set(app.name, { ...snapshot.get(app.name), release: outcome.release, ref: payload.ref });
          await accepted;
          await finish(command, outcome);
          if (outcome.ok) await tidyLater(app);
        } else if (payload.action === 'rollback') {
          const problem = payload.release === undefined ? undefined : await new ReleaseDir(app.deployRoot).unusable(payload.release);
          if (problem !== undefined) {
            await refuse(command, 'BAD_RELEASE', `${problem} (app ${app.name})`);
            return;
          }
          await send(command, { status: 'accepted' });
          await finish(command, await rollbackRelease(operationDeps, reporterFor(command, { deploymentId: payload.deploymentId, app: app.name, env: app.env }), app, payload.release));
        } else {
          const action = app.actions.find((candidate) => candidate.name === payload.name);
          if (action === undefined) {
            await refuse(command, 'UNKNOWN_ACTION', `app ${app.name} has no action ${JSON.stringify(payload.name)}`);
            return;
          }
          const built = buildActionArgv(action, payload.params);
          if (!built.ok) {
            await refuse(command, 'BAD_PARAMS', built.reason);
            return;
          }
          await send(command, { status: 'accepted' });
          await finish(command, await runAction(operationDeps, reporterFor(command, { deploymentId: payload.commandId, app: app.name, env: app.env }), app, action, payload.params));
        }
      } catch (error) {
        logger.error({ commandId: payload.commandId, err: error instanceof Error ? error.message : String(error) }, 'command failed unexpectedly');
        await send(command, { status: 'failed', failedStep: 'agent', error: `agent error: ${error instanceof Error ? error.message : String(error)}`.slice(0, 4000) });
      } finally {
        await refreshSnapshot(app);
      }
    });
  };

  /** Removes an app's old releases: now, or after pruneDelayMs without another command (see config). */
  const pruneTimers = new Map<string, NodeJS.Timeout>();
  /** Never rejects: it also runs from a timer, where a rejection would end the agent. */
  const prune = async (app: AppConfig): Promise<void> => {
    try {
      const current = await new ReleaseDir(app.deployRoot).current();
      if (current !== undefined) await pruneReleases(app, current);
    } catch (error) {
      logger.warn({ app: app.name, err: error instanceof Error ? error.message : String(error) }, 'old releases not pruned; tried again after the next deploy');
    }
  };
  const tidyLater = async (app: AppConfig): Promise<void> => {
    clearTimeout(pruneTimers.get(app.name));
    pruneTimers.delete(app.name);
    const count = (await new ReleaseDir(app.deployRoot).list().catch(() => [])).length;
    if (count <= app.keepReleases) return;
    if (app.pruneDelayMs === 0 || count > app.keepReleases + 5) {
      await prune(app);
      return;
    }
    const timer = setTimeout(() => {
      pruneTimers.delete(app.name);
      void serialized(app.name, () => prune(app));
    }, app.pruneDelayMs);
    timer.unref();
    pruneTimers.set(app.name, timer);
  };
  const postpone = (app: string): void => {
    const timer = pruneTimers.get(app);
    if (timer !== undefined) timer.refresh(); // a command came: tidy up once it has been quiet again
  };

  /** The newest commit each app waits to prepare; one preparation per app is queued at a time. */
  const toPrepare = new Map<string, string>();
  const prepareRelease = (app: AppConfig, trees: PreparedReleases, sha: string): void => {
    const queued = toPrepare.has(app.name);
    toPrepare.set(app.name, sha); // a newer build replaces one still waiting
    if (queued) return;
    // In the app's command order: a deploy arriving meanwhile waits for the tree, then takes it.
    void serialized(app.name, async () => {
      postpone(app.name);
      const wanted = toPrepare.get(app.name);
      toPrepare.delete(app.name);
      if (wanted === undefined) return;
      const dir = new ReleaseDir(app.deployRoot);
      const start = performance.now();
      try {
        const current = await dir.current();
        if (current !== undefined && (await dir.info(current)).sha === wanted) return; // already running it
        const built = await trees.prepare(wanted, (path) => strategies[app.strategy].build(app, wanted, path));
        if (built) {
          logger.info({ app: app.name, sha: wanted, durationMs: Math.round(performance.now() - start) }, 'release prepared');
          await refreshSnapshot(app); // the next heartbeat names it (and not the trees pruned to make room)
        }
      } catch (error) {
        logger.warn({ app: app.name, sha: wanted, err: error instanceof Error ? error.message : String(error) }, 'release not prepared; a deploy of it checks it out itself');
      }
    });
  };
  const onRepoUpdated = (message: Message): void => {
    if (message.type !== 'repo.updated' || message.payload.host !== host || message.payload.error !== undefined) return;
    const newest = message.payload.built?.at(-1);
    if (newest === undefined) return;
    for (const app of config.apps) {
      const trees = prepared.get(app.name);
      if (app.repo === message.payload.repo && trees !== undefined) prepareRelease(app, trees, newest.sha);
    }
  };

  const handle = async (message: Message): Promise<void> => {
    if (message.type !== 'agent.command') {
      logger.warn({ type: message.type }, 'not an agent.command; dropped');
      return;
    }
    const check = checkCommand(message, { host, trustedKeys, apps, commandMaxAgeMs: config.commandMaxAgeMs, maxClockSkewMs: config.maxClockSkewMs, alreadyExecuted: (id) => executed.has(id), now: now().getTime() });
    if (!check.ok) {
      if (check.code === 'REPLAYED' && inHand.has(message.payload.commandId)) {
        // The broker handed the command out again (a lost connection) while its first copy still runs
        // here: that run replies. A refusal now would reach the conductor first and report a host that
        // is deploying as refused.
        logger.info({ commandId: message.payload.commandId }, 'command delivered again while it runs; the run in progress answers');
        return;
      }
      await refuse(message, check.code, check.reason);
      return;
    }
    // Taken now (a replay is refused from here on) and on disk before anything runs that a
    // redelivery after a crash could run twice: carryOut waits for `recorded` before that.
    const recorded = executed.record(message.payload.commandId, check.expiresAtMs);
    recorded.catch(() => undefined); // handled where carryOut waits for it
    logger.info({ commandId: message.payload.commandId, action: message.payload.action, keyId: check.keyId }, 'command taken');
    const commandId = message.payload.commandId;
    inHand.add(commandId);
    const done = carryOut(message, check.expiresAtMs, recorded).finally(() => inHand.delete(commandId));
    const tracked = done.catch((error: unknown) => {
      logger.error({ commandId, err: error instanceof Error ? error.message : String(error) }, 'command ended with an error');
    });
    running.add(tracked);
    void tracked.then(() => running.delete(tracked));
    // The bus's slot is handed back once the id is on disk (a copy of the command is refused from then
    // on, so nothing is lost by acking it) and the command is in its app's queue, not when it ends:
    // otherwise commands waiting behind one app's long deploy would hold every slot, and other apps'
    // deploys and state queries would wait for that app.
    await Promise.race([tracked, recorded.catch(() => undefined)]);
  };

  // What repo-updater on this server fetched: private (each agent prepares its own trees) and not durable (a missed one only costs a deploy its checkout).
  const preparedRepos = [...new Set(config.apps.filter((app) => prepared.has(app.name)).map((app) => app.repo))];
  let updates: Subscription | undefined =
    preparedRepos.length === 0 ? undefined : await bus.subscribe({ patterns: preparedRepos.map((repo) => `repo.updated.${routingSegment(repo)}.${routingSegment(host)}`) }, onRepoUpdated);
  // What an earlier run left beyond keepReleases goes too, once the agent has been quiet a while.
  for (const app of config.apps) await tidyLater(app);
  // Commands are handled side by side (one app's long deploy does not hold up another app, nor a
  // state query); `serialized` keeps each app's commands one at a time, in arrival order.
  let subscription: Subscription | undefined = await bus.subscribe({ queue: commandQueueName(host), patterns: [commandRoutingKey(host)], prefetch: 64, concurrency: COMMAND_CONCURRENCY }, handle);
  logger.info({ queue: commandQueueName(host), apps: [...apps.keys()] }, 'deploy-agent listening');

  const idle = async (): Promise<void> => {
    while (running.size > 0) await Promise.all([...running]);
  };
  return {
    handle,
    idle,
    apps: () =>
      config.apps.map((app) => {
        const seen = snapshot.get(app.name);
        return {
          app: app.name,
          env: app.env,
          ...(seen?.release === undefined ? {} : { release: seen.release }),
          ...(seen?.ref === undefined ? {} : { ref: seen.ref }),
          ...(app.roles === undefined ? {} : { roles: app.roles }),
          ...(seen?.prepared === undefined ? {} : { prepared: seen.prepared }),
        };
      }),
    stop: async () => {
      await subscription?.unsubscribe();
      subscription = undefined;
      await updates?.unsubscribe();
      updates = undefined;
      toPrepare.clear();
      for (const timer of pruneTimers.values()) clearTimeout(timer);
      pruneTimers.clear();
      await idle();
      await executed.close();
    },
  };
}

export const deployAgent: DaemonDefinition<typeof deployAgentConfigSchema> = {
  service: SERVICE,
  version: VERSION,
  configSchema: deployAgentConfigSchema,
  start: (context) => startDeployAgent({ config: context.config, bus: context.bus, host: context.host, logger: context.logger }),
};
