// deploybus measured through its public face only: connectBus, publish, subscribe, request/reply.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connectBus, type Bus, type BusLogger } from '@deploybus/bus';
import type { BenchTarget, FanOutGroup, ThroughputRun, Transport } from './bench-target.js';
import { messageAt } from './bench-messages.js';
import { uniqueWord } from './bench-names.js';
import type { Leftovers } from './leftovers.js';
import { closeMany, openMany } from './open-many.js';
import { DeliveryCounter, publishPaced } from './throughput-pacing.js';

/** Only problems reach the terminal; info lines would cost time inside the measurements. */
const benchLogger: BusLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (obj, msg) => console.error(`deploybus warning: ${msg} ${JSON.stringify(obj)}`),
  error: (obj, msg) => console.error(`deploybus error: ${msg} ${JSON.stringify(obj)}`),
};

interface OpenBus {
  readonly bus: Bus;
  close(): Promise<void>;
}

export class DeploybusTarget implements BenchTarget {
  readonly implementation = 'deploybus';

  constructor(
    readonly transport: Transport,
    private readonly url: string,
    private readonly leftovers: Leftovers,
    private readonly connectConcurrency: number,
  ) {}

  async throughput(run: ThroughputRun): Promise<number> {
    const host = uniqueWord('tp');
    const consumer = await this.open('bench-consumer', host);
    try {
      const publisher = await this.open('bench-publisher', host);
      try {
        const counter = new DeliveryCounter(run.messages.length);
        await consumer.bus.subscribe({ patterns: [run.routingKey], prefetch: run.prefetch }, () => counter.hit());
        const started = performance.now();
        await publishPaced(run.messages.length, run.window, (i) => publisher.bus.publish(messageAt(run.messages, i), { confirm: run.confirm }));
        await counter.wait(60_000, `deploybus ${this.transport} consumer`);
        return performance.now() - started;
      } finally {
        await publisher.close();
      }
    } finally {
      await consumer.close();
    }
  }

  async openFanOut(responders: number): Promise<FanOutGroup> {
    const word = uniqueWord('fan');
    const pattern = `agent.command.${word}`;
    const requester = await this.open('bench-conductor', `${word}-req`);
    let agents: OpenBus[];
    try {
      agents = await openMany(
        responders,
        this.connectConcurrency,
        async (i) => {
          const host = `${word}-r${i}`;
          const agent = await this.open('bench-agent', host);
          try {
            // As an agent answers (packages/bus/test/support/conformance.ts): a reply built by its own bus, sent with reply().
            await agent.bus.subscribe({ patterns: [pattern] }, async (request) => {
              if (request.type !== 'agent.command') return;
              const reply = agent.bus.message('agent.reply', { commandId: request.payload.commandId, host, status: 'succeeded' }, { correlationId: request.id });
              await agent.bus.reply(request, reply);
            });
          } catch (error) {
            await agent.close();
            throw error;
          }
          return agent;
        },
        (agent) => agent.close(),
      );
    } catch (error) {
      await requester.close();
      throw error;
    }
    const hosts = agents.map((_, i) => `${word}-r${i}`);
    return {
      round: async (timeoutMs) => {
        const request = requester.bus.message('agent.command', { action: 'state', commandId: `c-${randomBytes(6).toString('hex')}`, host: word }, { expectReplies: true });
        const started = performance.now();
        const result = await requester.bus.request(request, { expect: hosts, timeoutMs });
        const elapsed = performance.now() - started;
        if (!result.complete) throw new Error(`deploybus ${this.transport} fan-out: ${result.missing.length} of ${responders} responders did not reply within ${timeoutMs} ms`);
        return elapsed;
      },
      close: async () => {
        await closeMany(agents, this.connectConcurrency, (agent) => agent.close());
        await requester.close();
      },
    };
  }

  async connectClose(): Promise<number> {
    const started = performance.now();
    const bus = await this.open('bench-connect', uniqueWord('conn'));
    await bus.close();
    return performance.now() - started;
  }

  private async open(service: string, host: string): Promise<OpenBus> {
    const bus = await connectBus(this.url, { service, host, logger: benchLogger, connectTimeoutMs: 15_000, publishTimeoutMs: 15_000 });
    const forget = this.leftovers.connection(() => bus.close());
    return {
      bus,
      close: async () => {
        await bus.close();
        forget();
      },
    };
  }
}
