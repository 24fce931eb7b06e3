// StompWire on its own against the real RabbitMQ over STOMP: connecting and refusing, the queues it
// declares (checked with rabbitmqctl, and redeclared over AMQP), publishing with receipts, consuming,
// redelivery and dead letters, loss of the connection, TLS, and many confirms in flight at once.
// No skips: without a broker every test fails, with a sentence saying how to start one.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_EXCHANGE, DEAD_LETTER_ROUTING_KEY, EVENTS_EXCHANGE } from '@deploybus/protocol';
import { parseBusUrl } from '../src/connect.js';
import { WireClosedError } from '../src/errors.js';
import { queueArguments } from '../src/queue-arguments.js';
import { BrokerRefusedError } from '../src/errors.js';
import { routingKeyOfDestination, StompWire, type StompWireOptions } from '../src/transports/stomp-wire.js';
import type { QueueKind, QueueSpec, WireConsumer, WireDelivery, WirePublishOptions } from '../src/wire.js';
import { AMQP_URL, rabbitmqctl, requireRabbit, STOMP_URL } from './support/rabbit-harness.js';
import { randomName, sleep, waitFor } from './support/wait-for.js';

const run = promisify(execFile);
const broker = parseBusUrl(STOMP_URL);
const ENDPOINT = `${broker.host}:${broker.port}`;

function baseOptions(extra: Partial<StompWireOptions> = {}): StompWireOptions {
  return { host: broker.host, port: broker.port, login: broker.username, passcode: broker.password, vhost: broker.vhost, heartbeatMs: 2_000, ...extra };
}

// --- per-test resources, released in finally ------------------------------------------------------

interface Scenario {
  /** A fresh queue name, deleted when the test ends. */
  queue(prefix: string): string;
  /** A connected wire, closed when the test ends. */
  wire(extra?: Partial<StompWireOptions>): Promise<StompWire>;
  proxy(tls?: { key: string; cert: string }): Promise<TestProxy>;
}

async function scenario(body: (s: Scenario) => Promise<void>): Promise<void> {
  const queues: string[] = [];
  const wires: StompWire[] = [];
  const proxies: TestProxy[] = [];
  try {
    await body({
      queue(prefix) {
        const name = `deploybus.test-${randomName(prefix)}`;
        queues.push(name);
        return name;
      },
      async wire(extra) {
        const wire = new StompWire(baseOptions(extra));
        wires.push(wire);
        await wire.connect();
        return wire;
      },
      async proxy(tls) {
        const proxy = await startProxy(tls);
        proxies.push(proxy);
        return proxy;
      },
    });
  } finally {
    await Promise.allSettled(wires.map((w) => w.close()));
    await Promise.allSettled(proxies.map((p) => p.close()));
    await Promise.allSettled(queues.map((q) => deleteQueueOverAmqp(q)));
  }
}

let amqpConnection: amqp.ChannelModel | undefined;

async function amqpChannel(): Promise<amqp.Channel> {
  amqpConnection ??= await amqp.connect(AMQP_URL);
  amqpConnection.on('error', () => undefined);
  const channel = await amqpConnection.createChannel();
  channel.on('error', () => undefined);
  return channel;
}

async function deleteQueueOverAmqp(name: string): Promise<void> {
  const channel = await amqpChannel();
  await channel.deleteQueue(name).catch(() => undefined);
  await channel.close().catch(() => undefined);
}

// --- what the broker says -----------------------------------------------------------------------------

interface QueueRow {
  readonly name: string;
  readonly type: string;
  readonly durable: boolean;
  readonly auto_delete: boolean;
  /** "" when not exclusive. */
  readonly exclusive: boolean | string;
  readonly arguments: readonly (readonly [string, string, unknown])[];
  readonly messages_ready: number;
  readonly messages_unacknowledged: number;
}

