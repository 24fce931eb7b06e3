// One conformance suite for every transport: the same behaviours, asserted the same way, against
// the in-process broker and the real RabbitMQ over STOMP and AMQP.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMessage, type Message } from '@deploybus/protocol';
import { BusUnavailableError, connectBus, type Bus, type ConnectOptions } from '../../src/index.js';
import { CaptureLogger } from './capture-logger.js';
import type { TransportHarness } from './harness.js';
import { randomName, sleep, waitFor } from './wait-for.js';

export interface ConformanceOptions {
  readonly harness: () => TransportHarness;
  /** Checked before anything runs; throws when the broker is missing. */
  readonly requireBroker?: () => Promise<void>;
}

export function conformanceSuite(options: ConformanceOptions): void {
  let harness: TransportHarness;
  const buses: Bus[] = [];
  const queues: string[] = [];

  async function bus(service = 'conformance', extra: Partial<ConnectOptions> = {}): Promise<Bus> {
    const b = await connectBus(harness.url, {
      service,
      host: extra.host ?? 'test-host',
      logger: extra.logger ?? new CaptureLogger(),
      reconnect: { initialMs: 50, maxMs: 1_000 },
      heartbeatMs: 2_000,
      ...extra,
    });
    buses.push(b);
    return b;
  }

  function sharedQueue(prefix: string): string {
    const name = `deploybus.test-${randomName(prefix)}`;
    queues.push(name);
    return name;
  }

  function heartbeatFrom(b: Bus, n: number, service = 'svc'): Message {
    return b.message('heartbeat', { service, host: 'h1', instance: `i${n}`, version: '1', uptimeMs: n, intervalMs: 1000 });
  }

  /** A unique routing-key word, so tests on one broker never see each other's messages. */
  function topicWord(): string {
    return randomName('t').replace(/[^a-z0-9]/g, '');
  }

  beforeAll(async () => {
    await options.requireBroker?.();
    harness = options.harness();
  });

  afterEach(async () => {
    await Promise.allSettled(buses.splice(0).map((b) => b.close()));
    await Promise.allSettled(queues.splice(0).map((q) => harness.deleteQueue(q)));
  });

  afterAll(async () => {
    await harness.close();
  });

  describe('publish and subscribe', () => {
    it('delivers a published message to a subscriber whose pattern matches, and not to one whose does not', async () => {
      const b = await bus();
      const word = topicWord();
      const got: Message[] = [];
      const other: Message[] = [];
      await b.subscribe({ patterns: [`heartbeat.${word}.*`] }, (m) => void got.push(m));
      await b.subscribe({ patterns: [`heartbeat.other${word}.*`] }, (m) => void other.push(m));
      const m = heartbeatFrom(b, 1, word);
      await b.publish(m);
      await waitFor('the matching subscriber to receive it', () => got.length === 1);
      expect(got[0]).toEqual(m);
      await sleep(100);
      expect(other).toHaveLength(0);
    });

    it('matches # across several words and * exactly one', async () => {
      const b = await bus();
      const word = topicWord();
      const hash: string[] = [];
      const star: string[] = [];
      await b.subscribe({ patterns: [`deploy.#.${word}`] }, (m) => void hash.push(m.type));
      await b.subscribe({ patterns: [`deploy.*.${word}`] }, (m) => void star.push(m.type));
      const payload = { deploymentId: 'd-12345678', app: 'shop', env: word, cancelledBy: 'ada', reason: 'test' };
      await b.publish(b.message('deploy.cancelled', payload)); // deploy.cancelled.shop.<word>: # matches, * does not
      await waitFor('the # subscriber', () => hash.length === 1);
      await sleep(100);
      expect(star).toHaveLength(0);
    });

    it('gives every private subscriber its own copy', async () => {
      const [a, b, c] = [await bus('sub-a'), await bus('sub-b'), await bus('pub')];
      const word = topicWord();
      const gotA: string[] = [];
      const gotB: string[] = [];
      await a.subscribe({ patterns: [`heartbeat.${word}.#`] }, (m) => void gotA.push(m.id));
      await b.subscribe({ patterns: [`heartbeat.${word}.#`] }, (m) => void gotB.push(m.id));
      const m = heartbeatFrom(c, 1, word);
      await c.publish(m);
      await waitFor('both subscribers', () => gotA.length === 1 && gotB.length === 1);
      expect(gotA).toEqual([m.id]);
      expect(gotB).toEqual([m.id]);
    });

    it('shares a named queue between competing consumers: each message handled once, by one of them', async () => {
      const queue = sharedQueue('work');
      const word = topicWord();
      const [w1, w2, pub] = [await bus('worker'), await bus('worker'), await bus('pub')];
      const byWorker = new Map<string, string>();
      const counts = { w1: 0, w2: 0 };
      await w1.subscribe({ queue, patterns: [`heartbeat.${word}.*`], prefetch: 1 }, async (m) => {
        counts.w1 += 1;
        byWorker.set(m.id, 'w1');
        await sleep(5);
      });
      await w2.subscribe({ queue, patterns: [`heartbeat.${word}.*`], prefetch: 1 }, async (m) => {
        counts.w2 += 1;
        byWorker.set(m.id, 'w2');
        await sleep(5);
      });
      const sent = Array.from({ length: 40 }, (_, i) => heartbeatFrom(pub, i, word));
      await Promise.all(sent.map((m) => pub.publish(m)));
      await waitFor('all 40 handled', () => byWorker.size === 40);
      await sleep(200);
      expect(counts.w1 + counts.w2).toBe(40);
      expect(counts.w1).toBeGreaterThan(0);
      expect(counts.w2).toBeGreaterThan(0);
    });

    it('handles one message at a time by default; with concurrency, later ones start while an earlier one runs, each acknowledged on its own', async () => {
      const word = topicWord();
      const pub = await bus('pub');
      const handle = async (concurrency: number | undefined): Promise<{ started: number[]; finished: number[] }> => {
        const queue = sharedQueue('conc');
        const consumer = await bus('worker');
        const started: number[] = [];
        const finished: number[] = [];
        let releaseFirst: () => void = () => undefined;
        const firstHeld = new Promise<void>((resolve) => {
          releaseFirst = resolve;
        });
        await consumer.subscribe({ queue, patterns: [`heartbeat.${word}-${concurrency ?? 1}.*`], prefetch: 4, ...(concurrency === undefined ? {} : { concurrency }) }, async (m) => {
          const n = (m.payload as { uptimeMs: number }).uptimeMs;
          started.push(n);
          if (n === 0) await firstHeld;
          finished.push(n);
        });
        for (const n of [0, 1, 2]) await pub.publish(heartbeatFrom(pub, n, `${word}-${concurrency ?? 1}`));
        if (concurrency === undefined) {
          await waitFor('the first message to be in hand', () => started.length === 1);
          await sleep(200);
          expect(started).toEqual([0]); // the others wait for it
        } else {
          await waitFor('the later messages to be handled while the first is held', () => finished.length === 2);
        }
        releaseFirst();
        await waitFor('all three handled', () => finished.length === 3);
        await consumer.close();
        // Every message was acknowledged, out of order too: nothing comes back to the next consumer.
        const next = await bus('worker');
        const again: number[] = [];
        await next.subscribe({ queue, patterns: [`heartbeat.${word}-${concurrency ?? 1}.*`] }, (m) => {
          again.push((m.payload as { uptimeMs: number }).uptimeMs);
        });
        await sleep(300);
        expect(again).toEqual([]);
        return { started, finished };
      };
      expect(await handle(undefined)).toEqual({ started: [0, 1, 2], finished: [0, 1, 2] });
      expect(await handle(2)).toEqual({ started: [0, 1, 2], finished: [1, 2, 0] });
      await expect(pub.subscribe({ patterns: [`heartbeat.${word}.x`], prefetch: 4, concurrency: 5 }, () => undefined)).rejects.toThrow(/concurrency 5 is more than prefetch 4/);
      await expect(pub.subscribe({ patterns: [`heartbeat.${word}.x`], concurrency: 0 }, () => undefined)).rejects.toThrow(/concurrency must be a whole number/);
    });

    it('keeps commands on a durable queue for a consumer that was away', async () => {
      const queue = sharedQueue('agent');
      const word = topicWord();
      const conductor = await bus('conductor');
      await conductor.declareQueue(queue, [`agent.command.${word}`]);
      const command = conductor.message('agent.command', { action: 'state', commandId: 'c-00000001', host: word });
      await conductor.publish(command);
      const agent = await bus('deploy-agent', { host: 'agent-host' });
      const got: string[] = [];
      await agent.subscribe({ queue, patterns: [`agent.command.${word}`] }, (m) => void got.push(m.id));
      await waitFor('the agent to get the command sent while it was away', () => got.length === 1);
      expect(got).toEqual([command.id]);
    });
  });

  describe('expiry', () => {
    it('drops a message that expired while queued, and delivers one that did not', async () => {
      const queue = sharedQueue('expiry');
      const word = topicWord();
      const pub = await bus('pub');
      await pub.declareQueue(queue, [`agent.command.${word}`]);
      const stale = pub.message('agent.command', { action: 'state', commandId: 'c-stale001', host: word }, { ttlMs: 150 });
      const fresh = pub.message('agent.command', { action: 'state', commandId: 'c-fresh001', host: word }, { ttlMs: 60_000 });
      await pub.publish(stale);
      await pub.publish(fresh);
      await sleep(400);
      const agent = await bus('agent');
      const got: string[] = [];
      await agent.subscribe({ queue, patterns: [`agent.command.${word}`] }, (m) => void got.push(m.id));
      await waitFor('the fresh command', () => got.includes(fresh.id));
      await sleep(200);
      expect(got).toEqual([fresh.id]);
    });

    it('does not run the handler for a message whose expiresAt has passed when it arrives', async () => {
      const logger = new CaptureLogger();
      const b = await bus('agent', { logger });
      const word = topicWord();
      const handled: string[] = [];
      await b.subscribe({ patterns: [`agent.command.${word}`] }, (m) => void handled.push(m.id));
      // Built by a foreign client whose clock put expiresAt in the past; the broker sees no TTL.
      const expired = createMessage('agent.command', { action: 'state', commandId: 'c-expired1', host: word }, { source: { service: 'x', host: 'h' }, ttlMs: 1, now: new Date(Date.now() - 60_000) });
      await harness.publishRaw(`agent.command.${word}`, Buffer.from(JSON.stringify(expired)));
      await waitFor('the expiry to be logged', () => logger.lines.some((l) => l.msg === 'expired message dropped' && l.fields['id'] === expired.id));
      expect(handled).toEqual([]);
    });
  });

  describe('acknowledgement, redelivery and dead letters', () => {
    it('redelivers a message whose handler failed, and acknowledges it once the handler succeeds', async () => {
      const b = await bus();
      const word = topicWord();
      const attempts: number[] = [];
      await b.subscribe({ queue: sharedQueue('retry'), patterns: [`heartbeat.${word}.*`], retryDelayMs: 10 }, (_m, ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt < 3) throw new Error(`flaky ${ctx.attempt}`);
      });
      await b.publish(heartbeatFrom(b, 1, word));
      await waitFor('three attempts', () => attempts.length === 3);
      await sleep(300);
      expect(attempts).toEqual([1, 2, 3]);
      expect((await harness.drainDeadLetters()).filter((d) => d.routingKey.includes(word))).toEqual([]);
    });

    it('dead-letters a message that keeps failing, after a bounded number of tries, and keeps consuming', async () => {
      const logger = new CaptureLogger();
      const b = await bus('poison', { logger });
      const word = topicWord();
      const queue = sharedQueue('poison');
      const handled: number[] = [];
      let poisonAttempts = 0;
      await b.subscribe({ queue, patterns: [`heartbeat.${word}.*`], maxAttempts: 3, retryDelayMs: 10 }, (m) => {
        if (m.type === 'heartbeat' && m.payload.uptimeMs === 666) {
          poisonAttempts += 1;
          throw new Error('cannot handle 666');
        }
        if (m.type === 'heartbeat') handled.push(m.payload.uptimeMs);
      });
      const poison = heartbeatFrom(b, 666, word);
      await b.publish(poison);
      await b.publish(heartbeatFrom(b, 7, word));
      await waitFor('the good message, and the poison one tried three times', () => handled.includes(7) && poisonAttempts === 3);
      let letters: Awaited<ReturnType<TransportHarness['drainDeadLetters']>> = [];
      await waitFor('the poison message in the dead-letter queue', async () => {
        letters = letters.concat(await harness.drainDeadLetters());
        return letters.some((d) => d.body.includes(poison.id));
      });
      const letter = letters.find((d) => d.body.includes(poison.id));
      expect(letter?.reason).toMatch(/handler failed 3 time\(s\); last error: cannot handle 666/);
      expect(letter?.queue).toBe(queue);
      expect(letter?.routingKey).toBe(`heartbeat.${word}.h1`);
      expect(logger.lines.some((l) => l.level === 'error' && l.msg.includes('dead-lettered'))).toBe(true);
      await b.publish(heartbeatFrom(b, 8, word));
      await waitFor('the consumer to keep going', () => handled.includes(8));
      expect(poisonAttempts).toBe(3);
    });

    it.each([
      ['a body that is not JSON', '{"v":1,', /not valid JSON/],
      ['an unknown message type', JSON.stringify({ v: 1, id: 'zzzzzzzz-unknown', type: 'deploy.teleport', time: '2026-11-22T10:00:00Z', source: { service: 'x', host: 'h' }, payload: {} }), /unknown message type "deploy.teleport"/],
      ['a payload with a hostile host name', JSON.stringify({ v: 1, id: 'zzzzzzzz-hostile', type: 'heartbeat', time: '2026-11-22T10:00:00Z', source: { service: 'x', host: 'h' }, payload: { service: 's', host: '$(touch /tmp/x)', instance: 'i', version: '1', uptimeMs: 1, intervalMs: 1 } }), /payload\.host/],
    ])('logs and dead-letters %s without crashing or calling the handler', async (_what, body, reason) => {
      const logger = new CaptureLogger();
      const b = await bus('reader', { logger });
      const word = topicWord();
      const handled: string[] = [];
      await b.subscribe({ patterns: [`heartbeat.${word}.*`] }, (m) => void handled.push(m.id));
      await harness.drainDeadLetters();
      await harness.publishRaw(`heartbeat.${word}.h1`, Buffer.from(body));
      const good = heartbeatFrom(b, 1, word);
      await b.publish(good);
      await waitFor('the good message after the bad one', () => handled.includes(good.id));
      expect(handled).toEqual([good.id]);
      const warning = logger.lines.find((l) => l.msg === 'unreadable message dead-lettered');
      expect(String(warning?.fields['reason'])).toMatch(reason);
      let letters: Awaited<ReturnType<TransportHarness['drainDeadLetters']>> = [];
      await waitFor('the bad body in the dead-letter queue', async () => {
        letters = letters.concat(await harness.drainDeadLetters());
        return letters.some((d) => d.body === body);
      });
      expect(letters.find((d) => d.body === body)?.reason).toMatch(reason);
    });
  });

  describe('rejected messages', () => {
    it('tell a sender that asked for replies why a work queue could not read its message; watchers stay quiet', async () => {
      const logger = new CaptureLogger();
      const worker = await bus('worker', { logger, host: 'worker-1' });
      const watcher = await bus('watcher');
      const sender = await bus('sender');
      const word = topicWord();
      const handled: string[] = [];
      await worker.subscribe({ queue: sharedQueue('rejecting'), patterns: [`deploy.requested.shop.${word}`] }, (m) => void handled.push(m.id));
      await watcher.subscribe({ patterns: [`deploy.requested.shop.${word}`] }, () => undefined);
      const replyKey = `reply.${word}`;
      const answers: Message[] = [];
      await sender.subscribe({ patterns: [replyKey] }, (m) => void answers.push(m));
      const id = `req-${word}`;
      const body = { v: 1, id, type: 'deploy.requested', time: new Date().toISOString(), source: { service: 'chatbot', host: 'bot1' }, replyTo: replyKey, payload: { app: 'shop', env: word, ref: '--upload-pack=touch /tmp/x', requestedBy: 'mallory' } };
      await harness.publishRaw(`deploy.requested.shop.${word}`, Buffer.from(JSON.stringify(body)));
      await waitFor('the rejection', () => answers.length > 0);
      await sleep(300);
      expect(answers).toHaveLength(1); // from the work queue's consumer only, not from the watcher
      const answer = answers[0];
      expect(answer?.type).toBe('message.rejected');
      expect(answer?.correlationId).toBe(id);
      expect(answer?.source).toEqual({ service: 'worker', host: 'worker-1' });
      if (answer?.type === 'message.rejected') {
        expect(answer.payload.rejectedType).toBe('deploy.requested');
        expect(answer.payload.reason).toMatch(/payload\.ref/);
      }
      expect(handled).toEqual([]);
      await harness.drainDeadLetters();
    });
  });

  describe('observer', () => {
    it('reports what was published and what became of each delivery, for metrics', async () => {
      const published: string[] = [];
      const outcomes: string[] = [];
      const b = await bus('observed', {
        observer: {
          published: (type) => void published.push(type),
          delivered: (r) => void outcomes.push(`${r.outcome}:${r.type ?? '?'}:${r.redelivered}`),
        },
      });
      const word = topicWord();
      await b.subscribe({ queue: sharedQueue('observed'), patterns: [`heartbeat.${word}.*`], maxAttempts: 2, retryDelayMs: 10 }, (m) => {
        if (m.type === 'heartbeat' && m.payload.uptimeMs === 2) throw new Error('no');
      });
      await b.publish(heartbeatFrom(b, 1, word));
      await b.publish(heartbeatFrom(b, 2, word));
      await harness.publishRaw(`heartbeat.${word}.h1`, Buffer.from('garbage'));
      await waitFor('four settled deliveries', () => outcomes.length === 4);
      expect(published).toEqual(['heartbeat', 'heartbeat']);
      // The unreadable one may overtake the retried one; the order of the rest is fixed.
      expect(outcomes.filter((o) => !o.startsWith('unreadable'))).toEqual(['handled:heartbeat:false', 'retried:heartbeat:false', 'dead-lettered:heartbeat:true']);
      expect(outcomes.filter((o) => o.startsWith('unreadable'))).toEqual(['unreadable:?:false']);
      await harness.drainDeadLetters();
    });
  });

  describe('request with fan-out replies', () => {
    it('gathers a reply from every responder and reports the silent one by name', async () => {
      const word = topicWord();
      const requester = await bus('conductor', { host: 'conductor-1' });
      const hosts = ['web1', 'web2', 'web3'];
      for (const host of hosts) {
        const responder = await bus('deploy-agent', { host });
        if (host === 'web3') continue; // connected, subscribed to nothing: it never answers
        await responder.subscribe({ patterns: [`agent.command.${word}`] }, async (request) => {
          if (request.type !== 'agent.command') return;
          const reply = responder.message('agent.reply', { commandId: request.payload.commandId, host, status: 'succeeded' }, { correlationId: request.id });
          await responder.reply(request, reply);
        });
      }
      const request = requester.message('agent.command', { action: 'state', commandId: 'c-fanout01', host: word }, { expectReplies: true });
      const result = await requester.request(request, { expect: hosts, timeoutMs: 1_500 });
      expect(result.complete).toBe(false);
      expect(result.missing).toEqual(['web3']);
      expect([...result.replies.keys()].sort()).toEqual(['web1', 'web2']);
      for (const reply of result.replies.values()) {
        expect(reply.correlationId).toBe(request.id);
        expect(reply.type).toBe('agent.reply');
      }
    });

    it('completes as soon as every expected responder answered', async () => {
      const word = topicWord();
      const requester = await bus('conductor', { host: 'conductor-1' });
      const hosts = ['a1', 'a2', 'a3', 'a4', 'a5'];
      for (const host of hosts) {
        const responder = await bus('deploy-agent', { host });
        await responder.subscribe({ patterns: [`agent.command.${word}`] }, (request) =>
          responder.reply(request, responder.message('agent.reply', { commandId: 'c-fanout02', host, status: 'accepted' }, { correlationId: request.id })),
        );
      }
      const request = requester.message('agent.command', { action: 'state', commandId: 'c-fanout02', host: word }, { expectReplies: true });
      const started = Date.now();
      const result = await requester.request(request, { expect: hosts, timeoutMs: 30_000 });
      expect(result.complete).toBe(true);
      expect(result.missing).toEqual([]);
      expect(result.replies.size).toBe(5);
      // Not a speed assertion: proves it returned on completion rather than at the 30 s timeout.
      expect(Date.now() - started).toBeLessThan(30_000);
    });
  });

  describe('broker outage', () => {
    it('fails a publish loudly when the broker stays away past the wait limit', async () => {
      const b = await bus('impatient', { publishTimeoutMs: 700 });
      await harness.restartBroker(async () => {
        await waitFor('the client to notice the outage', () => b.state === 'reconnecting');
        const word = topicWord();
        await expect(b.publish(heartbeatFrom(b, 1, word))).rejects.toBeInstanceOf(BusUnavailableError);
      });
      await waitFor('the client to reconnect', () => b.state === 'connected', 60_000);
    });

    it('reconnects by itself, restores subscriptions first, then sends what it held, losing nothing confirmed', async () => {
      const word = topicWord();
      const queue = sharedQueue('outage');
      const consumer = await bus('consumer', { publishTimeoutMs: 120_000 });
      const producer = await bus('producer', { publishTimeoutMs: 120_000 });
      const received = new Set<string>();
      const privateReceived = new Set<string>();
      await consumer.subscribe({ queue, patterns: [`heartbeat.${word}.*`] }, (m) => void received.add(m.id));
      await consumer.subscribe({ patterns: [`heartbeat.${word}.*`] }, (m) => void privateReceived.add(m.id));
      const states: string[] = [];
      consumer.onStateChange((s) => states.push(s));

      const confirmed: string[] = [];
      const before = Array.from({ length: 50 }, (_, i) => heartbeatFrom(producer, i, word));
      await Promise.all(before.map(async (m) => (await producer.publish(m), confirmed.push(m.id))));

      const heldBack: Promise<void>[] = [];
      const held = Array.from({ length: 20 }, (_, i) => heartbeatFrom(producer, 100 + i, word));
      await harness.restartBroker(async () => {
        await waitFor('both clients to notice the outage', () => producer.state === 'reconnecting' && consumer.state === 'reconnecting');
        // Published while the broker is down: held back, sent after reconnecting.
        for (const m of held) heldBack.push(producer.publish(m).then(() => void confirmed.push(m.id)));
      });
      await Promise.all(heldBack);
      await waitFor('the consumer to reconnect', () => consumer.state === 'connected', 60_000);
      const after = heartbeatFrom(producer, 999, word);
      await producer.publish(after);
      confirmed.push(after.id);

      await waitFor('every confirmed message on the shared queue', () => confirmed.every((id) => received.has(id)), 30_000);
      await waitFor('the private subscription back too', () => privateReceived.has(after.id), 30_000);
      expect(held.every((m) => privateReceived.has(m.id))).toBe(true);
      expect(states).toContain('reconnecting');
      expect(states.at(-1)).toBe('connected');
    });
  });
}
