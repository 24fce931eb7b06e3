// The same work as deploybus-target.ts with plain amqplib and nothing on top: publish to amq.topic,
// a bound queue consumed with manual ack, publisher confirms through a ConfirmChannel. The queues are
// declared with deploybus's arguments for private queues and messages carry the same properties, so
// the broker does the same work for both.
import { performance } from 'node:perf_hooks';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options } from 'amqplib';
import { queueArguments } from '@deploybus/bus';
import { EVENTS_EXCHANGE, type Message } from '@deploybus/protocol';
import { messageAt, rawEnvelope, readRawEnvelope } from './bench-messages.js';
import type { BenchTarget, FanOutGroup, ThroughputRun } from './bench-target.js';
import { benchQueueName, uniqueWord } from './bench-names.js';
import { timeRawFanOutRound } from './raw-fan-out-round.js';
import type { Leftovers } from './leftovers.js';
import { closeMany, openMany } from './open-many.js';
import { DeliveryCounter, publishPaced } from './throughput-pacing.js';

/** The properties deploybus's AmqpWire sets on every publish. */
function properties(messageId: string, type: string, correlationId?: string): Options.Publish {
  const props: Options.Publish = { contentType: 'application/json', persistent: true, messageId, type, timestamp: Math.floor(Date.now() / 1000) };
  if (correlationId !== undefined) props.correlationId = correlationId;
  return props;
}

/** Publishes on a confirm channel; resolves when the broker confirmed. */
function publishConfirmed(channel: ConfirmChannel, routingKey: string, body: Buffer, props: Options.Publish): Promise<void> {
  return new Promise((resolve, reject) => {
    channel.publish(EVENTS_EXCHANGE, routingKey, body, props, (error: unknown) => {
      if (error === null || error === undefined) resolve();
      else reject(new Error(`the broker did not confirm a publish to ${routingKey}`, { cause: error }));
    });
  });
}

function settleQuietly(settle: () => void): void {
  try {
    settle();
  } catch {
    /* the channel closed: the broker takes the message back */
  }
}

interface Responder {
  readonly connection: ChannelModel;
  readonly consumer: Channel;
  readonly queue: string;
  readonly forgetQueue: () => void;
}

export class RawAmqpTarget implements BenchTarget {
  readonly implementation = 'raw';
  readonly transport = 'amqp';

  constructor(
    private readonly url: string,
    private readonly leftovers: Leftovers,
    private readonly connectConcurrency: number,
  ) {}

  async throughput(run: ThroughputRun): Promise<number> {
    const queue = benchQueueName('tp');
    const consumerConnection = await this.connect();
    const forgetQueue = this.leftovers.queue(queue);
    try {
      const publisherConnection = await this.connect();
      try {
        const consumer = await consumerConnection.createChannel();
        await this.declare(consumer, queue, run.routingKey);
        await consumer.prefetch(run.prefetch);
        const counter = new DeliveryCounter(run.messages.length);
        await consumer.consume(queue, (delivery: ConsumeMessage | null) => {
          if (delivery === null) return;
          JSON.parse(delivery.content.toString('utf8'));
          consumer.ack(delivery);
          counter.hit();
        });
        const messages = run.messages;
        const publish = (message: Message): Buffer => Buffer.from(JSON.stringify(message));
        let started: number;
        if (run.confirm) {
          const channel = await publisherConnection.createConfirmChannel();
          started = performance.now();
          await publishPaced(messages.length, run.window, (i) => {
            const message = messageAt(messages, i);
            return publishConfirmed(channel, run.routingKey, publish(message), properties(message.id, message.type));
          });
        } else {
          const channel = await publisherConnection.createChannel();
          started = performance.now();
          await publishPaced(messages.length, run.window, (i) => {
            const message = messageAt(messages, i);
            channel.publish(EVENTS_EXCHANGE, run.routingKey, publish(message), properties(message.id, message.type));
            return Promise.resolve();
          });
        }
        await counter.wait(60_000, 'raw amqplib consumer');
        const elapsed = performance.now() - started;
        await consumer.deleteQueue(queue);
        forgetQueue();
        return elapsed;
      } finally {
        await this.close(publisherConnection);
      }
    } finally {
      await this.close(consumerConnection);
    }
  }

