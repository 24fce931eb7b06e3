// The bus's pure parts: backoff, delivery decisions, fan-out collection, bus URLs.
import { describe, expect, it } from 'vitest';
import { createMessage } from '@deploybus/protocol';
import { backoffDelay, InvalidBusUrlError, parseBusUrl } from '../src/index.js';
import { AttemptCounter, decideDelivery, decideFailure } from '../src/delivery.js';
import { FanOutCollector } from '../src/fan-out.js';

const source = { service: 'test', host: 'h1' };

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, with jitter in the upper half', () => {
    const options = { initialMs: 100, maxMs: 1_000 };
    expect(backoffDelay(1, options, 0)).toBe(50);
    expect(backoffDelay(1, options, 0.999)).toBe(100);
    expect(backoffDelay(3, options, 0)).toBe(200);
    expect(backoffDelay(20, options, 0.5)).toBe(750);
    expect(backoffDelay(20, options, 0.999)).toBeLessThanOrEqual(1_000);
  });
});

describe('decideDelivery', () => {
  it('hands a valid message to the handler', () => {
    const m = createMessage('heartbeat', { service: 's', host: 'h1', instance: 'i', version: '1', uptimeMs: 1, intervalMs: 1 }, { source });
    expect(decideDelivery(Buffer.from(JSON.stringify(m)), new Date())).toEqual({ kind: 'handle', message: m });
  });
  it('drops an expired message', () => {
    const m = createMessage('heartbeat', { service: 's', host: 'h1', instance: 'i', version: '1', uptimeMs: 1, intervalMs: 1 }, { source, ttlMs: 10, now: new Date(0) });
    expect(decideDelivery(Buffer.from(JSON.stringify(m)), new Date()).kind).toBe('expired');
  });
  it('dead-letters garbage with the parser\'s reason', () => {
    const d = decideDelivery(Buffer.from('\u0000\u0001not json'), new Date());
    expect(d).toMatchObject({ kind: 'dead-letter' });
    expect(d.kind === 'dead-letter' && d.reason).toMatch(/not valid JSON/);
  });
});

describe('decideFailure', () => {
  it('retries with doubling delays, then dead-letters naming the attempts and the error', () => {
    expect(decideFailure(1, 3, 100, new Error('x'))).toEqual({ kind: 'retry', delayMs: 100 });
    expect(decideFailure(2, 3, 100, new Error('x'))).toEqual({ kind: 'retry', delayMs: 200 });
    expect(decideFailure(3, 3, 100, new Error('boom'))).toEqual({ kind: 'dead-letter', reason: 'handler failed 3 time(s); last error: boom' });
  });
});

describe('AttemptCounter', () => {
  it('counts per id, forgets, and stays bounded', () => {
    const c = new AttemptCounter(2);
    expect(c.next('a')).toBe(1);
    expect(c.next('a')).toBe(2);
    c.forget('a');
    expect(c.next('a')).toBe(1);
    c.next('b');
    c.next('c'); // evicts the oldest, 'a'
    expect(c.next('a')).toBe(1);
  });
});

describe('FanOutCollector', () => {
  const reply = (host: string) => createMessage('agent.reply', { commandId: 'c-12345678', host, status: 'succeeded' }, { source: { service: 'deploy-agent', host }, correlationId: 'req' });

  it('completes when every expected responder answered, ignoring strangers and repeats', async () => {
    const seen: string[] = [];
    const c = new FanOutCollector(['a', 'b'], (r) => r.source.host, (name) => seen.push(name));
    const done = c.wait(60_000);
    c.add(reply('a'));
    c.add(reply('a'));
    c.add(reply('stranger'));
    c.add(reply('b'));
    const result = await done;
    expect(result.complete).toBe(true);
    expect(result.missing).toEqual([]);
    expect(seen).toEqual(['a', 'b']);
  });

  it('names the responders that stayed silent when time runs out', async () => {
    const c = new FanOutCollector(['web1', 'web2', 'web3'], (r) => r.source.host, undefined);
    c.add(reply('web2'));
    const result = await c.wait(20);
    expect(result.complete).toBe(false);
    expect(result.missing).toEqual(['web1', 'web3']);
    expect([...result.replies.keys()]).toEqual(['web2']);
  });
});

describe('parseBusUrl', () => {
  it('reads each scheme, vhost and credentials, and redacts the password', () => {
    expect(parseBusUrl('stomp://u:s3cret@mq.example.com:61613/deploybus')).toMatchObject({ transport: 'stomp', tls: false, host: 'mq.example.com', port: 61613, username: 'u', password: 's3cret', vhost: 'deploybus', redacted: 'stomp://u:***@mq.example.com:61613/deploybus' });
    expect(parseBusUrl('stomp+ssl://mq')).toMatchObject({ transport: 'stomp', tls: true, port: 61614, vhost: '/' });
    expect(parseBusUrl('amqps://u:p@mq/%2F')).toMatchObject({ transport: 'amqp', tls: true, port: 5671, vhost: '/' });
    expect(parseBusUrl('memory://')).toMatchObject({ transport: 'memory', name: 'default' });
  });
  it('refuses what it cannot use, naming the variable and without echoing the password', () => {
    expect(() => parseBusUrl('redis://u:hunter2@x')).toThrow(InvalidBusUrlError);
    expect(() => parseBusUrl('redis://u:hunter2@x')).toThrow(/DEPLOYBUS_BUS_URL: unknown scheme "redis:"/);
    expect(() => parseBusUrl('redis://u:hunter2@x')).not.toThrow(/hunter2/);
    expect(() => parseBusUrl('not a url')).toThrow(/is not a URL/);
  });
});
