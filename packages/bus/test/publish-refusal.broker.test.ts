// A publish the broker refuses (here: RabbitMQ's topic permissions forbid its routing key) fails at
// once with the broker's reason, while the publishes in flight beside it, which the broker's refusal
// does not name, still arrive. The broker closes the channel (AMQP) or the connection (STOMP) without
// saying which message it refused; the client finds it by sending those in flight again one at a time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, PublishRejectedError, type Bus } from '../src/index.js';
import { CaptureLogger } from './support/capture-logger.js';
import { AMQP_URL, rabbitmqctl, requireRabbit, STOMP_URL } from './support/rabbit-harness.js';
import { waitFor } from './support/wait-for.js';

const USER = `deploybus-refusal-${process.pid}`;
const PASSWORD = 'refusal-test-password';
const VHOST = '/';

/** The harness's URL with this test's user, who may write `refusal-ok.*` and `reply.*` only. */
function asTestUser(url: string): string {
  const parsed = new URL(url);
  parsed.username = USER;
  parsed.password = PASSWORD;
  return parsed.toString();
}

beforeAll(async () => {
  await requireRabbit();
  await rabbitmqctl('add_user', USER, PASSWORD);
  await rabbitmqctl('set_permissions', '-p', VHOST, USER, '.*', '.*', '.*');
  await rabbitmqctl('set_topic_permissions', '-p', VHOST, USER, 'amq.topic', '^(refusal-ok\\..*|reply\\..*)$', '.*');
}, 120_000);

afterAll(async () => {
  await rabbitmqctl('delete_user', USER).catch(() => undefined);
}, 120_000);

describe.each([
  ['amqp', AMQP_URL],
  ['stomp', STOMP_URL],
])('a refused publish over %s', (_transport, url) => {
  it('fails with the broker\'s reason, and the publishes in flight beside it arrive', { timeout: 60_000 }, async () => {
    const watcher = await connectBus(AMQP_URL, { service: 'refusal-watch', host: 'w1', logger: new CaptureLogger() });
    // A publish timeout longer than the test's: a refused message that is only retried until then fails the test.
    const bus: Bus = await connectBus(asTestUser(url), { service: 'refusal-test', host: 'h1', logger: new CaptureLogger(), publishTimeoutMs: 120_000 });
    try {
      const arrived = new Set<string>();
      await watcher.subscribe({ patterns: ['refusal-ok.#', 'refusal-denied.#'] }, (m) => void arrived.add(m.id));
      const messages = Array.from({ length: 5 }, () => bus.message('roster.query', {}));
      const keys = ['refusal-ok.a', 'refusal-ok.b', 'refusal-denied.x', 'refusal-ok.c', 'refusal-ok.d'];
      const outcomes = await Promise.allSettled(messages.map((m, i) => bus.publish(m, { routingKey: keys[i] ?? '' })));

      const refused = outcomes[2];
      expect(refused?.status).toBe('rejected');
      const error = refused?.status === 'rejected' ? (refused.reason as Error) : undefined;
      expect(error).toBeInstanceOf(PublishRejectedError);
      expect(error?.message).toMatch(/the broker refused roster\.query to refusal-denied\.x: .*(ACCESS_REFUSED|access_refused).*refusal-denied\.x/);
      for (const i of [0, 1, 3, 4]) expect(outcomes[i]?.status, `publish to ${keys[i]}`).toBe('fulfilled');
      await waitFor('the four allowed messages at the watcher', () => [0, 1, 3, 4].every((i) => arrived.has(messages[i]?.id ?? '')), 20_000);
      expect(arrived.has(messages[2]?.id ?? '')).toBe(false);

      // Alone, a refused message fails the same way; the bus goes on.
      const alone = bus.message('roster.query', {});
      await expect(bus.publish(alone, { routingKey: 'refusal-denied.y' })).rejects.toThrow(PublishRejectedError);
      const after = bus.message('roster.query', {});
      await bus.publish(after, { routingKey: 'refusal-ok.e' });
      await waitFor('a message published after the refusals', () => arrived.has(after.id), 20_000);
      expect(bus.state).toBe('connected');
    } finally {
      await bus.close();
      await watcher.close();
    }
  });
});
