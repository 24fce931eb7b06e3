// `npm run bench:deploy`: a fleet deploy with deploybus (conductor + N deploy-agents on the real
// RabbitMQ over AMQP, all in this process, one broker connection each) against the shell floor
// (`git archive | tar -x` into N dirs in parallel) and Ansible's git module (forks = 10, local).
// Prints a table and writes bench/results/deploy-<timestamp>.json and deploy-latest.json.
//   node bench/dist/deploy-bench.js [--quick] [--sizes=10,50] [--cases=prepared,prefetched,fetch] [--no-ansible] [--no-memory] [--agent-processes] [--rss-only]
// The deploy-agents run inside the bench process; --agent-processes runs each AMQP agent as its own
// process instead, as on a fleet (on this bench's one machine that costs more: N cold V8 processes
// share its CPUs). --rss-only measures the idle deploy-agent's RSS alone.
// DEPLOYBUS_BENCH_AMQP_URL points it at another broker (default: vhost deploybus-bench on 127.0.0.1,
// created with rabbitmqctl when missing, so the bench's conductor never competes with another's work queue).
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { RUN_ID, uniqueWord } from './bench-names.js';
import { withDeadline } from './deadline.js';
import { machineInfo, roundedLoad } from './machine-info.js';
import { AGENT_NODE_FLAGS } from '@deploybus/deploy-agent';
import { APP, DeployFailedError, DeployFleet, type DeployTiming } from './deploy-fleet.js';
import { roundSpread, spreadOf, type Spread } from './stats.js';

const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const REPO_DIR = join(BENCH_DIR, '..');
const FLOOR_SCRIPT = join(BENCH_DIR, 'floor-checkout.sh');
const ANSIBLE_PLAYBOOK = join(BENCH_DIR, 'ansible-checkout.yml');
const AGENT_MAIN = join(REPO_DIR, 'services', 'deploy-agent', 'dist', 'main.js');
const DEFAULT_VHOST = 'deploybus-bench';
const DEFAULT_AMQP = `amqp://guest:guest@127.0.0.1:5672/${DEFAULT_VHOST}`;

/**
 * prepared: a green build announced (build.succeeded), every repo-updater fetched it and every agent
 * prepared its tree, before the clock starts; prefetched: the mirrors fetched the tag but nobody
 * announced a build, so each agent checks it out; fetch: the agents must fetch the tag first.
 */
const DEPLOY_CASES = ['prepared', 'prefetched', 'fetch'] as const;
type DeployCase = (typeof DEPLOY_CASES)[number];

interface Settings {
  readonly sizes: readonly number[];
  readonly files: number;
  readonly rounds: number;
  readonly ansibleRounds: number;
  readonly memoryRounds: number;
  readonly forks: number;
  readonly deployTimeoutMs: number;
  readonly ansibleTimeoutMs: number;
  readonly rssIdleMs: number;
  readonly rssSettleMs: number;
  readonly ansible: boolean;
  readonly memory: boolean;
  readonly agentProcesses: boolean;
  readonly cases: readonly DeployCase[];
}

function settingsFrom(argv: readonly string[]): Settings {
  const quick = argv.includes('--quick');
  const sizesArg = argv.find((a) => a.startsWith('--sizes='))?.slice('--sizes='.length);
  const sizes = argv.includes('--rss-only') ? [] : sizesArg === undefined ? [10, 50] : sizesArg.split(',').map((s) => Number.parseInt(s, 10));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 500)) throw new Error(`--sizes: "${sizesArg ?? ''}" must be whole numbers 1-500, comma-separated`);
  const casesArg = argv.find((a) => a.startsWith('--cases='))?.slice('--cases='.length);
  const cases = casesArg === undefined ? [...DEPLOY_CASES] : casesArg.split(',');
  const unknown = cases.filter((c) => !(DEPLOY_CASES as readonly string[]).includes(c));
  if (unknown.length > 0 || cases.length === 0) throw new Error(`--cases: "${casesArg ?? ''}" must be some of ${DEPLOY_CASES.join(',')}, comma-separated`);
  return {
    sizes,
    files: 200,
    rounds: quick ? 2 : 5,
    ansibleRounds: quick ? 1 : 3,
    memoryRounds: quick ? 1 : 3,
    forks: 10,
    deployTimeoutMs: 120_000,
    ansibleTimeoutMs: 300_000,
    rssIdleMs: 3_000,
    rssSettleMs: 30_000,
    ansible: !argv.includes('--no-ansible'),
    memory: !argv.includes('--no-memory'),
    agentProcesses: argv.includes('--agent-processes'),
    cases: cases as DeployCase[],
  };
}

