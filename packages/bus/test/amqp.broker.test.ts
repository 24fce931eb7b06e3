// The conformance suite on the real RabbitMQ over AMQP 0-9-1.
import amqp from 'amqplib';
import { beforeAll, describe, expect, it } from 'vitest';
import { BrokerRefusedError, connectBus } from '../src/index.js';
import { coalesceWrites } from '../src/transports/amqp-wire.js';
import { CaptureLogger } from './support/capture-logger.js';
import { conformanceSuite } from './support/conformance.js';
import { AMQP_URL, rabbitHarness, requireRabbit } from './support/rabbit-harness.js';

describe('amqp transport', () => {
  conformanceSuite({ harness: () => rabbitHarness('amqp'), requireBroker: requireRabbit });
});

describe('amqp refusals', () => {
  it('reject with a BrokerRefusedError naming the broker\'s reason, and the bus keeps working', async () => {
    const queue = `deploybus.test-clash-${Date.now()}`;
    // Someone made the queue as a classic one; deploybus's shared queues are quorum queues.
    const raw = await amqp.connect(AMQP_URL);
    const channel = await raw.createChannel();
    await channel.assertQueue(queue, { durable: true });
    const bus = await connectBus(AMQP_URL, { service: 'refusal-test', host: 'h1', logger: new CaptureLogger() });
    try {
      const error = await bus.declareQueue(queue, ['refusal.test']).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BrokerRefusedError);
      expect((error as Error).message).toMatch(/could not declare queue deploybus\.test-clash-\d+: .*PRECONDITION_FAILED - inequivalent arg/);
      const got: string[] = [];
      await bus.subscribe({ patterns: ['refusal.ok'] }, (m) => void got.push(m.id));
      expect(bus.state).toBe('connected');
    } finally {
      await bus.close();
      await channel.deleteQueue(queue);
      await raw.close();
    }
  });
});

describe('amqp write coalescing on the real broker', () => {
  beforeAll(requireRabbit);

  it('finds amqplib\'s socket, and twenty confirmed publishes of one turn leave in one writev and all arrive', async () => {
    const connection = await amqp.connect(AMQP_URL);
    try {
      expect(coalesceWrites(connection)).toBe(true); // fails when an amqplib upgrade moves its socket
      const channel = await connection.createConfirmChannel();
      const { queue } = await channel.assertQueue('', { exclusive: true });
      const socket = (connection as unknown as { connection: { stream: import('node:net').Socket } }).connection.stream;
      const vectors: number[] = [];
      const writev = socket._writev?.bind(socket);
      socket._writev = (chunks, callback) => {
        vectors.push(chunks.length);
        writev?.(chunks, callback);
      };
      await new Promise((resolve) => setImmediate(resolve)); // start a fresh turn
      const confirmed = Array.from({ length: 20 }, (_, i) => new Promise<void>((resolve, reject) => channel.sendToQueue(queue, Buffer.from(`m${i}`), {}, (error) => (error ? reject(error as Error) : resolve()))));
      await Promise.all(confirmed);
      expect(Math.max(...vectors)).toBeGreaterThanOrEqual(20);
      const bodies: string[] = [];
      for (let i = 0; i < 20; i++) {
        const message = await channel.get(queue, { noAck: true });
        if (message !== false) bodies.push(message.content.toString());
      }
      expect(bodies).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    } finally {
      await connection.close();
    }
  });
});