async function queueRow(name: string): Promise<QueueRow | undefined> {
  const out = await rabbitmqctl('list_queues', 'name', 'type', 'durable', 'auto_delete', 'exclusive', 'arguments', 'messages_ready', 'messages_unacknowledged', '--formatter', 'json', '-q');
  return (JSON.parse(out) as QueueRow[]).find((row) => row.name === name);
}

async function bindingsOf(queue: string): Promise<string[]> {
  const out = await rabbitmqctl('list_bindings', 'source_name', 'destination_name', 'routing_key', '--formatter', 'json', '-q');
  const rows = JSON.parse(out) as { source_name: string; destination_name: string; routing_key: string }[];
  return rows
    .filter((b) => b.destination_name === queue && b.source_name !== '')
    .map((b) => `${b.source_name} ${b.routing_key}`)
    .sort();
}

/** Closes, from the broker's side, the STOMP connections that came in through these local ports. */
async function closeStompConnectionsAtBroker(ports: readonly number[]): Promise<number> {
  const out = await rabbitmqctl('list_stomp_connections', 'conn_name', 'connection', '-q');
  let closed = 0;
  for (const line of out.split('\n')) {
    const [name, pid] = line.split('\t');
    const port = Number(/^[^:]+:(\d+) ->/.exec(name ?? '')?.[1]);
    if (pid === undefined || !ports.includes(port)) continue;
    // `rabbitmqctl close_connection` ignores STOMP connections (they are "direct" connections inside
    // the broker), so close the connection process the way the broker itself would.
    // `catch`: the close races the STOMP adapter tearing the same connection down, and either wins.
    await rabbitmqctl('eval', `catch amqp_connection:close(rabbit_misc:string_to_pid("${pid}"), 320, <<"CONNECTION_FORCED - closed by stomp-wire test">>).`);
    closed += 1;
  }
  return closed;
}

// --- helpers ---------------------------------------------------------------------------------------

function spec(name: string, kind: QueueKind, patterns: string[], exchange?: string): QueueSpec {
  return exchange === undefined ? { name, kind, patterns } : { name, kind, patterns, exchange };
}

function publishOptions(routingKey: string, extra: Partial<WirePublishOptions> = {}): WirePublishOptions {
  return { exchange: EVENTS_EXCHANGE, routingKey, messageId: randomName('msg'), type: 'heartbeat', confirm: true, ...extra };
}

function word(): string {
  return randomName('w').replace(/[^a-z0-9]/g, '');
}

async function collect(wire: StompWire, queue: string, prefetch = 50): Promise<{ deliveries: WireDelivery[]; consumer: WireConsumer }> {
  const deliveries: WireDelivery[] = [];
  const consumer = await wire.consume(queue, prefetch, (d) => void deliveries.push(d));
  return { deliveries, consumer };
}

function lostRecorder(wire: StompWire): Error[] {
  const lost: Error[] = [];
  wire.onLost((error) => lost.push(error));
  return lost;
}

/**
 * A TCP (or TLS-terminating) proxy in front of the broker. Unlike support/tcp-proxy.ts it terminates
 * TLS, tells which local ports reach the broker (to close exactly those connections), can hold back
 * the broker's answers, and counts SENDs that went out before the first RECEIPT came back.
 */
interface TestProxy {
  readonly port: number;
  upstreamPorts(): number[];
  /** Stops passing the broker's bytes to the client (they are dropped); closes still pass. */
  holdReplies(): void;
  /** Drops everything both ways and passes no close: a dead network. */
  blackhole(): void;
  startCounting(): void;
  sendsBeforeFirstReceipt(): number;
  close(): Promise<void>;
}

