// repo-updater: on every server, keeps the bare mirrors of the repositories this server carries
// fresh after green builds (and pushes, where configured), and refreshes the package index when a
// package it cares about is published. Every server must act on every event, so its subscription
// is private, not a shared work queue. Values from messages are checked before anything uses them,
// and only select configured repositories: no URL, path or command ever comes from a message.
import { mkdir } from 'node:fs/promises';
import type { Bus, BusLogger, Subscription } from '@deploybus/bus';
import { GitClient, mirrorPath } from '@deploybus/git';
import { FULL_SHA_PATTERN, NAME_PATTERN, validateRefName, type Message } from '@deploybus/protocol';
import { ConfigError, type DaemonDefinition, type RunningDaemon } from '@deploybus/runtime';
import { repoUpdaterConfigSchema, type RepoConfig, type RepoUpdaterConfig } from './config.js';
import { MirrorSet, type MirrorGit, type MirrorReport, type MirrorTrigger, type SleepFunction } from './mirror-set.js';
import { PackageRefreshQueue, type PackageEvent } from './package-refresh-queue.js';
import { runRefreshCommand, type RefreshCommandRunner, type RefreshOutcome } from './package-refresher.js';
import { carriesRepo } from './patterns.js';

export const SERVICE = 'repo-updater';
export const VERSION = '0.1.0';

export interface RepoUpdaterDependencies {
  readonly config: RepoUpdaterConfig;
  readonly bus: Bus;
  readonly host: string;
  readonly logger: BusLogger;
  /** Defaults to a GitClient with the configured transports and timeout. */
  readonly git?: MirrorGit;
  /** Defaults to the configured refresh command run with execa. */
  readonly runRefresh?: RefreshCommandRunner;
  readonly sleep?: SleepFunction;
}

export interface RepoUpdater extends RunningDaemon {
  readonly mirrors: MirrorSet;
  readonly packages: PackageRefreshQueue;
  /** Resolves once no fetch or refresh is running or waiting. */
  idle(): Promise<void>;
}

/** What an incoming message asks of this server, decided from the message and the config alone. */
export type EventDecision =
  | { readonly kind: 'fetch'; readonly repo: string; readonly trigger: MirrorTrigger }
  | { readonly kind: 'refresh'; readonly event: PackageEvent }
  | { readonly kind: 'ignore'; readonly reason: string }
  | { readonly kind: 'refuse'; readonly reason: string };

/** Decides what to do with a message; `refuse` is for values that fail validation, `ignore` for ones meant for other servers. */
export function decideEvent(message: Message, carried: ReadonlyMap<string, RepoConfig>, configured: ReadonlySet<string>, packages: PackageRefreshQueue): EventDecision {
  if (message.type === 'build.succeeded' || message.type === 'commit.pushed') {
    const { repo, ref } = message.payload;
    if (typeof repo !== 'string' || !NAME_PATTERN.test(repo)) return { kind: 'refuse', reason: 'repository name is not a valid name' };
    const refCheck = typeof ref === 'string' ? validateRefName(ref) : { ok: false as const, reason: 'missing' };
    if (!refCheck.ok) return { kind: 'refuse', reason: `ref refused: ${refCheck.reason}` };
    const repoConfig = carried.get(repo);
    if (repoConfig === undefined) return { kind: 'ignore', reason: configured.has(repo) ? 'repository not carried by this server' : 'repository not configured' };
    if (!repoConfig.fetchOn.includes(message.type)) return { kind: 'ignore', reason: `repository does not fetch on ${message.type}` };
    const trigger: MirrorTrigger = { reason: message.type, messageId: message.id };
    if (message.type === 'build.succeeded' && FULL_SHA_PATTERN.test(message.payload.sha)) return { kind: 'fetch', repo, trigger: { ...trigger, build: { ref, sha: message.payload.sha } } };
    return { kind: 'fetch', repo, trigger };
  }
  if (message.type === 'package.updated') {
    const { package: name, version } = message.payload;
    if (!packages.wants(name)) return { kind: 'ignore', reason: 'package not among packages.names' };
    return { kind: 'refresh', event: { package: name, version, messageId: message.id } };
  }
  return { kind: 'ignore', reason: `message type ${message.type} is not one repo-updater handles` };
}