// ---- processes: argument arrays only, always with a timeout ----

interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: readonly string[], options: { cwd?: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: options.cwd, timeout: options.timeoutMs, maxBuffer: 64 * 1024 * 1024, env: options.env ?? { ...process.env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' }, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.slice(0, 3).join(' ')}… failed: ${error.message}\n${String(stderr).slice(-2000)}`, { cause: error }));
      else resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const git = (cwd: string, ...args: string[]): Promise<RunResult> => run('git', args, { cwd, timeoutMs: 60_000 });

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

/** Runs `work` over `items`, at most `limit` at once. */
async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

// ---- the origin repository: about 200 files, a new tag per round ----

class Origin {
  private tagNo = 0;
  constructor(readonly path: string) {}

  static async create(path: string, files: number): Promise<Origin> {
    await mkdir(path, { recursive: true });
    await git(path, 'init', '--quiet', '--initial-branch=main');
    await git(path, 'config', 'user.email', 'bench@example.com');
    await git(path, 'config', 'user.name', 'bench');
    for (let i = 0; i < files - 1; i++) {
      const dir = join(path, 'src', `mod${Math.floor(i / 20)}`);
      await mkdir(dir, { recursive: true });
      const body = Array.from({ length: 40 }, (_, line) => `export const value${line} = ${i * 1000 + line}; // file ${i} of the bench app, line ${line}`).join('\n');
      await writeFile(join(dir, `file${i}.js`), `${body}\n`);
    }
    await writeFile(join(path, 'VERSION'), 'v0\n');
    await git(path, 'add', '-A');
    await git(path, 'commit', '--quiet', '-m', 'the bench app');
    return new Origin(path);
  }

  /** Commits a change and tags it; returns the new tag. */
  async newTag(): Promise<string> {
    this.tagNo += 1;
    const tag = `v1.0.${this.tagNo}`;
    await writeFile(join(this.path, 'VERSION'), `${tag}\n`);
    await writeFile(join(this.path, 'src', 'mod0', 'file0.js'), `export const release = '${tag}';\n`);
    await git(this.path, 'commit', '--quiet', '-am', `release ${tag}`);
    await git(this.path, 'tag', tag);
    return tag;
  }

  async commitOf(tag: string): Promise<string> {
    return (await git(this.path, 'rev-parse', `refs/tags/${tag}^{commit}`)).stdout.trim();
  }

  async fileCount(): Promise<number> {
    return (await git(this.path, 'ls-files')).stdout.split('\n').filter((l) => l !== '').length;
  }
}

const fetchInto = (mirror: string): Promise<RunResult> => git(mirror, 'fetch', '--prune', '--tags', '--quiet', 'origin');

// ---- the measurements ----

interface Row {
  readonly size: number;
  readonly runner: string;
  readonly case: string;
  readonly seconds: Spread | undefined;
  readonly note?: string;
}

/** Deploys the conductor reported failed (left out of the timings, listed in the notes). */
const failures: string[] = [];


async function measureDeploybus(busUrl: string, size: number, origin: Origin, dir: string, rounds: number, cases: ReadonlyArray<DeployCase>, settings: Settings, log: (line: string) => void): Promise<Map<string, DeployTiming[]>> {
  const samples = new Map<string, DeployTiming[]>(cases.map((c) => [c, []]));
  const fleet = await withDeadline(`starting a conductor and ${size} agents on ${redact(busUrl)}`, 120_000, DeployFleet.start({ busUrl, size, dir, originPath: origin.path, preDeploy: ['true'], deployTimeoutMs: settings.deployTimeoutMs, agentProcesses: settings.agentProcesses && !busUrl.startsWith('memory:') }));
  /** A deploy the conductor ended as failed: listed in the notes and left out of the timings; anything else stops the bench. */
  const failed = (what: string, tag: string, error: unknown): void => {
    if (!(error instanceof DeployFailedError)) throw error;
    failures.push(`${redact(busUrl).split(':')[0] ?? ''} N=${size} ${what} ${tag}: ${error.message}`);
    log(`  deploybus ${what}, N=${size}, ${tag}: FAILED: ${error.message}`);
  };
  try {
    // Warm-up, not counted: each agent clones its mirror (what repo-updater did long before). A
    // deploy the conductor ended as failed is a finding for the notes, not a reason to stop the bench.
    const warmTag = await origin.newTag();
    try {
      const warm = await fleet.deploy(warmTag);
      log(`  warm-up deploy (clones ${size} mirrors): ${warm.total.toFixed(2)} s`);
    } catch (error) {
      failed('warm-up', warmTag, error);
    }
    for (const kind of cases) {
      for (let r = 0; r < rounds; r++) {
        const tag = await origin.newTag();
        if (kind === 'prefetched') await withDeadline(`pre-fetching ${tag} into ${size} mirrors`, 120_000, inParallel(fleet.agents, 16, (a) => fetchInto(a.mirror)));
        if (kind === 'prepared') await fleet.announceBuild(tag, await origin.commitOf(tag));
        try {
          const timing = await fleet.deploy(tag);
          samples.get(kind)?.push(timing);
          log(`  deploybus ${kind}, N=${size}, ${tag}: ${describeTiming(timing)}`);
        } catch (error) {
          failed(kind, tag, error);
        }
      }
    }
  } finally {
    await fleet.stop();
    if (busUrl.startsWith('amqp')) await deleteQueues(busUrl, fleet.commandQueues());
  }
  return samples;
}

async function measureShell(size: number, origin: Origin, dir: string, rounds: number, log: (line: string) => void): Promise<{ fetch: number[]; nofetch: number[] }> {
  const mirrors = Array.from({ length: size }, (_, i) => join(dir, String(i), 'mirror.git'));
  await withDeadline(`cloning ${size} shell mirrors`, 120_000, inParallel(mirrors, 16, (m) => run('git', ['clone', '--mirror', '--quiet', '--', origin.path, m], { timeoutMs: 60_000 })));
  const once = async (mode: 'fetch' | 'nofetch', tag: string): Promise<number> => {
    const args = [FLOOR_SCRIPT, mode, tag, ...mirrors.flatMap((m, i) => [m, join(dir, String(i), 'releases', tag)])];
    return timed(() => run('bash', args, { timeoutMs: 120_000 }));
  };
  const result = { fetch: [] as number[], nofetch: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    const tag = await origin.newTag();
    const seconds = await once('fetch', tag);
    result.fetch.push(seconds);
    log(`  shell floor with fetch, N=${size}: ${seconds.toFixed(3)} s`);
  }
  for (let r = 0; r < rounds; r++) {
    const tag = await origin.newTag();
    await inParallel(mirrors, 16, fetchInto);
    const seconds = await once('nofetch', tag);
    result.nofetch.push(seconds);
    log(`  shell floor pre-fetched, N=${size}: ${seconds.toFixed(3)} s`);
  }
  return result;
}

/** Ansible refuses to start unless the locale's encoding is UTF-8 (LC_ALL=C is not). */
function ansibleEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8', ...extra };
}

async function ansibleVersion(notes: string[]): Promise<string | undefined> {
  try {
    return (await run('ansible-playbook', ['--version'], { timeoutMs: 60_000, env: ansibleEnv() })).stdout.split('\n')[0]?.trim();
  } catch (error) {
    notes.push(`ansible-playbook --version failed, so Ansible is not measured (Debian's package: \`apt-get install -y ansible\`): ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`);
    return undefined;
  }
}

async function measureAnsible(size: number, origin: Origin, dir: string, rounds: number, settings: Settings, log: (line: string) => void): Promise<number[]> {
  await mkdir(join(dir, 'tmp'), { recursive: true });
  const inventory = join(dir, 'inventory.ini');
  const hosts = Array.from({ length: size }, (_, i) => `bench${i} bench_dest=${join(dir, 'hosts', String(i), 'checkout')}`);
  await writeFile(inventory, `[fleet]\n${hosts.join('\n')}\n\n[fleet:vars]\nansible_connection=local\nansible_python_interpreter=/usr/bin/python3\n`);
  const env = ansibleEnv({
    ANSIBLE_LOCAL_TEMP: join(dir, 'tmp'),
    ANSIBLE_REMOTE_TEMP: join(dir, 'tmp'),
    ANSIBLE_HOST_KEY_CHECKING: 'False',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORKS: String(settings.forks),
  });
  const once = (tag: string): Promise<number> =>
    timed(() => run('ansible-playbook', ['-i', inventory, '-f', String(settings.forks), '-e', JSON.stringify({ bench_repo: origin.path, bench_version: tag }), ANSIBLE_PLAYBOOK], { timeoutMs: settings.ansibleTimeoutMs, env }));
  const warm = await once(await origin.newTag());
  log(`  ansible warm-up (clones ${size} checkouts): ${warm.toFixed(2)} s`);
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const seconds = await once(await origin.newTag());
    samples.push(seconds);
    log(`  ansible git module, N=${size}: ${seconds.toFixed(3)} s`);
  }
  return samples;
}

