// `npm run bench`: deploybus against the raw client libraries on the real RabbitMQ, over STOMP and
// AMQP: publish-to-consume throughput, fan-out round trips, connection set-up and idle memory.
// Prints a table and writes bench/results/bus-<timestamp>.json and latest.json.
//   node bench/dist/bus-bench.js [--only=stomp|amqp] [--quick]
// DEPLOYBUS_BENCH_AMQP_URL and DEPLOYBUS_BENCH_STOMP_URL point it at another broker.
import { execFile } from 'node:child_process';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { routingKeyOf, type Message } from '@deploybus/protocol';
import { encodedSize, heartbeats } from './bench-messages.js';
import { RUN_ID, uniqueWord } from './bench-names.js';
import { absoluteRow, compareRow, formatTable, writeReport, type BenchReport, type ResultRow } from './bench-report.js';
import type { BenchTarget, ThroughputRun, Transport } from './bench-target.js';
import { readBrokerSockets } from './broker-sockets.js';
import { withDeadline } from './deadline.js';
import { machineInfo, roundedLoad } from './machine-info.js';
import { DeploybusTarget } from './deploybus-target.js';
import { Leftovers } from './leftovers.js';
import { RawAmqpTarget } from './raw-amqp.js';
import { RawStompTarget } from './raw-stomp.js';
import { spreadOf } from './stats.js';

/** The broker: the local RabbitMQ unless DEPLOYBUS_BENCH_AMQP_URL / DEPLOYBUS_BENCH_STOMP_URL say otherwise. */
interface Endpoints {
  readonly amqp: string;
  readonly stomp: string;
}

