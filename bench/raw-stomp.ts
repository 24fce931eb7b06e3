// The same work as deploybus-target.ts with @stomp/stompjs over @stomp/tcp-wrapper and nothing on
// top: SEND to /topic/<routing key> (amq.topic) with the headers deploybus's StompWire sends, receipts
// on every SEND when confirming, and a named durable queue with deploybus's private-queue arguments,
// bound to the routing key and consumed with client-individual acks and a prefetch. Where StompWire
// declares the queue on a short-lived connection and consumes it (/amq/queue/) on a connection of its
// own, the raw consumer declares, binds and consumes with one SUBSCRIBE: what a stompjs user writes.
// Cleanup (not timed) deletes the queues through one AMQP connection.
import { performance } from 'node:perf_hooks';
import type { Client, IMessage, StompHeaders } from '@stomp/stompjs';
import amqp from 'amqplib';
import { queueArguments } from '@deploybus/bus';
import { messageAt, rawEnvelope, readRawEnvelope } from './bench-messages.js';
import type { BenchTarget, FanOutGroup, ThroughputRun } from './bench-target.js';
import { benchQueueName, uniqueWord } from './bench-names.js';
import { timeRawFanOutRound } from './raw-fan-out-round.js';
import type { Leftovers } from './leftovers.js';
import { closeMany, openMany } from './open-many.js';
import { connectRawStomp } from './raw-stomp-connection.js';
import { DeliveryCounter, publishPaced } from './throughput-pacing.js';

let receipts = 0;

/** Sends a frame with a receipt header; resolves when the RECEIPT arrives. */
function withReceipt(client: Client, send: (headers: StompHeaders) => void): Promise<void> {
  receipts += 1;
  const receipt = `r${receipts}`;
  return new Promise((resolve) => {
    client.watchForReceipt(receipt, () => resolve());
    send({ receipt });
  });
}

/** SUBSCRIBE headers that bind a durable named queue to amq.topic, with deploybus's private-queue arguments. */
function queueHeaders(queue: string, prefetch: number): StompHeaders {
  const headers: StompHeaders = { 'x-queue-name': queue, durable: 'true', 'auto-delete': 'false', ack: 'client-individual', 'prefetch-count': String(prefetch) };
  for (const [key, value] of Object.entries(queueArguments('private'))) headers[key] = String(value);
  return headers;
}

/** The SEND headers deploybus's StompWire sets (RabbitMQ maps them to AMQP properties). */
function sendHeaders(messageId: string, type: string): StompHeaders {
  return { 'content-type': 'application/json', persistent: 'true', 'amqp-message-id': messageId, type, timestamp: String(Math.floor(Date.now() / 1000)) };
}

interface Responder {
  readonly client: Client;
  readonly queue: string;
}

export class RawStompTarget implements BenchTarget {
  readonly implementation = 'raw';
  readonly transport = 'stomp';

  constructor(
    private readonly url: string,
    private readonly amqpUrl: string,
    private readonly leftovers: Leftovers,
    private readonly connectConcurrency: number,
  ) {}

  async throughput(run: ThroughputRun): Promise<number> {
    const queue = benchQueueName('tp');
    const forgetQueue = this.leftovers.queue(queue);
    const consumer = await this.connect();
    try {
      const publisher = await this.connect();
      try {
        const counter = new DeliveryCounter(run.messages.length);
        await withReceipt(consumer, (receipt) =>
          consumer.subscribe(
            `/topic/${run.routingKey}`,
            (message: IMessage) => {
              JSON.parse(message.body);
              message.ack();
              counter.hit();
            },
            { ...queueHeaders(queue, run.prefetch), ...receipt },
          ),
        );
        const destination = `/topic/${run.routingKey}`;
        const send = (i: number, extra: StompHeaders): void => {
          const message = messageAt(run.messages, i);
          publisher.publish({ destination, body: JSON.stringify(message), headers: { ...sendHeaders(message.id, message.type), ...extra } });
        };
        const started = performance.now();
        await publishPaced(run.messages.length, run.window, (i) => {
          if (run.confirm) return withReceipt(publisher, (receipt) => send(i, receipt));
          send(i, {});
          return Promise.resolve();
        });
        await counter.wait(60_000, 'raw stompjs consumer');
        return performance.now() - started;
      } finally {
        await this.disconnect(publisher);
      }
    } finally {
      await this.disconnect(consumer);
      await this.deleteQueues([queue]);
      forgetQueue();
    }
  }

