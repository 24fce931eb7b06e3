// The deploybus side of the deploy bench: a conductor, N deploy-agents (each its own daemon with its
// own bus connection, mirror, state dir and deploy root), beside each agent a repo-updater sharing its
// host name and mirror (as on a server), and a stand-in keepalive that answers roster.query with the fleet. A client publishes deploy.requested and waits for the deployment's
// deploy.succeeded. The conductor, keepalive and client run in this process, and so do the agents
// unless `agentProcesses` is set: then each agent runs as its own `node services/deploy-agent/dist/main.js`
// process, as on a real fleet (one per server). On one 2-core machine that is the costlier way (N cold
// V8 processes share the CPUs), where in one process every git and hook process an agent starts is
// forked from one big Node process.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { connectBus, type Bus } from '@deploybus/bus';
import { conductorDaemon } from '@deploybus/conductor';
import { AGENT_NODE_FLAGS, deployAgent } from '@deploybus/deploy-agent';
import { repoUpdater } from '@deploybus/repo-updater';
import { commandQueueName, generateSigningKeyPair, isMessageOfType, type Message } from '@deploybus/protocol';
import { startDaemon, type DaemonHandle } from '@deploybus/runtime';
import { uniqueWord } from './bench-names.js';
import { withDeadline } from './deadline.js';

export const APP = 'shop';
export const ENV = 'production';
const KEY_ID = 'deploy-bench';
const FINAL = new Set(['deploy.succeeded', 'deploy.failed', 'deploy.cancelled']);

/** A deploy the conductor ended as failed or cancelled: a result to report, not a broken bench. */
export class DeployFailedError extends Error {
  readonly code = 'DEPLOY_FAILED';
  constructor(
    readonly ref: string,
    readonly outcome: string,
    readonly reason: string,
  ) {
    super(`deployment of ${ref} ended ${outcome}: ${reason}`);
    this.name = 'DeployFailedError';
  }
}

/** One deploy's times in seconds from publishing deploy.requested: where the total went. */
export interface DeployTiming {
  readonly total: number;
  /** The conductor's deploy.queued answer (roster query, ref resolution by ls-remote, gates, ledger). */
  readonly queued: number;
  /** deploy.started: the rollout began (a second roster query, lease, ledger). */
  readonly started: number;
  readonly firstHostResult: number;
  readonly lastHostResult: number;
  /** Median of the hosts' own durations (command sent -> final reply) as the conductor reports them. */
  readonly hostMedian: number;
  /** Bus connections of the fleet that were lost (and reconnected) during this deploy: the broker was restarted or dropped us. */
  readonly connectionsLost: number;
}

export interface FleetOptions {
  readonly busUrl: string;
  readonly size: number;
  /** Where this fleet's dirs go (agents/<i>/{mirrors,state,deploy}, the ledger, config files). */
  readonly dir: string;
  /** The origin repository the mirrors are cloned from and the conductor resolves tags against. */
  readonly originPath: string;
  /** Each agent's preDeploy hook (undefined: no hook). */
  readonly preDeploy: readonly string[] | undefined;
  readonly deployTimeoutMs: number;
  /** Each agent in its own process, instead of all in this one (the default). */
  readonly agentProcesses?: boolean;
}

const AGENT_MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'services', 'deploy-agent', 'dist', 'main.js');

/** Starts one agent process and resolves once it says it started; rejects (and kills it) when it exits or takes longer than 60 s. */
function startAgentProcess(configFile: string, host: string): Promise<ChildProcess> {
  // As the shipped systemd units and container start it: with the agent's node flags.
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, AGENT_MAIN, '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp' } });
  let output = '';
  let started = false;
  const onData = (chunk: Buffer): void => {
    if (started) return; // later lines are drained and dropped
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return withDeadline(`agent ${host} to start`, 60_000, () =>
    new Promise<ChildProcess>((resolve, reject) => {
      const check = (): void => {
        if (!started && output.includes('deploy-agent started')) {
          started = true;
          resolve(child);
        }
      };
      child.stdout?.on('data', check);
      child.once('exit', (code, signal) => reject(new Error(`agent ${host} exited (${code ?? signal ?? '?'}) before it started: ${output.slice(-1000)}`)));
    }),
  ).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
}

