// The conformance suite on the real RabbitMQ over STOMP 1.2.
import { describe } from 'vitest';
import { conformanceSuite } from './support/conformance.js';
import { rabbitHarness, requireRabbit } from './support/rabbit-harness.js';

describe('stomp transport', () => {
  conformanceSuite({ harness: () => rabbitHarness('stomp'), requireBroker: requireRabbit });
});
