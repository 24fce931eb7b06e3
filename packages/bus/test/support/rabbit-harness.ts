// The harness for the real RabbitMQ (STOMP and AMQP share it): raw publishes and dead-letter reads
// through plain amqplib, and broker restarts through rabbitmqctl. When the broker cannot be reached
// the tests fail with a sentence saying so; they never skip.
import { execFile } from 'node:child_process';
import { createConnection } from 'node:net';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { DEAD_LETTER_QUEUE, EVENTS_EXCHANGE } from '@deploybus/protocol';
import type { DeadLetter, TransportHarness } from './harness.js';
import { sleep } from './wait-for.js';

const run = promisify(execFile);
export const AMQP_URL = process.env['DEPLOYBUS_TEST_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
export const STOMP_URL = process.env['DEPLOYBUS_TEST_STOMP_URL'] ?? 'stomp://guest:guest@127.0.0.1:61613';

export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Throws unless RabbitMQ answers on AMQP and STOMP. Used in beforeAll: a broker test fails, loudly, without its broker. */
export async function requireRabbit(): Promise<void> {
  const [amqpUp, stompUp] = await Promise.all([portOpen(5672), portOpen(61613)]);
  if (!amqpUp || !stompUp) {
    const ci = process.env['CI'] === 'true' ? ' (CI=true: broker tests never skip)' : '';
    throw new Error(
      `RabbitMQ is not reachable${ci}: AMQP 127.0.0.1:5672 ${amqpUp ? 'up' : 'DOWN'}, STOMP 127.0.0.1:61613 ${stompUp ? 'up' : 'DOWN'}. ` +
        'Start it with `rabbitmq-server -detached` and enable STOMP with `rabbitmq-plugins enable rabbitmq_stomp`.',
    );
  }
}

/** Deletes queues a test left on the shared broker (agents' durable command queues outlive their clients). */
export async function deleteQueues(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const connection = await amqp.connect(AMQP_URL);
  try {
    const channel = await connection.createChannel();
    for (const name of names) await channel.deleteQueue(name);
  } finally {
    await connection.close();
  }
}

export async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', args, { timeout: 120_000 });
  return stdout;
}

async function waitForRabbit(): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if ((await portOpen(5672)) && (await portOpen(61613))) return;
    await sleep(200);
  }
  throw new Error('RabbitMQ did not come back within 60 s after start_app');
}

export function rabbitHarness(name: 'stomp' | 'amqp'): TransportHarness {
  let connection: amqp.ChannelModel | undefined;
  const channel = async (): Promise<amqp.ConfirmChannel> => {
    if (!connection) {
      connection = await amqp.connect(AMQP_URL);
      connection.on('error', () => undefined);
    }
    const ch = await connection.createConfirmChannel();
    ch.on('error', () => undefined);
    return ch;
  };
  return {
    name,
    url: name === 'stomp' ? STOMP_URL : AMQP_URL,
    async publishRaw(routingKey, body) {
      const ch = await channel();
      ch.publish(EVENTS_EXCHANGE, routingKey, body, { contentType: 'application/json', persistent: true });
      await ch.waitForConfirms();
      await ch.close();
    },
    async drainDeadLetters() {
      const ch = await channel();
      const letters: DeadLetter[] = [];
      try {
        for (;;) {
          const message = await ch.get(DEAD_LETTER_QUEUE, { noAck: true });
          if (message === false) break;
          const header = (key: string): string => {
            const value: unknown = message.properties.headers?.[key];
            return Buffer.isBuffer(value) ? value.toString('utf8') : typeof value === 'string' ? value : '';
          };
          letters.push({
            body: message.content.toString('utf8'),
            reason: header('x-deploybus-reason'),
            queue: header('x-deploybus-queue'),
            routingKey: header('x-deploybus-routing-key'),
          });
        }
      } finally {
        await ch.close().catch(() => undefined);
      }
      return letters;
    },
    async restartBroker(whileDown) {
      await connection?.close().catch(() => undefined);
      connection = undefined;
      await rabbitmqctl('stop_app');
      try {
        await whileDown();
      } finally {
        await rabbitmqctl('start_app');
        await waitForRabbit();
      }
    },
    async deleteQueue(queue) {
      const ch = await channel();
      await ch.deleteQueue(queue).catch(() => undefined);
      await ch.close().catch(() => undefined);
    },
    async close() {
      await connection?.close().catch(() => undefined);
      connection = undefined;
    },
  };
}