async function stopAgentProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await withDeadline('an agent process to stop', 15_000, exited).catch(() => child.kill('SIGKILL'));
}

export interface AgentPaths {
  readonly host: string;
  readonly mirror: string;
  readonly deployRoot: string;
}

/** Polls `ready` every 20 ms until it holds. */
async function until(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((resolve) => setTimeout(resolve, 20));
}

export class DeployFleet {
  private readonly handles: DaemonHandle[] = [];
  private readonly processes: ChildProcess[] = [];
  private readonly buses: Bus[] = [];
  private readonly events: Message[] = [];
  private readonly waiters = new Map<string, (event: Message) => void>();
  /** Arrival times (performance.now()) of deploy.started and deploy.host-result per deployment. */
  private readonly marks = new Map<string, { started?: number; hostResults: number[]; hostDurations: number[] }>();
  private client: Bus | undefined;
  private connectionsLost = 0;
  private readonly conductorHost = uniqueWord('ops');
  readonly agents: AgentPaths[];

  private constructor(private readonly options: FleetOptions) {
    this.agents = Array.from({ length: options.size }, (_, i) => {
      const root = join(options.dir, 'agents', String(i));
      return { host: uniqueWord(`agent${i}-`), mirror: join(root, 'mirrors', `${APP}.git`), deployRoot: join(root, 'deploy', APP) };
    });
  }

  /** Starts everything; on a failure stops what started and rethrows. */
  static async start(options: FleetOptions): Promise<DeployFleet> {
    const fleet = new DeployFleet(options);
    try {
      await fleet.startAll();
      return fleet;
    } catch (error) {
      await fleet.stop();
      throw error;
    }
  }

