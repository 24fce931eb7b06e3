// The conformance suite on the real RabbitMQ over AMQP 0-9-1.
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { BrokerRefusedError, connectBus } from '../src/index.js';
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