function endpointsFrom(env: Readonly<Record<string, string | undefined>>): Endpoints {
  const pick = (key: string, fallback: string): string => {
    const value = env[key]?.trim();
    if (value === undefined || value === '') return fallback;
    try {
      new URL(value);
    } catch {
      throw new Error(`${key}: "${redact(value)}" is not a URL`);
    }
    return value;
  };
  return {
    amqp: pick('DEPLOYBUS_BENCH_AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672'),
    stomp: pick('DEPLOYBUS_BENCH_STOMP_URL', 'stomp://guest:guest@127.0.0.1:61613'),
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}
const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Settings {
  /** Messages per warm-up run; the raw client's warm-up rate sizes the measured runs. */
  readonly warmupMessages: number;
  /** A measured throughput run should take about this long... */
  readonly throughputRunMs: number;
  /** ...within these bounds on its message count. */
  readonly minMessages: number;
  readonly maxMessages: number;
  readonly throughputRounds: number;
  readonly window: number;
  readonly prefetch: number;
  readonly fanOutSizes: readonly number[];
  readonly fanOutRounds: number;
  readonly fanOutRoundsLargest: number;
  readonly fanOutTimeoutMs: number;
  readonly connectRounds: number;
  readonly connectConcurrency: number;
  readonly rssSamples: number;
}

const FULL: Settings = {
  warmupMessages: 3_000,
  throughputRunMs: 1_500,
  minMessages: 5_000,
  maxMessages: 20_000,
  // Even, so each client goes first equally often.
  throughputRounds: 4,
  window: 1_000,
  // deploybus's default prefetch: what a daemon's subscription gets.
  prefetch: 16,
  fanOutSizes: [10, 100, 500],
  fanOutRounds: 20,
  fanOutRoundsLargest: 20,
  fanOutTimeoutMs: 10_000,
  connectRounds: 20,
  connectConcurrency: 25,
  rssSamples: 3,
};

/** For trying the bench out: the same phases, smaller. */
const QUICK: Settings = {
  ...FULL,
  warmupMessages: 500,
  throughputRunMs: 300,
  minMessages: 1_000,
  maxMessages: 3_000,
  throughputRounds: 2,
  fanOutSizes: [10, 50],
  fanOutRounds: 5,
  fanOutRoundsLargest: 5,
  connectRounds: 5,
  rssSamples: 1,
};

const THROUGHPUT_TARGET = 0.9;
const LATENCY_TARGET = 1.1;
const RSS_LIMIT_MB = 60;
/** Broker sockets the fan-out leaves free for everyone else using the broker. */
const SOCKET_HEADROOM = 64;
const WHOLE_RUN_LIMIT_MS = 8 * 60_000;

const COMPARISON_NOTES = [
  'ratio is deploybus/raw on medians: throughput target >= 0.9, times target <= 1.1 (connect + close has no target); (min-max) is the spread over the rounds',
  'publisher, consumer and all responders run in this one process, so client CPU of every side is counted (in a fleet each responder has its own machine)',
  'both sides publish with the same pacing (at most 1,000 unconfirmed publishes in flight; without confirms, bursts of 1,000 with a turn of the event loop between), the same prefetch (16, deploybus default), the same queue arguments (deploybus private queues) and the same message properties',
  'raw consumers JSON.parse each body but do not validate it; deploybus validates every delivery against the message schema, and every message it builds',
  'raw amqplib: sockets with noDelay like deploybus; publish to amq.topic; manual ack; confirms through a ConfirmChannel, a callback per publish',
  'raw stompjs: @stomp/stompjs Client over a @stomp/tcp-wrapper TCPWrapper subclass whose getSocket sets noDelay on the socket, as the deploybus transport does; one connection per client, declaring, binding and consuming its queue with one SUBSCRIBE to /topic/<key> (deploybus STOMP declares on a short-lived connection and consumes /amq/queue/<name> on a connection of its own)',
  'connect + close: raw opens a connection and a confirm channel (AMQP) or does the STOMP CONNECT; deploybus connectBus does the same and on AMQP opens a second (unconfirmed) channel; it declares the dead-letter queue only before its first subscription, so not here',
];

class BrokerUnreachableError extends Error {
  override readonly name = 'BrokerUnreachableError';
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function portOpen(port: number, host: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function requireBroker(endpoints: Endpoints, transports: readonly Transport[]): Promise<void> {
  // AMQP is needed whatever is measured: cleanup deletes queues through it.
  const needed: Transport[] = transports.includes('amqp') ? [...transports] : [...transports, 'amqp'];
  const state = await Promise.all(
    needed.map(async (transport) => {
      const url = new URL(endpoints[transport]);
      const host = url.hostname || '127.0.0.1';
      const port = Number(url.port) || (transport === 'amqp' ? 5672 : 61613);
      return { transport, where: `${transport.toUpperCase()} ${host}:${port}`, open: await portOpen(port, host, 3_000) };
    }),
  );
  const down = state.filter((s) => !s.open);
  if (down.length > 0) {
    throw new BrokerUnreachableError(
      `RabbitMQ is not reachable (${down.map((s) => s.where).join(', ')}: refused or no answer within 3 s), so there is nothing to measure; ` +
        'start it (rabbitmq-server -detached; rabbitmq-plugins enable rabbitmq_stomp) and run the bench again.',
    );
  }
}



/** Runs `rounds` samples of each target, alternating which goes first, so drift hits both alike. */
async function alternate(targets: readonly [BenchTarget, BenchTarget], rounds: number, sample: (target: BenchTarget) => Promise<number>): Promise<[number[], number[]]> {
  const results: [number[], number[]] = [[], []];
  for (let round = 0; round < rounds; round += 1) {
    for (const i of round % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const)) results[i].push(await sample(targets[i]));
  }
  return results;
}

/** Wall time per phase, for the JSON file: where a slow run spent its time. */
class PhaseClock {
  readonly seconds: Record<string, number> = {};
  async time<T>(phase: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.seconds[phase] = Math.round((performance.now() - started) / 100) / 10;
    }
  }
}

interface TransportBench {
  readonly transport: Transport;
  readonly targets: readonly [BenchTarget, BenchTarget];
  readonly settings: Settings;
  readonly rows: ResultRow[];
  readonly notes: string[];
}

function nameOf(target: BenchTarget): string {
  return `${target.implementation} ${target.transport}`;
}

/** Warm-up runs for both clients; the raw client's rate sizes the measured runs to about `throughputRunMs` each. */
async function warmUp(bench: TransportBench): Promise<Message[]> {
  const { settings, targets, transport } = bench;
  const host = uniqueWord('hb');
  const warmup = heartbeats(settings.warmupMessages, host);
  const routingKey = routingKeyOf(warmup[0] ?? fail('no warm-up messages'));
  log(`${transport}: warming up (${warmup.length} messages each)`);
  let rawMs = 0;
  for (const target of targets) {
    const ms = await withDeadline(`${nameOf(target)} warm-up`, 60_000, target.throughput({ messages: warmup, routingKey, confirm: true, window: settings.window, prefetch: settings.prefetch }));
    if (target.implementation === 'raw') rawMs = ms;
  }
  const rawRate = warmup.length / Math.max(rawMs, 1);
  const count = Math.min(settings.maxMessages, Math.max(settings.minMessages, Math.round((rawRate * settings.throughputRunMs) / 1000) * 1000));
  return heartbeats(count, host);
}

async function throughputPhase(bench: TransportBench, messages: readonly Message[]): Promise<void> {
  const { settings, transport } = bench;
  const routingKey = routingKeyOf(messages[0] ?? fail('no messages'));
  for (const confirm of [false, true]) {
    const label = transport === 'stomp' ? (confirm ? 'receipts' : 'no receipts') : confirm ? 'confirms' : 'no confirms';
    log(`${transport}: throughput, ${label}, ${settings.throughputRounds} rounds of ${messages.length} messages`);
    const run: ThroughputRun = { messages, routingKey, confirm, window: settings.window, prefetch: settings.prefetch };
    const [db, rw] = await alternate(bench.targets, settings.throughputRounds, async (target) => {
      const ms = await withDeadline(`${nameOf(target)} throughput (${label}, ${messages.length} messages)`, 90_000, target.throughput(run));
      return (messages.length / ms) * 1000;
    });
    bench.rows.push(
      compareRow(
        { metric: `throughput, ${label}`, transport, unit: 'msg/s', better: 'higher', deploybus: spreadOf(db), raw: spreadOf(rw) },
        THROUGHPUT_TARGET,
      ),
    );
  }
  bench.notes.push(`${transport} throughput runs: ${messages.length.toLocaleString('en-US')} messages each (sized from the raw client's warm-up rate to take about ${settings.throughputRunMs / 1000} s)`);
}

/** Opens `size` responders and a requester, times `rounds` requests after one warm-up round, closes them all. */
async function fanOutRounds(target: BenchTarget, size: number, rounds: number, settings: Settings, afterOpen: () => Promise<void>): Promise<number[]> {
  const what = `${nameOf(target)} fan-out to ${size}`;
  const group = await withDeadline(`${what}: opening the responders`, 120_000, target.openFanOut(size));
  try {
    await afterOpen();
    // The warm-up round also creates deploybus's reply queue, which its first request() declares.
    await withDeadline(`${what}: warm-up round`, settings.fanOutTimeoutMs + 5_000, group.round(settings.fanOutTimeoutMs));
    const samples: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      samples.push(await withDeadline(`${what}: round ${round + 1}`, settings.fanOutTimeoutMs + 5_000, group.round(settings.fanOutTimeoutMs)));
    }
    return samples;
  } finally {
    await withDeadline(`${what}: closing the responders`, 120_000, group.close());
  }
}