  private async startAll(): Promise<void> {
    const { busUrl, dir } = this.options;
    await mkdir(dir, { recursive: true });
    const keys = generateSigningKeyPair();
    const keepaliveHost = uniqueWord('ka');

    const keepalive = await connectBus(busUrl, { service: 'keepalive', host: keepaliveHost });
    this.buses.push(keepalive);
    this.watch(keepalive);
    await keepalive.subscribe({ patterns: ['roster.query'] }, async (query) => {
      const now = new Date().toISOString();
      const entries = this.agents.map((agent) => ({
        service: 'deploy-agent',
        host: agent.host,
        instance: `${agent.host}-1`,
        version: '0.1.0',
        state: 'up' as const,
        firstSeen: now,
        lastSeen: now,
        uptimeMs: 1000,
        intervalMs: 10_000,
        apps: [{ app: APP, env: ENV }],
      }));
      await keepalive.reply(query, keepalive.message('roster.reply', { entries, observer: `${keepaliveHost}-1` }, { correlationId: query.id }));
    });

    const conductorFile = join(dir, 'conductor.json');
    await writeFile(
      conductorFile,
      JSON.stringify({
        logLevel: 'warn',
        host: this.conductorHost,
        bus: { url: busUrl },
        heartbeatIntervalMs: 60_000,
        ledger: { url: `sqlite:${join(dir, 'ledger.db')}` },
        signing: { keyId: KEY_ID, privateKey: { env: 'DEPLOY_BENCH_KEY' } },
        roster: { keepaliveHosts: [keepaliveHost], timeoutMs: 10_000 },
        admins: ['bench'],
        apps: { [APP]: { repoUrl: this.options.originPath } },
      }),
    );
    const conductor = await startDaemon(conductorDaemon, { configFile: conductorFile, env: { DEPLOY_BENCH_KEY: keys.privateKey }, logDestination: process.stderr });
    this.handles.push(conductor);
    this.watch(conductor.context.bus);

    // Agents start a few at a time: each opens its own broker connection.
    const startOne = async (agent: AgentPaths, i: number): Promise<void> => {
      const root = join(dir, 'agents', String(i));
      const file = join(root, 'deploy-agent.json');
      await mkdir(root, { recursive: true });
      await writeFile(
        file,
        JSON.stringify({
          // info: an agent process says "deploy-agent started" when it is ready
          logLevel: this.options.agentProcesses === true ? 'info' : 'warn',
          host: agent.host,
          bus: { url: busUrl },
          heartbeatIntervalMs: 60_000,
          mirrorsDir: join(root, 'mirrors'),
          stateDir: join(root, 'state'),
          allowedProtocols: ['file'],
          trustedKeys: [{ keyId: KEY_ID, publicKey: keys.publicKey }],
          apps: [
            {
              name: APP,
              env: ENV,
              repo: APP,
              url: this.options.originPath,
              deployRoot: agent.deployRoot,
              keepReleases: 3,
              hooks: this.options.preDeploy === undefined ? {} : { preDeploy: [...this.options.preDeploy] },
            },
          ],
        }),
      );
      if (this.options.agentProcesses === true) {
        this.processes.push(await startAgentProcess(file, agent.host));
        return;
      }
      const handle = await startDaemon(deployAgent, { configFile: file, env: {}, logDestination: process.stderr });
      this.handles.push(handle);
      this.watch(handle.context.bus);
    };
    // repo-updater beside each agent: same host name and mirrors dir. It clones the mirror at start;
    // the agents start once that is done, so the two never make the same mirror at once.
    const startUpdater = async (agent: AgentPaths, i: number): Promise<void> => {
      const file = join(dir, 'agents', String(i), 'repo-updater.json');
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, JSON.stringify({ logLevel: 'warn', host: agent.host, bus: { url: busUrl }, heartbeatIntervalMs: 60_000, mirrorsDir: dirname(agent.mirror), allowedProtocols: ['file'], repos: [{ name: APP, url: this.options.originPath }] }));
      const handle = await startDaemon(repoUpdater, { configFile: file, env: {}, logDestination: process.stderr });
      this.handles.push(handle);
      this.watch(handle.context.bus);
    };
    const cloned = new Set<string>();
    const clones = await keepalive.subscribe({ patterns: ['repo.updated.#'] }, (message) => {
      if (message.type === 'repo.updated' && message.payload.error === undefined) cloned.add(message.payload.host);
    });
    for (let i = 0; i < this.agents.length; i += 10) await Promise.all(this.agents.slice(i, i + 10).map((agent, j) => startUpdater(agent, i + j)));
    await withDeadline(`${this.agents.length} repo-updaters to clone their mirrors`, 120_000, until(() => this.agents.every((agent) => cloned.has(agent.host))));
    await clones.unsubscribe();
    for (let i = 0; i < this.agents.length; i += 10) await Promise.all(this.agents.slice(i, i + 10).map((agent, j) => startOne(agent, i + j)));

