// git-watcher: commit events from webhooks (GitHub, GitLab, Docker Hub images), from polling repos
// that have no hook, and from the spool dirs git hooks leave behind when the bus was unreachable.
import type { Bus } from '@deploybus/bus';
import { GitClient } from '@deploybus/git';
import { listenHttp, type DaemonDefinition, type Logger } from '@deploybus/runtime';
import { DeliveryGate } from './delivery-gate.js';
import type { DockerhubCallbackBody } from './dockerhub-callback.js';
import { RepoPoller, type LsRemoteLike } from './repo-poller.js';
import { startSpoolDrains, type SpoolDrainer } from './spool-drainer.js';
import { gitWatcherConfigSchema, stateFileOf, type GitWatcherConfig } from './watcher-config.js';
import { StateStore } from './watcher-state.js';
import { createWebhookApp } from './webhook-server.js';

export const GIT_WATCHER_VERSION = '0.1.0';

export interface GitWatcherDeps {
  readonly config: GitWatcherConfig;
  readonly bus: Bus;
  readonly logger: Logger;
  readonly git?: LsRemoteLike;
  readonly sendCallback?: (url: string, body: DockerhubCallbackBody) => Promise<void>;
}

export interface GitWatcher {
  /** Where the webhook server listens, e.g. http://127.0.0.1:8650. */
  readonly url: string;
  readonly poller: RepoPoller;
  readonly spools: SpoolDrainer;
  readonly store: StateStore;
  stop(): Promise<void>;
}

export async function startGitWatcher(deps: GitWatcherDeps): Promise<GitWatcher> {
  const { config, bus, logger } = deps;
  const store = new StateStore(stateFileOf(config), logger);
  await store.load();
  const gate = new DeliveryGate(store, config.deliveryMemory);
  if (config.dockerhub !== undefined && config.dockerhub.token === undefined) {
    logger.warn({}, 'dockerhub has no token: anyone who can reach /webhooks/dockerhub can announce an image push');
  }
  const app = createWebhookApp({
    bus,
    logger,
    gate,
    bodyLimitBytes: config.http.bodyLimitBytes,
    github: config.github,
    gitlab: config.gitlab,
    dockerhub: config.dockerhub,
    ...(deps.sendCallback ? { sendCallback: deps.sendCallback } : {}),
  });
  const http = await listenHttp(app, { port: config.http.port, host: config.http.host });
  const poller = new RepoPoller({ repos: config.repos, git: deps.git ?? new GitClient({ timeoutMs: 60_000 }), bus, store, logger });
  poller.start();
  const spools = startSpoolDrains({ dirs: config.spoolDirs, bus, logger, intervalMs: config.spoolDrainIntervalMs });
  logger.info({ url: http.url, repos: config.repos.length, spoolDirs: config.spoolDirs.length, github: config.github !== undefined, gitlab: config.gitlab !== undefined, dockerhub: config.dockerhub !== undefined }, 'git-watcher listening');
  return {
    url: http.url,
    poller,
    spools,
    store,
    async stop() {
      await http.close();
      await poller.stop();
      await spools.stop();
      await store.flush();
    },
  };
}

export const gitWatcherDefinition: DaemonDefinition<typeof gitWatcherConfigSchema> = {
  service: 'git-watcher',
  version: GIT_WATCHER_VERSION,
  configSchema: gitWatcherConfigSchema,
  start: (context) => startGitWatcher({ config: context.config, bus: context.bus, logger: context.logger }),
};