/** RSS in MB of an idle process: `early` right after start (idleMs), `settled` after settleMs of idling. */
interface IdleRss {
  readonly early: number;
  readonly settled: number;
}

/**
 * An idle deploy-agent as its own process on AMQP (started with the shipped node flags), and a bare
 * idle node beside it: their RSS soon after start and once settled (V8's memory reducer runs some
 * seconds into idling).
 */
async function idleAgentRss(busUrl: string, origin: Origin, dir: string, idleMs: number, settleMs: number): Promise<{ agent: IdleRss; agentYaml: IdleRss; bareNode: IdleRss; queues: string[] }> {
  await mkdir(dir, { recursive: true });
  const hosts = [uniqueWord('idle'), uniqueWord('idle')] as const;
  const config = (host: string, sub: string): Record<string, unknown> => ({
    logLevel: 'info',
    host,
    bus: { url: busUrl },
    mirrorsDir: join(dir, sub, 'mirrors'),
    stateDir: join(dir, sub, 'state'),
    allowedProtocols: ['file'],
    apps: [{ name: APP, env: 'production', repo: APP, url: origin.path, deployRoot: join(dir, sub, 'deploy') }],
  });
  const file = join(dir, 'deploy-agent.json');
  await writeFile(file, JSON.stringify(config(hosts[0], 'json')));
  // The shipped configs are YAML, which loads the YAML parser too. JSON is a subset of YAML, so the same settings serve.
  const yamlFile = join(dir, 'deploy-agent.yaml');
  await writeFile(yamlFile, JSON.stringify(config(hosts[1], 'yaml'), null, 2));
  const rssOf = async (pid: number): Promise<number> => {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
    if (kb === undefined) throw new Error(`no VmRSS for process ${pid}`);
    return Number(kb) / 1024;
  };
  const measure = async (args: readonly string[], readyLine: string | undefined): Promise<IdleRss> => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp' } });
    let output = '';
    try {
      await withDeadline(`an idle ${readyLine === undefined ? 'node' : 'deploy-agent'} to start`, 30_000, () => {
        if (readyLine === undefined) return Promise.resolve();
        return new Promise<void>((resolve, reject) => {
          const onData = (chunk: Buffer): void => {
            output += chunk.toString();
            if (output.includes(readyLine)) resolve();
          };
          child.stdout.on('data', onData);
          child.stderr.on('data', onData);
          child.once('exit', (code) => reject(new Error(`the agent exited with ${String(code)}: ${output.slice(-1000)}`)));
        });
      });
      if (child.pid === undefined) throw new Error('no pid');
      await new Promise((r) => setTimeout(r, idleMs));
      const early = await rssOf(child.pid);
      await new Promise((r) => setTimeout(r, Math.max(0, settleMs - idleMs)));
      return { early, settled: await rssOf(child.pid) };
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await withDeadline('an idle process to exit', 10_000, exited).catch(() => child.kill('SIGKILL'));
    }
  };
  // The agent starts as the shipped systemd units and container start it: node with AGENT_NODE_FLAGS
  // (services/deploy-agent/src/node-flags.ts; their test holds the units to the same list).
  const [agent, agentYaml, bareNode] = await Promise.all([
    measure([...AGENT_NODE_FLAGS, AGENT_MAIN, '--config', file], 'deploy-agent started'),
    measure([...AGENT_NODE_FLAGS, AGENT_MAIN, '--config', yamlFile], 'deploy-agent started'),
    measure(['-e', 'setInterval(() => {}, 1000)'], undefined),
  ]);
  return { agent, agentYaml, bareNode, queues: hosts.map((host) => `deploybus.agent.${host}`) };
}

