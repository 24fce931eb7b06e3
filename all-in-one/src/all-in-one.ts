// Every daemon in one process on one bus (in-memory by default): keepalive, git-watcher polling a
// demo repository, jenkins-trigger when a Jenkins is configured (else a stand-in builder), and
// repo-updater on two simulated servers. Daemon logs go to files; the console gets one line per event.
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { connectBus, type Bus } from '@deploybus/bus';
import { startDaemon, type DaemonHandle, type Env } from '@deploybus/runtime';
import { gitWatcherDefinition } from '@deploybus/git-watcher';
import { jenkinsTrigger } from '@deploybus/jenkins-trigger';
import { keepaliveDaemon } from '@deploybus/keepalive';
import { repoUpdater } from '@deploybus/repo-updater';
import { ensureDemoRepo, type DemoRepo } from './demo-repo.js';
import { describeEvent } from './event-lines.js';
import { startStandInBuilder } from './stand-in-builder.js';

export interface AllInOneOptions {
  readonly busUrl: string;
  readonly dataDir: string;
  readonly env: Env;
  readonly print: (line: string) => void;
  /** git-watcher's webhook port (0 picks a free one). */
  readonly webhookPort: number;
  readonly pollIntervalMs?: number;
  readonly heartbeatIntervalMs?: number;
}

export interface AllInOne {
  readonly repo: DemoRepo;
  readonly servers: readonly string[];
  readonly daemons: ReadonlyMap<string, DaemonHandle>;
  readonly tail: Bus;
  readonly builder: 'jenkins' | 'stand-in';
  stop(): Promise<void>;
}

export const SIMULATED_SERVERS = ['web1', 'web2'] as const;

export async function startAllInOne(options: AllInOneOptions): Promise<AllInOne> {
  const { dataDir, busUrl } = options;
  for (const dir of ['config', 'logs']) mkdirSync(join(dataDir, dir), { recursive: true });
  const repo = ensureDemoRepo(dataDir);
  const daemons = new Map<string, DaemonHandle>();
  const logFiles: WriteStream[] = [];
  const common = { bus: { url: busUrl }, logLevel: 'info', heartbeatIntervalMs: options.heartbeatIntervalMs ?? 5_000 };

  const start = async <S extends Parameters<typeof startDaemon>[0]['configSchema']>(
    name: string,
    definition: Parameters<typeof startDaemon<S>>[0],
    config: Record<string, unknown>,
  ): Promise<void> => {
    const configFile = join(dataDir, 'config', `${name}.json`);
    writeFileSync(configFile, JSON.stringify({ ...common, ...config }, null, 2));
    const log = createWriteStream(join(dataDir, 'logs', `${name}.log`), { flags: 'a' });
    logFiles.push(log);
    // The bus URL comes from the config file written above, not from the environment.
    const env = { ...options.env, DEPLOYBUS_BUS_URL: undefined, DEPLOYBUS_HOST: undefined, DEPLOYBUS_CONFIG: undefined };
    daemons.set(name, await startDaemon(definition, { configFile, env, logDestination: log }));
  };

  const tail = await connectBus(busUrl, { service: 'all-in-one', host: 'localhost' });
  let builderSubscription: { unsubscribe(): Promise<void> } | undefined;
  const stop = async (): Promise<void> => {
    await builderSubscription?.unsubscribe().catch(() => undefined);
    for (const handle of [...daemons.values()].reverse()) await handle.stop().catch(() => undefined);
    await tail.close();
    await Promise.all(logFiles.map((f) => new Promise((resolve) => f.end(resolve))));
  };

  try {
    await tail.subscribe({ patterns: ['commit.pushed.#', 'build.#', 'repo.updated.#', 'presence.changed.#'] }, (m) => options.print(describeEvent(m)));
    await start('keepalive', keepaliveDaemon, { host: 'localhost' });
    for (const host of SIMULATED_SERVERS) {
      await start(`repo-updater-${host}`, repoUpdater, { host, mirrorsDir: join(dataDir, 'servers', host, 'mirrors'), repos: [{ name: 'demo', url: repo.origin }] });
    }
    const jenkinsUrl = options.env['DEPLOYBUS_JENKINS_URL'];
    if (jenkinsUrl !== undefined && jenkinsUrl !== '') {
      await start('jenkins-trigger', jenkinsTrigger, {
        host: 'localhost',
        jenkins: { url: jenkinsUrl, user: options.env['DEPLOYBUS_JENKINS_USER'] ?? 'deploybus', token: { env: 'DEPLOYBUS_JENKINS_TOKEN' } },
        jobs: [{ repo: 'demo', refs: ['refs/heads/**'], job: options.env['DEPLOYBUS_JENKINS_JOB'] ?? 'demo' }],
        notify: { http: { port: 0, host: '127.0.0.1' }, token: { env: 'DEPLOYBUS_JENKINS_TOKEN' } },
        stateFile: join(dataDir, 'jenkins-trigger', 'state.json'),
      });
    } else {
      builderSubscription = await startStandInBuilder(tail);
    }
    await start('git-watcher', gitWatcherDefinition, {
      host: 'localhost',
      http: { port: options.webhookPort, host: '127.0.0.1' },
      repos: [{ name: 'demo', url: repo.origin, pollIntervalMs: options.pollIntervalMs ?? 2_000 }],
      dataDir: join(dataDir, 'git-watcher'),
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { repo, servers: SIMULATED_SERVERS, daemons, tail, builder: builderSubscription ? 'stand-in' : 'jenkins', stop };
}