async function fanOutPhase(bench: TransportBench): Promise<void> {
  const { settings, targets, transport } = bench;
  const [deploybus, raw] = targets;
  // Broker sockets each client holds per responder, measured (rabbitmqctl) at the first size, so that
  // a larger fan-out that would fill the broker's socket table is not attempted.
  const socketsPerResponder = new Map<BenchTarget, number>();
  for (const [index, size] of settings.fanOutSizes.entries()) {
    const rounds = size === Math.max(...settings.fanOutSizes) ? settings.fanOutRoundsLargest : settings.fanOutRounds;
    // One group at a time: the broker's socket limit need not hold two large groups at once.
    const order = index % 2 === 0 ? targets : ([raw, deploybus] as const);
    const samples = new Map<BenchTarget, number[]>();
    const skipped: string[] = [];
    for (const target of order) {
      const before = await readBrokerSockets();
      const perResponder = socketsPerResponder.get(target);
      if (before !== undefined && perResponder !== undefined) {
        const need = perResponder * (size + 1);
        if (before.used + need > before.limit - SOCKET_HEADROOM) {
          skipped.push(
            `${nameOf(target)} not run: ${size} responders and a requester need about ${need} broker sockets (${perResponder} per client), ` +
              `the broker allows ${before.limit} and ${before.used} are in use (rabbitmqctl status), and ${SOCKET_HEADROOM} are kept free for other clients`,
          );
          log(`${transport}: fan-out to ${size} responders, ${nameOf(target)}: skipped, too few broker sockets`);
          continue;
        }
      }
      log(`${transport}: fan-out to ${size} responders, ${nameOf(target)}, ${rounds} rounds`);
      const measureSockets = async (): Promise<void> => {
        if (before === undefined || perResponder !== undefined) return;
        const after = await readBrokerSockets();
        if (after !== undefined) socketsPerResponder.set(target, Math.max(1, Math.round((after.used - before.used) / (size + 1))));
      };
      samples.set(target, await fanOutRounds(target, size, rounds, settings, measureSockets));
    }
    const db = samples.get(deploybus);
    const rw = samples.get(raw);
    bench.rows.push(
      compareRow(
        {
          metric: `fan-out round trip, ${size} responders`,
          transport,
          unit: 'ms',
          better: 'lower',
          deploybus: db === undefined ? undefined : spreadOf(db),
          raw: rw === undefined ? undefined : spreadOf(rw),
          ...(rounds !== settings.fanOutRounds ? { note: `${rounds} rounds` } : {}),
          ...(skipped.length > 0 ? { skipped: skipped.join('; ') } : {}),
        },
        LATENCY_TARGET,
      ),
    );
  }
  for (const [target, sockets] of socketsPerResponder) {
    bench.notes.push(`${nameOf(target)} holds ${sockets} broker connection(s) per responder (rabbitmqctl status, measured with ${settings.fanOutSizes[0] ?? 0} responders)`);
  }
}