export async function startRepoUpdater(deps: RepoUpdaterDependencies): Promise<RepoUpdater> {
  const { config, bus, host, logger } = deps;
  const carried = new Map(config.repos.filter((repo) => carriesRepo(repo.hosts, host)).map((repo) => [repo.name, repo]));
  const configured = new Set(config.repos.map((repo) => repo.name));
  try {
    await mkdir(config.mirrorsDir, { recursive: true });
  } catch (error) {
    throw new ConfigError('mirrorsDir', `cannot create ${config.mirrorsDir} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, undefined, { cause: error });
  }

  const mirrors = new MirrorSet({
    repos: [...carried.values()].map((repo) => ({ name: repo.name, url: repo.url, path: mirrorPath(config.mirrorsDir, repo.name) })),
    git: deps.git ?? new GitClient({ allowedProtocols: config.allowedProtocols, timeoutMs: config.fetch.timeoutMs }),
    retries: config.fetch.retries,
    initialDelayMs: config.fetch.initialDelayMs,
    logger,
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    report: (report, triggers) => publishRepoUpdated(bus, host, report, triggers),
  });
  const packages = new PackageRefreshQueue({
    names: config.packages.names,
    runCommand: deps.runRefresh ?? (() => runRefreshCommand(config.packages.refreshCommand, { timeoutMs: config.packages.timeoutMs })),
    logger,
    report: (outcome, events) => publishPackageRefreshed(bus, host, outcome, events),
  });

  const onMessage = (message: Message): void => {
    const decision = decideEvent(message, carried, configured, packages);
    switch (decision.kind) {
      case 'fetch':
        void mirrors.update(decision.repo, decision.trigger);
        return;
      case 'refresh':
        void packages.offer(decision.event);
        return;
      case 'refuse':
        logger.warn({ id: message.id, type: message.type, source: message.source, payload: printable(message.payload), reason: decision.reason }, 'message refused');
        return;
      case 'ignore':
        logger.debug({ id: message.id, type: message.type, reason: decision.reason }, 'message ignored');
        return;
    }
  };

  const patterns = ['build.succeeded.*'];
  if ([...carried.values()].some((repo) => repo.fetchOn.includes('commit.pushed'))) patterns.push('commit.pushed.*');
  if (config.packages.names.length > 0) patterns.push('package.updated.*');
  // Private: every server carrying a repository must fetch it, so no instance may take an event from another.
  const subscription: Subscription = await bus.subscribe({ patterns }, onMessage);
  logger.info({ carried: [...carried.keys()], patterns, mirrorsDir: config.mirrorsDir }, 'repo-updater listening');

  // Brings every mirror into being (or up to date after downtime) and reports its state.
  void mirrors.updateAll({ reason: 'start' });

  return {
    mirrors,
    packages,
    idle: async () => {
      await Promise.all([mirrors.idle(), packages.idle()]);
    },
    stop: async () => {
      await subscription.unsubscribe().catch((error: unknown) => logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'unsubscribe failed'));
      await Promise.all([mirrors.close(), packages.close()]);
    },
  };
}

async function publishRepoUpdated(bus: Bus, host: string, report: MirrorReport, triggers: readonly MirrorTrigger[]): Promise<void> {
  const cause = triggers.findLast((trigger) => trigger.messageId !== undefined)?.messageId;
  // The newest 100 green builds this fetch covered, oldest first (a burst coalesced into one fetch).
  const built = triggers.flatMap((trigger) => (trigger.build === undefined ? [] : [trigger.build])).slice(-100);
  const message = bus.message(
    'repo.updated',
    {
      repo: report.repo,
      host,
      tags: [...report.tags],
      ...(report.head === undefined ? {} : { head: report.head }),
      ...(report.error === undefined ? {} : { error: report.error }),
      ...(report.error === undefined && built.length > 0 ? { built } : {}),
    },
    cause === undefined ? {} : { correlationId: cause },
  );
  await bus.publish(message);
}

async function publishPackageRefreshed(bus: Bus, host: string, outcome: RefreshOutcome, events: readonly PackageEvent[]): Promise<void> {
  for (const event of events) {
    const message = bus.message(
      'package.refreshed',
      {
        host,
        package: event.package,
        version: event.version,
        ok: outcome.ok,
        durationMs: outcome.durationMs,
        ...(outcome.exitCode === undefined ? {} : { exitCode: outcome.exitCode }),
        ...(outcome.error === undefined ? {} : { error: outcome.error }),
      },
      event.messageId === undefined ? {} : { correlationId: event.messageId },
    );
    await bus.publish(message);
  }
}

/** A payload as a log field, cut short: hostile values are shown, never used. */
function printable(payload: unknown): string {
  return JSON.stringify(payload).slice(0, 500);
}

export const repoUpdater: DaemonDefinition<typeof repoUpdaterConfigSchema> = {
  service: SERVICE,
  version: VERSION,
  configSchema: repoUpdaterConfigSchema,
  start: (context) => startRepoUpdater({ config: context.config, bus: context.bus, host: context.host, logger: context.logger }),
};
