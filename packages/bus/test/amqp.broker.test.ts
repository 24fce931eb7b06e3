// The conformance suite on the real RabbitMQ over AMQP 0-9-1.
import { describe } from 'vitest';
import { conformanceSuite } from './support/conformance.js';
import { rabbitHarness, requireRabbit } from './support/rabbit-harness.js';

describe('amqp transport', () => {
  conformanceSuite({ harness: () => rabbitHarness('amqp'), requireBroker: requireRabbit });
});
