// Every daemon deploybus has, by the name people type (`deploybus keepalive --config ...`). The
// all-in-one is the composition root, so the CLI reaches the daemons' definitions through here and
// services never import each other.
import type { runDaemon } from '@deploybus/runtime';
import { conductorDaemon } from '@deploybus/conductor';
import { deployAgent } from '@deploybus/deploy-agent';
import { gitWatcherDefinition } from '@deploybus/git-watcher';
import { jenkinsTrigger } from '@deploybus/jenkins-trigger';
import { keepaliveDaemon } from '@deploybus/keepalive';
import { notifierDaemon } from '@deploybus/notifier';
import { repoUpdater } from '@deploybus/repo-updater';
import { webDaemon } from '@deploybus/web';

/** Any daemon's definition, as runDaemon and startDaemon take it. */
export type AnyDaemonDefinition = Parameters<typeof runDaemon>[0];

export const DAEMONS = {
  keepalive: keepaliveDaemon,
  conductor: conductorDaemon,
  'deploy-agent': deployAgent,
  notifier: notifierDaemon,
  'git-watcher': gitWatcherDefinition,
  'jenkins-trigger': jenkinsTrigger,
  'repo-updater': repoUpdater,
  web: webDaemon,
} as const satisfies Record<string, AnyDaemonDefinition>;

export type DaemonName = keyof typeof DAEMONS;

export const DAEMON_NAMES = Object.keys(DAEMONS) as DaemonName[];

export function isDaemonName(name: string): name is DaemonName {
  return Object.hasOwn(DAEMONS, name);
}

/** The definition of the daemon called `name`, widened to what runDaemon takes. */
export function daemonDefinition(name: DaemonName): AnyDaemonDefinition {
  return DAEMONS[name];
}