async function startProxy(tls?: { key: string; cert: string }): Promise<TestProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let mode: 'pass' | 'hold' | 'blackhole' = 'pass';
  let counting = false;
  let receiptSeen = false;
  let sends = 0;
  const onClient = (client: Socket): void => {
    const upstream = createConnection({ host: broker.host, port: broker.port });
    const pair = { client, upstream };
    pairs.add(pair);
    client.on('data', (data: Buffer) => {
      if (counting && !receiptSeen) sends += data.toString('latin1').split('SEND\n').length - 1;
      if (mode !== 'blackhole') upstream.write(data);
    });
    upstream.on('data', (data: Buffer) => {
      if (counting && data.includes('RECEIPT\n')) receiptSeen = true;
      if (mode === 'pass') client.write(data);
    });
    for (const socket of [client, upstream]) {
      socket.on('error', () => undefined);
      socket.on('close', () => {
        pairs.delete(pair);
        if (mode === 'blackhole') return;
        client.destroy();
        upstream.destroy();
      });
    }
  };
  const server: Server = tls === undefined ? createServer(onClient) : createTlsServer({ key: tls.key, cert: tls.cert }, onClient);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    upstreamPorts: () => [...pairs].map((p) => p.upstream.localPort).filter((p): p is number => p !== undefined),
    holdReplies: () => void (mode = 'hold'),
    blackhole: () => void (mode = 'blackhole'),
    startCounting: () => {
      counting = true;
      receiptSeen = false;
      sends = 0;
    },
    sendsBeforeFirstReceipt: () => sends,
    close: async () => {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// --- the tests ----------------------------------------------------------------------------------------

beforeAll(requireRabbit);
afterAll(async () => {
  await amqpConnection?.close().catch(() => undefined);
});

describe('StompWire: connecting', () => {
  it('connects, publishes, and on close() ends without reporting a loss; afterwards it refuses to publish', async () => {
    await scenario(async (s) => {
      const wire = await s.wire();
      const lost = lostRecorder(wire);
      await wire.publish(Buffer.from('{}'), publishOptions(`nowhere.${word()}`));
      await wire.close();
      await sleep(300);
      expect(lost).toEqual([]);
      await expect(wire.publish(Buffer.from('{}'), publishOptions('nowhere'))).rejects.toBeInstanceOf(WireClosedError);
    });
  });

  it('refuses a bad login with a sentence that says so', async () => {
    const wire = new StompWire(baseOptions({ login: 'nobody', passcode: 'wrong' }));
    try {
      const error: unknown = await wire.connect().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(BrokerRefusedError);
      expect((error as BrokerRefusedError).message).toBe(`STOMP login refused by ${ENDPOINT}: Access refused for user 'nobody'`);
      expect((error as BrokerRefusedError).brokerMessage).toBe('Bad CONNECT');
    } finally {
      await wire.close();
    }
  });

  it('fails with WireClosedError when nothing listens, and when nothing answers within connectTimeoutMs', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = new StompWire(baseOptions({ host: '127.0.0.1', port: closedPort }));
    await expect(refused.connect()).rejects.toThrow(new RegExp(`^could not connect to STOMP at 127\\.0\\.0\\.1:${closedPort}: .*ECONNREFUSED`));
    await refused.close();

    const accepted: Socket[] = [];
    const silent = createServer((socket) => void accepted.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as { port: number }).port;
    try {
      const wire = new StompWire(baseOptions({ host: '127.0.0.1', port: silentPort, connectTimeoutMs: 300 }));
      const started = Date.now();
      const error: unknown = await wire.connect().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(WireClosedError);
      expect(String(error)).toContain(`no STOMP CONNECTED from 127.0.0.1:${silentPort} within 300 ms`);
      expect(Date.now() - started).toBeLessThan(5_000);
      await wire.close();
    } finally {
      for (const socket of accepted) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('connects over TLS with the CA it is given, and refuses a certificate it cannot verify', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stomp-tls-'));
    try {
      const [keyFile, certFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
      await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyFile, '-out', certFile]);
      const [key, cert] = [await readFile(keyFile, 'utf8'), await readFile(certFile, 'utf8')];
      await scenario(async (s) => {
        const proxy = await s.proxy({ key, cert });
        const wire = await s.wire({ host: '127.0.0.1', port: proxy.port, tls: { ca: cert } });
        await wire.publish(Buffer.from('{}'), publishOptions(`nowhere.${word()}`));

        const untrusting = new StompWire(baseOptions({ host: '127.0.0.1', port: proxy.port, tls: {} }));
        const error: unknown = await untrusting.connect().then(() => undefined, (e: unknown) => e);
        await untrusting.close();
        expect(error).toBeInstanceOf(WireClosedError);
        expect(String(error)).toMatch(/self[- ]signed certificate/);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('StompWire: queues', () => {
  it('declares queues of every kind with exactly the arguments the AMQP transport declares', async () => {
    await scenario(async (s) => {
      const wire = await s.wire();
      const w = word();
      const shared = spec(s.queue('shared'), 'shared', [`deploy.*.${w}`, `agent.command.${w}`]);
      const priv = spec(s.queue('private'), 'private', [`heartbeat.${w}.#`]);
      const reply = spec(s.queue('reply'), 'reply', [`reply.${w}`]);
      const dead = spec(s.queue('dead'), 'dead-letter', [`dl-${w}`], DEAD_LETTER_EXCHANGE);
      const all = [shared, priv, reply, dead];
      for (const q of all) await wire.declareQueue(q);

      for (const [q, type] of [[shared, 'quorum'], [priv, 'classic'], [reply, 'classic'], [dead, 'classic']] as const) {
        const row = await queueRow(q.name);
        expect(row, `queue ${q.name} exists`).toBeDefined();
        expect({ type: row?.type, durable: row?.durable, autoDelete: row?.auto_delete, exclusive: Boolean(row?.exclusive) }).toEqual({ type, durable: true, autoDelete: false, exclusive: false });
        const args = Object.fromEntries((row?.arguments ?? []).map(([name, , value]) => [name, value]));
        expect(args).toEqual(queueArguments(q.kind));
      }
      expect(await bindingsOf(shared.name)).toEqual([`amq.topic agent.command.${w}`, `amq.topic deploy.*.${w}`]);
      expect(await bindingsOf(priv.name)).toEqual([`amq.topic heartbeat.${w}.#`]);
      expect(await bindingsOf(dead.name)).toEqual([`amq.direct dl-${w}`]);

      // An AMQP client redeclaring them with the same arguments is not refused (PRECONDITION_FAILED would throw).
      const channel = await amqpChannel();
      try {
        for (const q of all) await channel.assertQueue(q.name, { durable: true, arguments: queueArguments(q.kind) });
      } finally {
        await channel.close().catch(() => undefined);
      }
    });
  });

  it('declares a queue with no pattern, bound to nothing but the default exchange', async () => {
    await scenario(async (s) => {
      const wire = await s.wire();
      const q = spec(s.queue('bare'), 'private', []);
      await wire.declareQueue(q);
      expect((await queueRow(q.name))?.type).toBe('classic');
      expect(await bindingsOf(q.name)).toEqual([]);
    });
  });

  it('takes no message when it (re)declares a queue that holds some', async () => {
    await scenario(async (s) => {
      const wire = await s.wire();
      const w = word();
      const q = spec(s.queue('backlog'), 'private', [`backlog.${w}`]);
      await wire.declareQueue(q);
      await Promise.all(Array.from({ length: 5 }, () => wire.publish(Buffer.from('{}'), publishOptions(`backlog.${w}`))));
      await wire.declareQueue(q);
      await wire.declareQueue(q);
      // The declaring subscription may take a message; its connection's close gives it back.
      await waitFor('all five ready, none held', async () => {
        const row = await queueRow(q.name);
        return row?.messages_ready === 5 && row.messages_unacknowledged === 0;
      });
    });
  });

  it("refuses a declaration whose arguments clash, with the broker's reason, and stays usable", async () => {
    await scenario(async (s) => {
      const wire = await s.wire();
      const lost = lostRecorder(wire);
      const name = s.queue('clash');
      await wire.declareQueue(spec(name, 'private', [`clash.${word()}`]));
      const error: unknown = await wire.declareQueue(spec(name, 'shared', [`clash.${word()}`])).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(BrokerRefusedError);
      expect((error as BrokerRefusedError).brokerMessage).toBe('precondition_failed');
      expect(String(error)).toContain(`could not declare queue ${name}: ${ENDPOINT} answered with an ERROR frame: precondition_failed: PRECONDITION_FAILED - inequivalent arg '`);
      await wire.publish(Buffer.from('{}'), publishOptions(`nowhere.${word()}`));
      expect(lost).toEqual([]);
    });
  });

  it('deletes a queue it declared, and leaves alone one it does not know', async () => {
    await scenario(async (s) => {
      const wire = await s.wire();
      const mine = spec(s.queue('mine'), 'private', [`del.${word()}`]);
      await wire.declareQueue(mine);
      expect(await queueRow(mine.name)).toBeDefined();
      await wire.deleteQueue(mine.name);
      expect(await queueRow(mine.name)).toBeUndefined();

      const foreign = s.queue('foreign');
      const channel = await amqpChannel();
      await channel.assertQueue(foreign, { durable: true, arguments: queueArguments('private') });
      await channel.close();
      await wire.deleteQueue(foreign);
      expect(await queueRow(foreign)).toBeDefined();
    });
  });
});

describe('StompWire: publishing and consuming', () => {
  it('publishes with a receipt and delivers body and routing key, including keys with "-" and "/"', async () => {
    await scenario(async (s) => {
      const wire = await s.wire();
      const w = word();
      const q = spec(s.queue('rk'), 'private', [`rk.${w}.#`]);
      await wire.declareQueue(q);
      const keys = [`rk.${w}.plain`, `rk.${w}.with-dash`, `rk.${w}.a/b`];
      for (const key of keys) await wire.publish(Buffer.from(JSON.stringify({ key })), publishOptions(key));
      const { deliveries } = await collect(wire, q.name);
      await waitFor('three deliveries', () => deliveries.length === 3);
      expect(deliveries.map((d) => d.routingKey)).toEqual(keys);
      expect(deliveries.map((d) => JSON.parse(d.body.toString('utf8')) as unknown)).toEqual(keys.map((key) => ({ key })));
      expect(deliveries.map((d) => [d.redelivered, d.deliveryCount])).toEqual(keys.map(() => [false, undefined]));
      for (const d of deliveries) d.ack();
      await waitFor('the queue to be empty', async () => {
        const row = await queueRow(q.name);
        return row?.messages_ready === 0 && row.messages_unacknowledged === 0;
      });
    });
  });

  it('maps the publish options onto AMQP properties and headers an AMQP consumer reads', async () => {
    await scenario(async (s) => {
      const wire = await s.wire();
      const w = word();
      const q = spec(s.queue('props'), 'private', [`props.${w}`]);
      await wire.declareQueue(q);
      const reason = 'failed: exit 1\nsecond line \\ with: colons';
      await wire.publish(
        Buffer.from('{"a":1}'),
        publishOptions(`props.${w}`, { messageId: 'm-123', type: 'deploy.requested', correlationId: 'c-456', expirationMs: 60_000.4, headers: { 'x-deploybus-reason': reason } }),
      );
      const channel = await amqpChannel();
      try {
        const got = await channel.get(q.name, { noAck: true });
        if (got === false) throw new Error('no message in the queue');
        expect(got.content.toString()).toBe('{"a":1}');
        expect(got.fields.routingKey).toBe(`props.${w}`);
        expect(got.properties).toMatchObject({ contentType: 'application/json', deliveryMode: 2, messageId: 'm-123', type: 'deploy.requested', correlationId: 'c-456', expiration: '60000' });
        expect(Math.abs(Number(got.properties.timestamp) - Date.now() / 1000)).toBeLessThan(60);
        const header: unknown = got.properties.headers?.['x-deploybus-reason'];
        expect(Buffer.isBuffer(header) ? header.toString('utf8') : header).toBe(reason);
      } finally {
        await channel.close().catch(() => undefined);
      }
    });
  });

  it('redelivers after nack(true) with deliveryCount 1 on a quorum queue, and dead-letters after nack(false)', async () => {
    await scenario(async (s) => {
      const wire = await s.wire();
      const w = word();
      const shared = spec(s.queue('nack'), 'shared', [`nack.${w}`]);
      // A dead-letter queue of our own, bound where the shared queue dead-letters to.
      const letters = spec(s.queue('letters'), 'dead-letter', [DEAD_LETTER_ROUTING_KEY], DEAD_LETTER_EXCHANGE);
      await wire.declareQueue(shared);
      await wire.declareQueue(letters);
      const body = JSON.stringify({ id: randomName('poison') });
      await wire.publish(Buffer.from(body), publishOptions(`nack.${w}`));

      const { deliveries } = await collect(wire, shared.name, 1);
      await waitFor('the first delivery', () => deliveries.length === 1);
      expect([deliveries[0]?.redelivered, deliveries[0]?.deliveryCount]).toEqual([false, undefined]);
      deliveries[0]?.nack(true);
      await waitFor('the redelivery', () => deliveries.length === 2);
      expect([deliveries[1]?.redelivered, deliveries[1]?.deliveryCount, deliveries[1]?.body.toString()]).toEqual([true, 1, body]);
      deliveries[1]?.nack(false);

      const dead = await collect(wire, letters.name);
      await waitFor('the dead letter', () => dead.deliveries.some((d) => d.body.toString() === body));
      const letter = dead.deliveries.find((d) => d.body.toString() === body);
      expect(letter?.routingKey).toBe(DEAD_LETTER_ROUTING_KEY);
      letter?.ack();
    });
  });

  it('cancel() gives back what the consumer held unsettled, and settling those afterwards does nothing', async () => {
    await scenario(async (s) => {
      const wire = await s.wire();
      const lost = lostRecorder(wire);
      const w = word();
      const q = spec(s.queue('cancel'), 'private', [`cancel.${w}`]);
      await wire.declareQueue(q);
      await Promise.all(Array.from({ length: 3 }, () => wire.publish(Buffer.from('{}'), publishOptions(`cancel.${w}`))));
      const first = await collect(wire, q.name, 10);
      await waitFor('three deliveries', () => first.deliveries.length === 3);
      await first.consumer.cancel();
      for (const d of first.deliveries) d.ack();
      await waitFor('all three ready again, none held', async () => {
        const row = await queueRow(q.name);
        return row?.messages_ready === 3 && row.messages_unacknowledged === 0;
      });
      const second = await collect(wire, q.name, 10);
      await waitFor('them again, on a new consumer', () => second.deliveries.length === 3);
      expect(second.deliveries.every((d) => d.redelivered)).toBe(true);
      expect(lost).toEqual([]);
    });
  });

  it('resolves 2,000 confirmed publishes sent at once, with SENDs pipelined ahead of the receipts', async () => {
    await scenario(async (s) => {
      const proxy = await s.proxy();
      const wire = await s.wire({ host: '127.0.0.1', port: proxy.port });
      const w = word();
      const q = spec(s.queue('many'), 'private', [`many.${w}`]);
      await wire.declareQueue(q);
      proxy.startCounting();
      const started = Date.now();
      const results = await Promise.allSettled(Array.from({ length: 2_000 }, (_, i) => wire.publish(Buffer.from(`{"n":${i}}`), publishOptions(`many.${w}`))));
      console.log(`stomp-wire: 2,000 confirmed publishes in ${Date.now() - started} ms; ${proxy.sendsBeforeFirstReceipt()} SENDs out before the first RECEIPT`);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(proxy.sendsBeforeFirstReceipt()).toBeGreaterThan(100);
      await waitFor('2,000 messages in the queue', async () => (await queueRow(q.name))?.messages_ready === 2_000);
    });
  });
});

describe('StompWire: losing the connection', () => {
  it('reports one loss when the broker closes its connections, fails confirms in flight, and ignores late acks', async () => {
    await scenario(async (s) => {
      const proxy = await s.proxy();
      const wire = await s.wire({ host: '127.0.0.1', port: proxy.port });
      const lost = lostRecorder(wire);
      const w = word();
      const q = spec(s.queue('lost'), 'private', [`lost.${w}`]);
      await wire.declareQueue(q);
      await wire.publish(Buffer.from('{}'), publishOptions(`lost.${w}`));
      const { deliveries } = await collect(wire, q.name);
      await waitFor('a delivery', () => deliveries.length === 1);

      proxy.holdReplies();
      const inFlight = Promise.allSettled(Array.from({ length: 20 }, () => wire.publish(Buffer.from('{}'), publishOptions(`lost.${w}`))));
      // The main connection and the consumer's.
      expect(await closeStompConnectionsAtBroker(proxy.upstreamPorts())).toBe(2);

      const settled = await inFlight;
      expect(settled.every((r) => r.status === 'rejected' && r.reason instanceof WireClosedError)).toBe(true);
      await waitFor('the loss to be reported', () => lost.length > 0);
      expect(lost[0]).toBeInstanceOf(WireClosedError);
      expect(() => deliveries[0]?.ack()).not.toThrow();
      await expect(wire.publish(Buffer.from('{}'), publishOptions(`lost.${w}`))).rejects.toBeInstanceOf(WireClosedError);
      await expect(wire.declareQueue(q)).rejects.toBeInstanceOf(WireClosedError);
      await sleep(500);
      expect(lost).toHaveLength(1);
      await waitFor('the unacknowledged delivery back in the queue', async () => (await queueRow(q.name))?.messages_unacknowledged === 0);
    });
  });

  it('notices a broker that went silent by its missing heart-beats', async () => {
    await scenario(async (s) => {
      const proxy = await s.proxy();
      const wire = await s.wire({ host: '127.0.0.1', port: proxy.port, heartbeatMs: 1_000 });
      const lost = lostRecorder(wire);
      const pending = wire.publish(Buffer.from('{}'), publishOptions(`nowhere.${word()}`)).catch((e: unknown) => e);
      proxy.blackhole();
      const silentSince = Date.now();
      await waitFor('the loss to be reported', () => lost.length > 0, 10_000);
      expect(lost[0]?.message).toMatch(/^missed heart-beats from 127\.0\.0\.1:\d+ \(every 1000 ms asked\)/);
      expect(Date.now() - silentSince).toBeLessThan(6_000);
      expect(await pending).toBeInstanceOf(WireClosedError);
    });
  });
});

describe('routingKeyOfDestination', () => {
  it.each([
    ['/topic/deploy.requested.shop.prod', 'deploy.requested.shop.prod'],
    ['/topic/a.with-dash', 'a.with-dash'],
    ['/topic/a%2Fb', 'a/b'],
    ['/exchange/amq.direct/deploybus.dead-letter', 'deploybus.dead-letter'],
    ['/exchange/x%2Fy/k%2Fz', 'k/z'],
    ['/exchange/amq.fanout', ''],
    ['/queue/deploybus.reply', 'deploybus.reply'],
    ['/topic/caf%C3%A9.100%25', 'café.100%'],
  ])('reads %s as %s', (destination, key) => {
    expect(routingKeyOfDestination(destination)).toBe(key);
  });
});
