// Every daemon in one process on one bus (in-memory by default): keepalive, the conductor with its
// embedded SQLite ledger, web (UI and HTTP API), the notifier (HTTP callbacks), git-watcher polling a demo repository, jenkins-trigger when a Jenkins is
// configured (else a stand-in builder), and a demo fleet of simulated servers, each with a repo-updater
// and a deploy-agent deploying into its own folder. Daemon logs go to files; the console gets one line
// per event.
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { connectBus, type Bus } from '@deploybus/bus';
import { startDaemon, type DaemonHandle, type Env } from '@deploybus/runtime';
import { gitWatcherDefinition } from '@deploybus/git-watcher';
import { jenkinsTrigger } from '@deploybus/jenkins-trigger';
import { keepaliveDaemon } from '@deploybus/keepalive';
import { repoUpdater } from '@deploybus/repo-updater';
import { conductorDaemon } from '@deploybus/conductor';
import { notifierDaemon } from '@deploybus/notifier';
import { createWebDaemon } from '@deploybus/web';
import { deployAgent } from '@deploybus/deploy-agent';
import { DEMO_APP, DEMO_SERVERS, demoAgentConfig, ensureSigningKeys, SIGNING_KEY_ID, type DemoServer } from './demo-fleet.js';
import { DEMO_USER, ensureDemoCredentials, type DemoCredentials } from './demo-credentials.js';
import { demoTags, ensureDemoRepo, type DemoRepo } from './demo-repo.js';
import { describeEvent } from './event-lines.js';
import { announceBuiltTags, startStandInBuilder } from './stand-in-builder.js';

export interface AllInOneOptions {
  readonly busUrl: string;
  readonly dataDir: string;
  readonly env: Env;
  readonly print: (line: string) => void;
  /** git-watcher's webhook port (0 picks a free one). */
  readonly webhookPort: number;
  /** The web UI and API's port on 127.0.0.1 (0 picks a free one). */
  readonly webPort: number;
  readonly pollIntervalMs?: number;
  readonly heartbeatIntervalMs?: number;
  /** How long each demo hook pauses, so the live view has something to show (default 1 s). */
  readonly demoStepDelaySeconds?: number;
}

export interface AllInOne {
  readonly repo: DemoRepo;
  readonly servers: readonly DemoServer[];
  readonly app: string;
  /** Where the web UI and the HTTP API listen. */
  readonly webUrl: string;
  /** The demo's sign-in and API token (generated once, kept in the data directory). */
  readonly credentials: DemoCredentials;
  readonly daemons: ReadonlyMap<string, DaemonHandle>;
  readonly tail: Bus;
  readonly builder: 'jenkins' | 'stand-in';
  stop(): Promise<void>;
}

export async function startAllInOne(options: AllInOneOptions): Promise<AllInOne> {
  const { dataDir, busUrl } = options;
  for (const dir of ['config', 'logs']) mkdirSync(join(dataDir, dir), { recursive: true });
  const repo = ensureDemoRepo(dataDir);
  const credentials = ensureDemoCredentials(dataDir);
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
    await tail.subscribe({ patterns: ['commit.pushed.#', 'build.#', 'repo.updated.#', 'presence.changed.#', 'deploy.#'] }, (m) => options.print(describeEvent(m)));
    await start('keepalive', keepaliveDaemon, { host: 'localhost' });
    const keys = ensureSigningKeys(dataDir);
    await start('conductor', conductorDaemon, {
      host: 'localhost',
      ledger: { url: `sqlite:${join(dataDir, 'ledger.db')}` },
      signing: { keyId: SIGNING_KEY_ID, privateKey: { file: keys.privateKeyFile } },
      roster: { keepaliveHosts: ['localhost'] },
      admins: [DEMO_USER],
      apps: { [DEMO_APP]: { repoUrl: repo.origin } },
    });
    for (const server of DEMO_SERVERS) {
      const { host } = server;
      await start(`repo-updater-${host}`, repoUpdater, { host, mirrorsDir: join(dataDir, 'servers', host, 'mirrors'), repos: [{ name: DEMO_APP, url: repo.origin }] });
      await start(`deploy-agent-${host}`, deployAgent, demoAgentConfig(server, { dataDir, origin: repo.origin, keys, stepDelaySeconds: options.demoStepDelaySeconds ?? 1 }));
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
      // The demo's tagged releases predate this process: the stand-in says they were built, so they pass the build gate.
      await announceBuiltTags(tail, DEMO_APP, demoTags(repo));
    }
    await start('git-watcher', gitWatcherDefinition, {
      host: 'localhost',
      http: { port: options.webhookPort, host: '127.0.0.1' },
      repos: [{ name: 'demo', url: repo.origin, pollIntervalMs: options.pollIntervalMs ?? 2_000 }],
      dataDir: join(dataDir, 'git-watcher'),
    });
    // HTTP callbacks: the demo lets subscriptions reach receivers on this machine only (a real notifier allows
    // the destinations its operator lists, and never loopback by default).
    await start('notifier', notifierDaemon, {
      host: 'localhost',
      store: { url: `sqlite:${join(dataDir, 'notifier.db')}` },
      destinations: { hosts: ['127.0.0.1', 'localhost'], cidrs: ['127.0.0.0/8'], ports: 'any', schemes: ['http', 'https'] },
    });
    let webUrl = '';
    await start('web', createWebDaemon({ onListening: (url) => (webUrl = url) }), {
      host: 'localhost',
      http: { host: '127.0.0.1', port: options.webPort },
      users: [{ name: DEMO_USER, password: { file: credentials.files.password } }],
      tokens: [{ name: 'demo-token', token: { file: credentials.files.token } }],
      sessionSecret: { file: credentials.files.sessionSecret },
      roster: { keepaliveHosts: ['localhost'] },
    });
    return { repo, servers: DEMO_SERVERS, app: DEMO_APP, webUrl, credentials, daemons, tail, builder: builderSubscription ? 'stand-in' : 'jenkins', stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