async function connectPhase(bench: TransportBench): Promise<void> {
  const { settings, targets, transport } = bench;
  log(`${transport}: connect + close, ${settings.connectRounds} rounds`);
  const [db, rw] = await alternate(targets, settings.connectRounds, (target) => withDeadline(`${nameOf(target)} connect + close`, 20_000, target.connectClose()));
  bench.rows.push(compareRow({ metric: 'connect + close', transport, unit: 'ms', better: 'lower', deploybus: spreadOf(db), raw: spreadOf(rw) }, undefined));
}

/** Resident set size of a fresh process holding one idle connection (or none: `bare`), in MB. */
function idleRss(kind: 'deploybus' | 'raw' | 'bare', transport: Transport, url: string): Promise<number> {
  const script = join(BENCH_DIR, 'dist', 'idle-client.js');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script, kind, transport, url], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`the idle ${kind} ${transport} process failed: ${stderr.trim() || error.message}`));
        return;
      }
      const parsed = JSON.parse(stdout) as { rss: number };
      resolve(parsed.rss / 2 ** 20);
    });
  });
}

async function idleMemoryPhase(endpoints: Endpoints, transports: readonly Transport[], samples: number, rows: ResultRow[], notes: string[]): Promise<void> {
  log(`idle RSS: ${samples} child process(es) per client, each holding one connection for 3 s`);
  const repeat = (kind: 'deploybus' | 'raw' | 'bare', transport: Transport): Promise<number[]> => Promise.all(Array.from({ length: samples }, () => idleRss(kind, transport, endpoints[transport])));
  const [bare, measured] = await withDeadline(
    'the idle RSS child processes',
    60_000,
    Promise.all([repeat('bare', 'amqp'), Promise.all(transports.map(async (transport) => ({ transport, deploybus: await repeat('deploybus', transport), raw: await repeat('raw', transport) })))]),
  );
  for (const m of measured) {
    rows.push(absoluteRow({ metric: 'idle RSS, one connection', transport: m.transport, unit: 'MB', better: 'lower', deploybus: spreadOf(m.deploybus), raw: spreadOf(m.raw) }, RSS_LIMIT_MB));
  }
  notes.push(`idle RSS of a bare node process (no connection, nothing imported) for reference: ${spreadOf(bare).median.toFixed(1)} MB`);
}

function parseArgs(argv: readonly string[]): { transports: Transport[]; settings: Settings; quick: boolean } {
  let transports: Transport[] = ['stomp', 'amqp'];
  let quick = false;
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else if (arg === '--only=stomp' || arg === '--only=amqp') transports = [arg.slice('--only='.length) as Transport];
    else throw new Error(`unknown argument "${arg}"; use --only=stomp, --only=amqp or --quick`);
  }
  return { transports, settings: quick ? QUICK : FULL, quick };
}