function describeTiming(t: DeployTiming): string {
  const f = (v: number): string => (Number.isNaN(v) ? '?' : v.toFixed(3));
  return `${f(t.total)} s (queued ${f(t.queued)}, started ${f(t.started)}, first host ${f(t.firstHostResult)}, last host ${f(t.lastHostResult)}, host median ${f(t.hostMedian)})${t.connectionsLost > 0 ? `, DISTURBED: ${t.connectionsLost} bus connections lost and reconnected during this deploy` : ''}`;
}

/** Medians of each part of the deploys' timings, for the JSON file and the notes. */
function breakdown(timings: readonly DeployTiming[] | undefined): Record<keyof DeployTiming, number> | undefined {
  if (timings === undefined || timings.length === 0) return undefined;
  const keys = ['total', 'queued', 'started', 'firstHostResult', 'lastHostResult', 'hostMedian'] as const;
  const out = { connectionsLost: timings.reduce((sum, t) => sum + t.connectionsLost, 0) } as Record<keyof DeployTiming, number>;
  for (const key of keys) {
    const values = timings.map((t) => t[key]).filter((v) => !Number.isNaN(v));
    out[key] = values.length === 0 ? Number.NaN : Math.round(spreadOf(values).median * 1000) / 1000;
  }
  return out;
}