    const client = await connectBus(busUrl, { service: 'cli', host: uniqueWord('bench') });
    this.buses.push(client);
    this.watch(client);
    this.client = client;
    await client.subscribe({ patterns: ['deploy.#'] }, (event) => {
      const id = (event.payload as { deploymentId?: unknown }).deploymentId;
      if (typeof id !== 'string') return;
      const marks = this.marks.get(id) ?? { hostResults: [], hostDurations: [] };
      this.marks.set(id, marks);
      if (event.type === 'deploy.started') marks.started = performance.now();
      if (isMessageOfType(event, 'deploy.host-result')) {
        marks.hostResults.push(performance.now());
        if (event.payload.durationMs !== undefined) marks.hostDurations.push(event.payload.durationMs / 1000);
      }
      if (!FINAL.has(event.type)) return;
      const waiter = this.waiters.get(id);
      if (waiter === undefined) this.events.push(event);
      else waiter(event);
    });
  }

  private watch(bus: Bus): void {
    bus.onStateChange((state) => {
      if (state === 'reconnecting') this.connectionsLost += 1;
    });
  }

  /** Publishes deploy.requested for `ref` to every agent in one batch; resolves with the times until deploy.succeeded. */
  async deploy(ref: string): Promise<DeployTiming> {
    const client = this.client;
    if (client === undefined) throw new Error('the fleet is not started');
    const message = client.message(
      'deploy.requested',
      { app: APP, env: ENV, ref, requestedBy: 'bench', force: true, rollout: { canary: 0, batchSize: '100%', hostTimeoutMs: this.options.deployTimeoutMs, rollbackOnFailure: false } },
      { expectReplies: true },
    );
    const lostBefore = this.connectionsLost;
    const started = performance.now();
    const result = await withDeadline(`the conductor's answer to a deploy of ${ref}`, 30_000, client.request(message, { expect: [this.conductorHost], timeoutMs: 30_000 }));
    const reply = result.replies.get(this.conductorHost);
    if (reply === undefined) throw new Error(`the conductor did not answer the deploy request of ${ref}`);
    if (!isMessageOfType(reply, 'deploy.queued')) throw new Error(`the conductor answered ${reply.type}: ${JSON.stringify(reply.payload)}`);
    const id = reply.payload.deploymentId;
    const queued = (performance.now() - started) / 1000;
    const final = await withDeadline(`deployment ${id} of ${ref} to ${this.agents.length} agents`, this.options.deployTimeoutMs + 10_000, () => {
      const early = this.events.find((e) => (e.payload as { deploymentId?: string }).deploymentId === id);
      if (early !== undefined) return Promise.resolve(early);
      return new Promise<Message>((resolve) => this.waiters.set(id, resolve));
    }).finally(() => this.waiters.delete(id));
    const total = (performance.now() - started) / 1000;
    if (final.type !== 'deploy.succeeded') {
      const { reason, failedHosts } = final.payload as { reason?: string; failedHosts?: string[] };
      throw new DeployFailedError(ref, final.type, `${reason ?? '(no reason)'}${failedHosts === undefined ? '' : ` [failed hosts: ${failedHosts.length}]`}`.slice(0, 1000));
    }
    const marks = this.marks.get(id);
    this.marks.delete(id);
    const since = (at: number | undefined): number => (at === undefined ? Number.NaN : (at - started) / 1000);
    const durations = [...(marks?.hostDurations ?? [])].sort((a, b) => a - b);
    return {
      total,
      queued,
      started: since(marks?.started),
      firstHostResult: since(marks?.hostResults[0]),
      lastHostResult: since(marks?.hostResults[marks.hostResults.length - 1]),
      hostMedian: durations[Math.floor(durations.length / 2)] ?? Number.NaN,
      connectionsLost: this.connectionsLost - lostBefore,
    };
  }

  /**
   * What a green build does before anyone asks for a deploy: build.succeeded for `tag` (commit `sha`),
   * every repo-updater fetches it and says so, every agent prepares its tree. Resolves when all have.
   */
  async announceBuild(tag: string, sha: string): Promise<void> {
    const client = this.client;
    if (client === undefined) throw new Error('the fleet is not started');
    await client.publish(client.message('build.succeeded', { repo: APP, ref: `refs/tags/${tag}`, sha, job: 'bench', number: 1, url: 'http://jenkins.example.com/job/bench/1/' }));
    await withDeadline(`${this.agents.length} agents to prepare ${tag}`, 120_000, until(() => this.agents.every((agent) => existsSync(join(agent.deployRoot, 'prepared', sha)))));
  }

  /** Durable queues this fleet leaves on the broker: every agent's command queue. */
  commandQueues(): string[] {
    return this.agents.map((agent) => commandQueueName(agent.host));
  }

  async stop(): Promise<void> {
    const processes = this.processes.splice(0);
    for (let i = 0; i < processes.length; i += 10) await Promise.allSettled(processes.slice(i, i + 10).map(stopAgentProcess));
    const handles = this.handles.splice(0).reverse();
    for (let i = 0; i < handles.length; i += 10) await Promise.allSettled(handles.slice(i, i + 10).map((h) => withDeadline('stopping a daemon', 15_000, h.stop())));
    await Promise.allSettled(this.buses.splice(0).map((bus) => withDeadline('closing a bus', 10_000, bus.close())));
  }
}