  async openFanOut(responders: number): Promise<FanOutGroup> {
    const word = uniqueWord('fan');
    const requestKey = `agent.command.${word}`;
    const replyKey = `reply.${word}`;
    const requesterSource = { service: 'bench-conductor', host: `${word}-req` };
    const requesterConnection = await this.connect();
    const replyQueue = benchQueueName('reply');
    const forgetReplyQueue = this.leftovers.queue(replyQueue);
    const waiting = new Map<string, (responder: string) => void>();
    let replies: Channel;
    let publisher: ConfirmChannel;
    let agents: Responder[];
    try {
      replies = await requesterConnection.createChannel();
      await this.declare(replies, replyQueue, replyKey);
      await replies.prefetch(256);
      await replies.consume(replyQueue, (delivery) => {
        if (delivery === null) return;
        const reply = readRawEnvelope(delivery.content);
        if (reply.correlationId !== undefined) waiting.get(reply.correlationId)?.(reply.source.host);
        replies.ack(delivery);
      });
      publisher = await requesterConnection.createConfirmChannel();
      agents = await openMany(responders, this.connectConcurrency, (i) => this.openResponder(word, requestKey, `${word}-r${i}`), (agent) => this.closeResponder(agent));
    } catch (error) {
      await this.close(requesterConnection);
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
          label: 'raw amqplib',
          send: () => publishConfirmed(publisher, requestKey, body, properties(id, 'agent.command')),
        });
      },
      close: async () => {
        await closeMany(agents, this.connectConcurrency, (agent) => this.closeResponder(agent));
        await replies.deleteQueue(replyQueue).catch(() => undefined);
        forgetReplyQueue();
        await this.close(requesterConnection);
      },
    };
  }

  async connectClose(): Promise<number> {
    const started = performance.now();
    const connection = await this.connect();
    await connection.createConfirmChannel();
    await this.close(connection);
    return performance.now() - started;
  }

  /** A responder on its own connection: a queue bound to the request key, replies on a confirm channel, acked once confirmed. */
  private async openResponder(word: string, requestKey: string, host: string): Promise<Responder> {
    const connection = await this.connect();
    const queue = benchQueueName('agent');
    const forgetQueue = this.leftovers.queue(queue);
    try {
      const consumer = await connection.createChannel();
      const publisher = await connection.createConfirmChannel();
      await this.declare(consumer, queue, requestKey);
      await consumer.prefetch(16);
      const source = { service: 'bench-agent', host };
      await consumer.consume(queue, (delivery) => {
        if (delivery === null) return;
        const request = readRawEnvelope(delivery.content);
        if (request.replyTo === undefined) {
          consumer.ack(delivery);
          return;
        }
        const commandId = request.payload['commandId'];
        const reply = rawEnvelope('agent.reply', source, { commandId, host, status: 'succeeded' }, { correlationId: request.id });
        // The requester can have every reply, and close this responder, before the broker confirmed
        // the last one; then the channel is gone and the broker requeues the request by itself.
        publishConfirmed(publisher, request.replyTo, reply.body, properties(reply.id, 'agent.reply', request.id)).then(
          () => settleQuietly(() => consumer.ack(delivery)),
          () => settleQuietly(() => consumer.nack(delivery, false, true)),
        );
      });
      return { connection, consumer, queue, forgetQueue };
    } catch (error) {
      await this.close(connection);
      throw new Error(`raw amqplib responder ${host} of ${word} could not start`, { cause: error });
    }
  }

  private async closeResponder(agent: Responder): Promise<void> {
    await agent.consumer.deleteQueue(agent.queue).catch(() => undefined);
    agent.forgetQueue();
    await this.close(agent.connection);
  }

  private async declare(channel: Channel, queue: string, routingKey: string): Promise<void> {
    await channel.assertQueue(queue, { durable: true, arguments: queueArguments('private') });
    await channel.bindQueue(queue, EVENTS_EXCHANGE, routingKey);
  }

  /** Opens a connection with the socket options deploybus uses (Nagle off). */
  private async connect(): Promise<ChannelModel> {
    const connection = await amqp.connect(this.url, { noDelay: true, keepAlive: true, timeout: 15_000 });
    connection.on('error', () => undefined);
    const forget = this.leftovers.connection(() => connection.close());
    connection.once('close', forget);
    return connection;
  }

  private async close(connection: ChannelModel): Promise<void> {
    await connection.close().catch(() => undefined);
  }
}
