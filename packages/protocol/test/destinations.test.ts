// Routing: topic-pattern matching as RabbitMQ does it, pattern validation, routing keys per type, queue names.
import { describe, expect, it } from 'vitest';
import {
  commandQueueName,
  commandRoutingKey,
  createMessage,
  isValidPattern,
  matchesPattern,
  messageSpecs,
  type MessageType,
  type PayloadInputOf,
  privateQueueName,
  ProtocolError,
  replyQueueName,
  replyRoutingKey,
  routingKeyOf,
  routingSegment,
  stompTopicDestination,
  workQueueName,
} from '../src/index.js';

// Recorded from RabbitMQ 3.10's own topic exchange: one queue bound per pattern, one message published
// per key; '1' where the queue received it. Note that the empty key has no words, so `*` misses it.
const KEYS = ['', 'a', 'b', 'a.b', 'a.x.b', 'a.x.y.b', 'a..b', 'a.', '.a', '.', 'x.a', 'a.b.c', 'a.b.b'];
const BROKER_MATCHES: Record<string, string> = {
  '#': '1111111111111',
  '*': '0110000000000',
  'a.#.b': '0001111000001',
  'a.*.b': '0000101000001',
  '#.a': '0100000010100',
  'a.#': '0101111100011',
  'a.*': '0001000100000',
  '*.*': '0001000111100',
  '#.#': '1111111111111',
  'a.#.#.b': '0001111000001',
  '*.#': '0111111111111',
  '#.*': '0111111111111',
  a: '0100000000000',
  'a.b': '0001000000000',
};

describe('matchesPattern', () => {
  for (const [pattern, row] of Object.entries(BROKER_MATCHES)) {
    it(`matches like RabbitMQ for ${JSON.stringify(pattern)}`, () => {
      const ours = KEYS.map((key) => (matchesPattern(pattern, key) ? '1' : '0')).join('');
      expect(ours).toBe(row);
    });
  }

  it('matches deploybus keys', () => {
    expect(matchesPattern('deploy.#', 'deploy.requested.shop.production')).toBe(true);
    expect(matchesPattern('deploy.*.shop.production', 'deploy.queued.shop.production')).toBe(true);
    expect(matchesPattern('deploy.*.shop.production', 'deploy.queued.shop.staging')).toBe(false);
    expect(matchesPattern('task.#.web1', 'task.log.shop.production.web1')).toBe(true);
  });

  it('stays fast with many # words', () => {
    const pattern = Array.from({ length: 40 }, () => '#').join('.') + '.z';
    const key = Array.from({ length: 60 }, () => 'a').join('.');
    const started = performance.now();
    expect(matchesPattern(pattern, key)).toBe(false);
    expect(performance.now() - started).toBeLessThan(100);
  });
});

describe('isValidPattern', () => {
  it.each(['#', '*', 'deploy.#', 'a.*.b', 'agent.command.web1_example_com', 'a-b_c'])('accepts %j', (pattern) => {
    expect(isValidPattern(pattern)).toBe(true);
  });
  it.each(['', 'a..b', '.a', 'a.', 'a.b#', 'a.**', 'a b', 'a/b', 'é', 'x'.repeat(256)])('refuses %j', (pattern) => {
    expect(isValidPattern(pattern)).toBe(false);
  });
});

describe('routingKeyOf', () => {
  it.each(messageSpecs.map((spec) => [spec.type, spec] as const))('%s follows its routing template', (_type, spec) => {
    const message = createMessage(spec.type as MessageType, spec.example as PayloadInputOf<MessageType>, { source: { service: 'test', host: 'localhost' } });
    const payload = message.payload as Record<string, unknown>;
    const expected = spec.routingTemplate.replace(/\{(\w+)\}/g, (_all, name: string) => routingSegment(String(payload[name])));
    const key = routingKeyOf(message);
    expect(key).toBe(expected);
    expect(isValidPattern(key)).toBe(true);
    expect(key.split('.')).toHaveLength(spec.routingTemplate.split('.').length);
  });

  it('keeps a dotted host one word', () => {
    const message = createMessage(
      'agent.command',
      { action: 'state', commandId: 'c-12345678', host: 'web1.example.com' },
      { source: { service: 'conductor', host: 'ops1' } },
    );
    expect(routingKeyOf(message)).toBe('agent.command.web1_example_com');
    expect(matchesPattern('agent.command.*', routingKeyOf(message))).toBe(true);
  });
});

describe('queue names', () => {
  it('follows the documented layout', () => {
    expect(workQueueName('conductor')).toBe('deploybus.conductor');
    expect(commandQueueName('web1.example.com')).toBe('deploybus.agent.web1.example.com');
    expect(commandRoutingKey('web1.example.com')).toBe('agent.command.web1_example_com');
    expect(privateQueueName('web', 'f00d')).toBe('deploybus.sub.web.f00d');
    expect(replyRoutingKey('web-4f7c')).toBe('reply.web-4f7c');
    expect(replyQueueName('web-4f7c')).toBe('deploybus.reply.web-4f7c');
    expect(stompTopicDestination('a/b.c')).toBe('/topic/a%2Fb.c');
  });

  it.each(['agent', 'sub.x', 'reply', 'dead-letter', '../x', ''])('refuses the work queue name %j', (name) => {
    expect(() => workQueueName(name)).toThrow(ProtocolError);
  });
});
