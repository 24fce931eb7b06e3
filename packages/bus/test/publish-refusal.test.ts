// How the client finds the one publish a broker refused when the broker only closes the channel: a
// wire that behaves like RabbitMQ (a refused publish fails everything in flight with it and drops the
// connection) under the real BusClient. The real broker's side is publish-refusal.broker.test.ts.
import { describe, expect, it } from 'vitest';
import { BusClient } from '../src/bus-client.js';
import { PublishRejectedError, WireClosedError, WireRefusedError } from '../src/errors.js';
import type { Wire, WirePublishOptions } from '../src/wire.js';
import { CaptureLogger } from './support/capture-logger.js';

interface Sent {
  readonly routingKey: string;
  readonly confirm: boolean;
}

/** Every connection of one fake broker; publishes to a routing key starting "denied." are refused. */
class RefusingBroker {
  readonly sent: Sent[] = [];
  readonly delivered: string[] = [];
  connections = 0;
  /** Cut the next connection right after this many publishes, without a refusal (a network fault). */
  dropAfter: number | undefined;
  /** Called as each connection opens, before the client uses it. */
  onConnect: ((count: number) => void) | undefined;

  wire(): Wire {
    let lost: ((error: Error) => void) | undefined;
    let open = false;
    const inFlight = new Set<{ reject: (error: Error) => void }>();
    const lose = (error: WireClosedError): void => {
      if (!open) return;
      open = false;
      for (const waiter of inFlight) waiter.reject(error);
      inFlight.clear();
      lost?.(error);
    };
    return {
      connect: () => {
        this.connections += 1;
        open = true;
        this.onConnect?.(this.connections);
        return Promise.resolve();
      },
      declareQueue: () => Promise.resolve(),
      deleteQueue: () => Promise.resolve(),
      consume: () => Promise.resolve({ cancel: () => Promise.resolve() }),
      publish: (_body: Buffer, options: WirePublishOptions): Promise<void> => {
        if (!open) return Promise.reject(new WireClosedError());
        this.sent.push({ routingKey: options.routingKey, confirm: options.confirm });
        return new Promise<void>((resolve, reject) => {
          const waiter = { reject };
          if (options.confirm) inFlight.add(waiter);
          // The broker answers after a moment: a confirm, or a channel error for a refused key.
          setTimeout(() => {
            if (!open) return;
            if (options.routingKey.startsWith('denied.')) {
              if (!options.confirm) resolve(); // sent without a confirm: the sender never learns
              lose(new WireRefusedError(`403 ACCESS_REFUSED - write access to topic '${options.routingKey}' refused`, 'the broker closed a publishing channel'));
              return;
            }
            this.delivered.push(options.routingKey);
            if (this.dropAfter !== undefined && (this.dropAfter -= 1) <= 0) {
              this.dropAfter = undefined;
              lose(new WireClosedError('connection reset'));
              return;
            }
            inFlight.delete(waiter);
            resolve();
          }, 2);
          if (!options.confirm) resolve();
        });
      },
      onLost: (listener) => void (lost = listener),
      close: () => {
        open = false;
        return Promise.resolve();
      },
    };
  }
}

async function clientOf(broker: RefusingBroker): Promise<BusClient> {
  const client = new BusClient({
    transport: 'memory',
    wireFactory: () => broker.wire(),
    source: { service: 'refusal-unit', host: 'h1' },
    logger: new CaptureLogger(),
    publishTimeoutMs: 60_000,
    reconnect: { initialMs: 1, maxMs: 5 },
    endpoint: 'fake',
  });
  await client.start(5_000);
  return client;
}

const publishTo = (client: BusClient, routingKey: string, confirm = true): Promise<void> => client.publish(client.message('roster.query', {}), { routingKey, confirm });

describe('a publish the broker refuses among others in flight', () => {
  it('fails alone with the broker\'s reason; the others arrive once each, in order', async () => {
    const broker = new RefusingBroker();
    const client = await clientOf(broker);
    try {
      const keys = ['ok.1', 'ok.2', 'denied.x', 'ok.3', 'ok.4'];
      const outcomes = await Promise.allSettled(keys.map((key) => publishTo(client, key)));
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      const refused = outcomes[2]?.status === 'rejected' ? (outcomes[2].reason as Error) : undefined;
      expect(refused).toBeInstanceOf(PublishRejectedError);
      expect(refused?.message).toBe("the broker refused roster.query to denied.x: 403 ACCESS_REFUSED - write access to topic 'denied.x' refused");
      expect(broker.delivered).toEqual(['ok.1', 'ok.2', 'ok.3', 'ok.4']);
      // One reconnect after the refusal among five, one after the refused one was sent alone.
      expect(broker.connections).toBe(3);

      // Back to sending side by side: all three leave before the first is confirmed.
      const before = broker.sent.length;
      const later = ['ok.5', 'ok.6', 'ok.7'].map((key) => publishTo(client, key));
      expect(broker.sent.length - before).toBe(3);
      await Promise.all(later);
    } finally {
      await client.close();
    }
  });

  it('a publish made while they are being found waits behind them, so order holds', async () => {
    const broker = new RefusingBroker();
    const client = await clientOf(broker);
    try {
      // Published as the client reconnects after the refusal, before the two in flight are sorted out.
      const later: Promise<void>[] = [];
      broker.onConnect = (count) => {
        if (count === 2) later.push(publishTo(client, 'ok.2'), publishTo(client, 'ok.3'));
      };
      const results = await Promise.allSettled([publishTo(client, 'denied.x'), publishTo(client, 'ok.1')]);
      await Promise.all(later);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
      expect(broker.delivered).toEqual(['ok.1', 'ok.2', 'ok.3']);
      // denied.x and ok.1 again, each alone; then ok.2 and ok.3, side by side.
      expect(broker.sent.map((s) => s.routingKey)).toEqual(['denied.x', 'ok.1', 'denied.x', 'ok.1', 'ok.2', 'ok.3']);
    } finally {
      await client.close();
    }
  });

  it('a connection lost for another reason while one is sent alone leaves it under suspicion, and it is tried again', async () => {
    const broker = new RefusingBroker();
    const client = await clientOf(broker);
    try {
      const first = [publishTo(client, 'denied.x'), publishTo(client, 'ok.1'), publishTo(client, 'ok.2')];
      broker.dropAfter = 1; // the network drops the connection right after ok.1 is confirmed
      const outcomes = await Promise.allSettled(first);
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
      expect((outcomes[0] as PromiseRejectedResult).reason).toBeInstanceOf(PublishRejectedError);
      // ok.1 may reach the broker twice (its confirm was lost with the connection): at least once, as the bus promises.
      expect(broker.delivered.filter((k) => k === 'ok.2')).toEqual(['ok.2']);
      expect(broker.delivered).toContain('ok.1');
    } finally {
      await client.close();
    }
  });
});