function fail(message: string): never {
  throw new Error(message);
}

async function main(): Promise<void> {
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const loadAtStart = roundedLoad();
  const { transports, settings, quick } = parseArgs(process.argv.slice(2));
  const endpoints = endpointsFrom(process.env);
  await requireBroker(endpoints, transports);
  const watchdog = setTimeout(() => {
    log(`bench failed: the whole run took longer than ${WHOLE_RUN_LIMIT_MS / 60_000} minutes; giving up (queues it declared expire a minute after their connection closed).`);
    process.exit(1);
  }, WHOLE_RUN_LIMIT_MS);
  watchdog.unref();
  const leftovers = new Leftovers();
  const clock = new PhaseClock();
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  try {
    for (const transport of transports) {
      const url = endpoints[transport];
      const deploybus = new DeploybusTarget(transport, url, leftovers, settings.connectConcurrency);
      const raw = transport === 'amqp' ? new RawAmqpTarget(url, leftovers, settings.connectConcurrency) : new RawStompTarget(url, endpoints.amqp, leftovers, settings.connectConcurrency);
      const bench: TransportBench = { transport, targets: [deploybus, raw], settings, rows, notes };
      const messages = await clock.time(`${transport} warm-up`, () => warmUp(bench));
      await clock.time(`${transport} throughput`, () => throughputPhase(bench, messages));
      await clock.time(`${transport} fan-out`, () => fanOutPhase(bench));
      await clock.time(`${transport} connect`, () => connectPhase(bench));
    }
    await clock.time('idle RSS', () => idleMemoryPhase(endpoints, transports, settings.rssSamples, rows, notes));
  } catch (error) {
    for (const problem of await leftovers.clear(endpoints.amqp, 15_000)) log(`cleanup: ${problem}`);
    throw error;
  }
  const sample = heartbeats(1, uniqueWord('hb'))[0];
  notes.unshift(`throughput messages: deploybus heartbeat envelopes of ${sample === undefined ? '?' : encodedSize(sample)} bytes of JSON`);
  notes.push(...COMPARISON_NOTES);
  const machine = machineInfo(loadAtStart);
  const busiest = Math.max(...machine.loadavgAtStart.slice(0, 1), ...machine.loadavgAtEnd.slice(0, 1));
  if (busiest > machine.cpuCount) {
    notes.unshift(`WARNING: the machine was busy (1-minute load ${busiest} on ${machine.cpuCount} CPUs): other processes compete with the broker and the clients, so the figures are noisy`);
  }
  const report: BenchReport = {
    startedAt,
    durationS: Math.round((Date.now() - started) / 100) / 10,
    machine,
    broker: { amqp: redact(endpoints.amqp), stomp: redact(endpoints.stomp) },
    settings: { ...settings, fanOutSizes: settings.fanOutSizes.join(','), quick, runId: RUN_ID },
    phaseSeconds: clock.seconds,
    notes,
    results: rows,
  };
  const file = await writeReport(join(BENCH_DIR, 'results'), report);
  console.log(
    `\ndeploybus bus bench, ${startedAt}, ${report.durationS} s; ${machine.cpuCount} x ${machine.cpuModel}, load ${machine.loadavgAtStart.join('/')} -> ${machine.loadavgAtEnd.join('/')}, node ${machine.node}${quick ? ' (QUICK run)' : ''}`,
  );
  console.log(formatTable(rows));
  console.log('');
  for (const note of notes) console.log(`- ${note}`);
  console.log(`\nresults: ${file} (and latest.json)`);
}

// A promise nobody awaited any more (say, publishes still in flight when a phase timed out) must not
// end the run with a stack trace; it is reported in a line and fails the run.
let strayFailure = false;
process.on('unhandledRejection', (reason: unknown) => {
  strayFailure = true;
  const where = reason instanceof Error ? (reason.stack?.split('\n').find((line) => /\/(bench|packages)\//.test(line))?.trim() ?? '') : '';
  log(`bench: a stray operation failed: ${reason instanceof Error ? reason.message : String(reason)}${where === '' ? '' : ` (${where})`}`);
});

main().then(
  () => process.exit(strayFailure ? 1 : 0),
  (error: unknown) => {
    if (error instanceof BrokerUnreachableError) log(error.message);
    else log(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