  async openFanOut(responders: number): Promise<FanOutGroup> {
    const word = uniqueWord('fan');
    const requestDestination = `/topic/agent.command.${word}`;
    const replyKey = `reply.${word}`;
    const requesterSource = { service: 'bench-conductor', host: `${word}-req` };
    const replyQueue = benchQueueName('reply');
    const queues: string[] = [];
    const forgetters: (() => void)[] = [];
    const track = (queue: string): void => {
      queues.push(queue);
      forgetters.push(this.leftovers.queue(queue));
    };
    const forgetQueues = (): void => forgetters.forEach((forget) => forget());
    track(replyQueue);
    const waiting = new Map<string, (responder: string) => void>();
    const requester = await this.connect();
    let agents: Responder[];
    try {
      await withReceipt(requester, (receipt) =>
        requester.subscribe(
          `/topic/${replyKey}`,
          (message) => {
            const reply = readRawEnvelope(message.body);
            if (reply.correlationId !== undefined) waiting.get(reply.correlationId)?.(reply.source.host);
            message.ack();
          },
          { ...queueHeaders(replyQueue, 256), ...receipt },
        ),
      );
      agents = await openMany(
        responders,
        this.connectConcurrency,
        async (i) => {
          const queue = benchQueueName('agent');
          track(queue);
          return { client: await this.openResponder(requestDestination, queue, `${word}-r${i}`), queue };
        },
        (agent) => this.disconnect(agent.client),
      );
    } catch (error) {
      await this.disconnect(requester);
      await this.deleteQueues(queues);
      forgetQueues();
      throw error;
    }
    return {
      round: async (timeoutMs) => {
        const { id, body } = rawEnvelope('agent.command', requesterSource, { action: 'state', commandId: `c-${word}`, host: word }, { replyTo: replyKey });
        return timeRawFanOutRound({
          waiting,
          id,
          responders,
          timeoutMs,
          label: 'raw stompjs',
          send: () =>
            withReceipt(requester, (receipt) =>
              requester.publish({ destination: requestDestination, body: body.toString('utf8'), headers: { ...sendHeaders(id, 'agent.command'), ...receipt } }),
            ),
        });
      },
      close: async () => {
        await closeMany(agents, this.connectConcurrency, (agent) => this.disconnect(agent.client));
        await this.disconnect(requester);
        await this.deleteQueues(queues);
        forgetQueues();
      },
    };
  }

  async connectClose(): Promise<number> {
    const started = performance.now();
    const client = await this.connect();
    await this.disconnect(client);
    return performance.now() - started;
  }

  /** A responder on its own connection: replies with a receipt, acks the request once the reply is receipted. */
  private async openResponder(requestDestination: string, queue: string, host: string): Promise<Client> {
    const client = await this.connect();
    const source = { service: 'bench-agent', host };
    try {
      await withReceipt(client, (receipt) =>
        client.subscribe(
          requestDestination,
          (message) => {
            const request = readRawEnvelope(message.body);
            if (request.replyTo === undefined) {
              message.ack();
              return;
            }
            const reply = rawEnvelope('agent.reply', source, { commandId: request.payload['commandId'], host, status: 'succeeded' }, { correlationId: request.id });
            void withReceipt(client, (headers) =>
              client.publish({
                destination: `/topic/${request.replyTo ?? ''}`,
                body: reply.body.toString('utf8'),
                headers: { ...sendHeaders(reply.id, 'agent.reply'), 'correlation-id': request.id, ...headers },
              }),
            ).then(
              () => {
                // The requester can have every reply, and close this responder, before the RECEIPT came.
                if (client.connected) message.ack();
              },
              () => undefined,
            );
          },
          { ...queueHeaders(queue, 16), ...receipt },
        ),
      );
      return client;
    } catch (error) {
      await this.disconnect(client);
      throw error;
    }
  }

  private async connect(): Promise<Client> {
    const client = await connectRawStomp(this.url, 15_000);
    const forget = this.leftovers.connection(() => client.deactivate());
    client.onWebSocketClose = forget;
    return client;
  }

  private async disconnect(client: Client): Promise<void> {
    await client.deactivate().catch(() => undefined);
  }

  private async deleteQueues(queues: readonly string[]): Promise<void> {
    const connection = await amqp.connect(this.amqpUrl);
    try {
      const channel = await connection.createChannel();
      for (const queue of queues) await channel.deleteQueue(queue);
    } finally {
      await connection.close().catch(() => undefined);
    }
  }
}