// ---- the broker: the bench's own vhost ----

async function canConnect(url: string): Promise<boolean> {
  try {
    const connection = await withDeadline('connecting to the broker', 10_000, amqp.connect(url));
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

async function brokerUrl(notes: string[]): Promise<string> {
  const configured = process.env['DEPLOYBUS_BENCH_AMQP_URL']?.trim();
  if (configured !== undefined && configured !== '') return configured;
  if (await canConnect(DEFAULT_AMQP)) return DEFAULT_AMQP;
  try {
    await run('rabbitmqctl', ['add_vhost', DEFAULT_VHOST], { timeoutMs: 30_000 });
    await run('rabbitmqctl', ['set_permissions', '-p', DEFAULT_VHOST, 'guest', '.*', '.*', '.*'], { timeoutMs: 30_000 });
    if (await canConnect(DEFAULT_AMQP)) return DEFAULT_AMQP;
  } catch {
    // fall through
  }
  const fallback = 'amqp://guest:guest@127.0.0.1:5672';
  notes.push(`vhost ${DEFAULT_VHOST} is missing and could not be created: the bench ran on vhost "/", where its conductor shares the deploybus.conductor work queue with any other conductor running there`);
  return fallback;
}

async function deleteQueues(url: string, queues: readonly string[]): Promise<void> {
  if (queues.length === 0) return;
  await withDeadline('deleting the bench queues', 20_000, async () => {
    const connection = await amqp.connect(url);
    try {
      const channel = await connection.createChannel();
      for (const queue of queues) await channel.deleteQueue(queue);
    } finally {
      await connection.close().catch(() => undefined);
    }
  }).catch((error: unknown) => {
    process.stderr.write(`could not delete ${queues.length} bench queues: ${error instanceof Error ? error.message : String(error)}\n`);
  });
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

// ---- the report ----



function spreadOrUndefined(values: readonly number[] | undefined): Spread | undefined {
  return values === undefined || values.length === 0 ? undefined : spreadOf(values);
}

function fmt(spread: Spread | undefined): string {
  if (spread === undefined) return 'not measured';
  const n = (v: number): string => (v >= 10 ? v.toFixed(1) : v.toFixed(3));
  return spread.samples === 1 ? `${n(spread.median)} (1 run)` : `${n(spread.median)} (${n(spread.min)}-${n(spread.max)}, ${spread.samples} runs)`;
}

interface Verdict {
  readonly size: number;
  readonly target: string;
  readonly deploybus: number | undefined;
  readonly reference: number | undefined;
  readonly ratio: number | undefined;
  readonly met: boolean | undefined;
}

function verdict(size: number, target: string, deploybus: Spread | undefined, reference: Spread | undefined, limit: number): Verdict {
  const ratio = deploybus === undefined || reference === undefined ? undefined : deploybus.median / reference.median;
  return { size, target, deploybus: deploybus?.median, reference: reference?.median, ratio, met: ratio === undefined ? undefined : ratio <= limit };
}

function table(rows: readonly Row[]): string {
  const header = ['N', 'runner', 'case', 'seconds: median (min-max, runs)'];
  const lines = rows.map((r) => [String(r.size), r.runner, r.case, fmt(r.seconds) + (r.note === undefined ? '' : `  [${r.note}]`)]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const render = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [render(header), render(widths.map((w) => '-'.repeat(w))), ...lines.map(render)].join('\n');
}

async function main(): Promise<void> {
  const settings = settingsFrom(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const loadAtStart = roundedLoad();
  const begin = performance.now();
  const notes: string[] = [];
  const phaseSeconds: Record<string, number> = {};
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const root = await mkdtemp(join(tmpdir(), `deploybus-deploy-bench-${RUN_ID}-`));
  const rows: Row[] = [];
  const verdicts: Verdict[] = [];
  const breakdowns: Record<string, Record<keyof DeployTiming, number> | undefined> = {};
  let busUrl = DEFAULT_AMQP;
  let idle: { agent: IdleRss; agentYaml: IdleRss; bareNode: IdleRss; queues: string[] } | undefined;
  const phase = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    log(`${name} ...`);
    const started = performance.now();
    try {
      return await work();
    } finally {
      phaseSeconds[name] = Math.round((performance.now() - started) / 10) / 100;
    }
  };
  try {
    busUrl = await brokerUrl(notes);
    const origin = await Origin.create(join(root, 'origin'), settings.files);
    const files = await origin.fileCount();
    const ansible = settings.ansible && settings.sizes.length > 0 ? await ansibleVersion(notes) : undefined;
    if (!settings.ansible) notes.push('Ansible was left out (--no-ansible): not measured.');
    for (const size of settings.sizes) {
      const amqpRuns = await phase(`deploybus on AMQP, N=${size}`, () => measureDeploybus(busUrl, size, origin, join(root, `amqp-${size}`), settings.rounds, settings.cases, settings, log));
      const shell = await phase(`shell floor, N=${size}`, () => measureShell(size, origin, join(root, `shell-${size}`), settings.rounds, log));
      const memory = settings.memory
        ? await phase(`deploybus on memory://, N=${size}`, () => measureDeploybus(`memory://deploy-bench-${RUN_ID}-${size}`, size, origin, join(root, `memory-${size}`), settings.memoryRounds, ['prefetched'], settings, log))
        : undefined;
      let ansibleRuns: number[] | undefined;
      let ansibleNote: string | undefined;
      if (ansible !== undefined) {
        try {
          ansibleRuns = await phase(`ansible, N=${size}`, () => measureAnsible(size, origin, join(root, `ansible-${size}`), settings.ansibleRounds, settings, log));
        } catch (error) {
          ansibleNote = `failed: ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`;
          notes.push(`Ansible N=${size} not measured: ${ansibleNote}`);
        }
      }
      const totals = (runs: Map<string, DeployTiming[]> | undefined, kind: string): number[] | undefined => runs?.get(kind)?.map((t) => t.total);
      const prepared = spreadOrUndefined(totals(amqpRuns, 'prepared'));
      const prefetched = spreadOrUndefined(totals(amqpRuns, 'prefetched'));
      const fetched = spreadOrUndefined(totals(amqpRuns, 'fetch'));
      breakdowns[`amqp N=${size} prepared`] = breakdown(amqpRuns.get('prepared'));
      breakdowns[`amqp N=${size} prefetched`] = breakdown(amqpRuns.get('prefetched'));
      breakdowns[`amqp N=${size} fetch`] = breakdown(amqpRuns.get('fetch'));
      if (memory !== undefined) breakdowns[`memory N=${size} prefetched`] = breakdown(memory.get('prefetched'));
      const floorFetch = spreadOrUndefined(shell.fetch);
      const floorNoFetch = spreadOrUndefined(shell.nofetch);
      const ansibleSpread = spreadOrUndefined(ansibleRuns);
      rows.push(
        { size, runner: 'deploybus (amqp)', case: 'build announced: fetched + prepared', seconds: prepared },
        { size, runner: 'deploybus (amqp)', case: 'tag pre-fetched, not prepared', seconds: prefetched },
        { size, runner: 'deploybus (amqp)', case: 'tag fetched by the agent', seconds: fetched },
        ...(memory === undefined ? [] : [{ size, runner: 'deploybus (memory://)', case: 'tag pre-fetched', seconds: spreadOrUndefined(totals(memory, 'prefetched')) }]),
        { size, runner: 'shell floor', case: 'fetch, then archive|tar', seconds: floorFetch },
        { size, runner: 'shell floor', case: 'pre-fetched, archive|tar', seconds: floorNoFetch },
        { size, runner: `ansible git (forks ${settings.forks})`, case: 'fetch + checkout', seconds: ansibleSpread, ...(ansibleNote === undefined ? (ansible === undefined ? { note: settings.ansible ? 'not available, see notes' : 'left out (--no-ansible)' } : {}) : { note: 'failed' }) },
      );
      if (floorNoFetch !== undefined && ansibleSpread !== undefined) {
        // For scale: how much room the 20x target leaves above the bare git work.
        const room = ansibleSpread.median / 20 - floorNoFetch.median;
        notes.push(`N=${size}: the pre-fetched shell floor (${floorNoFetch.median.toFixed(3)} s: git archive | tar and nothing else) is Ansible / ${(ansibleSpread.median / floorNoFetch.median).toFixed(1)}; Ansible / 20 leaves ${(room * 1000).toFixed(0)} ms above that floor for everything else a deploy does (request, gates, ledger, signing, bus round trips, hooks)`);
      }
      verdicts.push(
        verdict(size, 'deploybus prepared <= shell floor with fetch (ratio <= 1)', prepared, floorFetch, 1),
        verdict(size, 'deploybus prepared <= ansible / 20 (ratio <= 0.05)', prepared, ansibleSpread, 0.05),
        verdict(size, 'deploybus pre-fetched, not prepared <= shell floor with fetch (ratio <= 1)', prefetched, floorFetch, 1),
        verdict(size, 'deploybus pre-fetched, not prepared <= ansible / 20 (ratio <= 0.05)', prefetched, ansibleSpread, 0.05),
        verdict(size, 'deploybus fetched <= ansible / 20 (ratio <= 0.05)', fetched, ansibleSpread, 0.05),
      );
    }
    idle = await phase('idle deploy-agent RSS', () => idleAgentRss(busUrl, origin, join(root, 'idle-agent'), settings.rssIdleMs, settings.rssSettleMs));
    notes.push(
      `origin: ${files} files in the tag; a new tag per round (a commit changing 2 files); each agent has preDeploy [true], no restart or health check; one batch (batchSize 100%), force past the build gate`,
      'deploybus time: from publishing deploy.requested to receiving deploy.succeeded (ref resolved by the conductor with git ls-remote against the origin; commands signed and carrying the commit; each agent checks, records the id, uses the prepared tree or checks the commit in its mirror and runs git archive | tar, runs the hook, switches current)',
      settings.agentProcesses
        ? 'AMQP (--agent-processes): conductor, the stand-in keepalive (answering roster.query) and the client run in the bench process; each of the N agents is its own `node services/deploy-agent/dist/main.js` process with its own broker connection, as on a fleet (memory:// runs them all in the bench process). All share this machine\'s 2 CPUs, as the shell loop and Ansible do; bus connections lost are counted for the bench process only'
        : 'conductor, N agents and the stand-in keepalive (answering roster.query) run in this one process, each with its own broker connection: the whole fleet shares this machine\'s CPUs, as the shell loop and Ansible do (--agent-processes runs each agent as its own process)',
      'prepared case (the normal one): before the clock starts, build.succeeded for the tag; each server\'s repo-updater fetches it into the mirror and publishes repo.updated naming the build; its agent prepares the release tree (git archive | tar); the deploy command carries the commit and the agent renames the tree into place. Pre-fetched, not prepared: `git fetch` into every mirror with no build announced, so each agent checks the tree out while the clock runs. Fetch case: the agent finds the tag missing and fetches it itself',
      `ansible${ansible === undefined ? ' (not measured in this run)' : ` (${ansible})`}: ansible-playbook with the git module into one clone per inventory host, ansible_connection=local, forks ${settings.forks}; each round fetches a new tag (its only mode); the first, cloning run is not counted; ${settings.ansibleRounds} runs per size to bound the bench's length`,
    );
  } finally {
    await deleteQueues(busUrl, [...(idle === undefined ? [] : idle.queues), 'deploybus.conductor']);
    await rm(root, { recursive: true, force: true }).catch(() => undefined);
  }
  if (failures.length > 0) notes.unshift(`${failures.length} deploys failed and are left out of the timings: ${failures.join(' | ')}`);
  const machine = machineInfo(loadAtStart);
  const busiest = Math.max(machine.loadavgAtStart[0] ?? 0, machine.loadavgAtEnd[0] ?? 0);
  if (busiest > machine.cpuCount) notes.unshift(`WARNING: the machine was busy (1-minute load ${busiest} on ${machine.cpuCount} CPUs): the figures are noisy`);
  const report = {
    startedAt,
    durationS: Math.round((performance.now() - begin) / 100) / 10,
    machine,
    broker: { amqp: redact(busUrl) },
    settings: { ...settings, sizes: settings.sizes.join(',') },
    phaseSeconds,
    notes,
    results: rows.map((r) => ({ ...r, seconds: r.seconds === undefined ? undefined : roundSpread(r.seconds) })),
    breakdownSeconds: breakdowns,
    targets: verdicts.map((v) => ({ ...v, ratio: v.ratio === undefined ? undefined : Math.round(v.ratio * 1000) / 1000 })),
    idleAgentRssMb:
      idle === undefined
        ? undefined
        : {
            afterMs: { early: settings.rssIdleMs, settled: settings.rssSettleMs },
            deployAgent: { early: Math.round(idle.agent.early * 10) / 10, settled: Math.round(idle.agent.settled * 10) / 10 },
            deployAgentYamlConfig: { early: Math.round(idle.agentYaml.early * 10) / 10, settled: Math.round(idle.agentYaml.settled * 10) / 10 },
            bareNode: { early: Math.round(idle.bareNode.early * 10) / 10, settled: Math.round(idle.bareNode.settled * 10) / 10 },
            target: '< 60',
            met: { early: idle.agent.early < 60, settled: idle.agent.settled < 60 },
          },
  };
  const resultsDir = join(BENCH_DIR, 'results');
  await mkdir(resultsDir, { recursive: true });
  const text = `${JSON.stringify(report, null, 2)}\n`;
  const file = join(resultsDir, `deploy-${startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, text);
  await writeFile(join(resultsDir, 'deploy-latest.json'), text);

  const out = [
    `\ndeploybus deploy bench, ${startedAt}, ${report.durationS} s; ${machine.cpuCount} x ${machine.cpuModel}, load ${machine.loadavgAtStart.join('/')} -> ${machine.loadavgAtEnd.join('/')}, node ${machine.node}, broker ${redact(busUrl)}`,
    '',
    table(rows),
    '',
    'targets:',
    ...verdicts.map((v) => `  N=${v.size}  ${v.target}: ${v.ratio === undefined ? 'not measured' : `${v.deploybus?.toFixed(3) ?? '?'} s vs ${v.reference?.toFixed(3) ?? '?'} s = ${v.ratio.toFixed(3)} ${v.met ? 'ok' : 'MISSED'}`}`),
    ...(idle === undefined
      ? ['  idle deploy-agent RSS: not measured']
      : ([['early', settings.rssIdleMs], ['settled', settings.rssSettleMs]] as const).map(
          ([when, ms]) =>
            `  idle deploy-agent RSS (AMQP, no health port) ${ms / 1000} s after start < 60 MB: JSON config ${idle.agent[when].toFixed(1)} MB ${idle.agent[when] < 60 ? 'ok' : 'MISSED'}, YAML config ${idle.agentYaml[when].toFixed(1)} MB ${idle.agentYaml[when] < 60 ? 'ok' : 'MISSED'} (a bare idle node process: ${idle.bareNode[when].toFixed(1)} MB)`,
        )),
    '',
    'where the deploybus time went (medians, seconds from publishing the request):',
    ...Object.entries(breakdowns).map(([k, b]) => `  ${k}: ${b === undefined ? '-' : `queued ${b.queued}, started ${b.started}, first host ${b.firstHostResult}, last host ${b.lastHostResult}, succeeded ${b.total}; a host's own time ${b.hostMedian}${b.connectionsLost > 0 ? `; WARNING: ${b.connectionsLost} bus connections were lost and reconnected during these deploys (someone restarted or dropped the broker): these figures include the reconnects` : ''}`}`),
    '',
    'notes:',
    ...notes.map((n) => `  - ${n}`),
    '',
    `written to ${file}`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`deploy bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
