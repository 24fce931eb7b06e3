// The Wire over AMQP 0-9-1 with amqplib: one connection, a confirm channel for publishing, a plain
// channel for unconfirmed publishes, and a channel per consumer so each has its own prefetch.
// amqplib 2 can recover connections itself, but reconnecting lives once in BusClient for every
// transport (stompjs does not resubscribe), so one Wire is one plain connection.
import amqp, { IllegalOperationError, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options } from 'amqplib';
import { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { BrokerRefusedError, PublishRejectedError, WireClosedError, WireRefusedError } from '../errors.js';
import { queueArguments } from '../queue-arguments.js';
import { EVENTS_EXCHANGE } from '@deploybus/protocol';
import type { QueueSpec, Wire, WireConsumer, WireDelivery, WirePublishOptions } from '../wire.js';

export interface AmqpWireOptions {
  /** amqp:// or amqps:// URL, credentials included. */
  readonly url: string;
  readonly heartbeatSeconds: number;
  readonly connectTimeoutMs: number;
  readonly connectionName: string;
  readonly tls?: ConnectionOptions;
}

export class AmqpWire implements Wire {
  private connection: ChannelModel | undefined;
  private confirmChannel: ConfirmChannel | undefined;
  private plainChannel: Channel | undefined;
  private lostListener: ((error: Error) => void) | undefined;
  private closing = false;
  /** Why the connection was given up, once it was: set means lost. */
  private lostBy: WireClosedError | undefined;

  constructor(private readonly options: AmqpWireOptions) {}

  async connect(): Promise<void> {
    const url = new URL(this.options.url);
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(this.options.heartbeatSeconds));
    const connection = await amqp.connect(url.toString(), {
      ...this.options.tls,
      noDelay: true,
      keepAlive: true,
      timeout: this.options.connectTimeoutMs,
      clientProperties: { connection_name: this.options.connectionName },
    });
    this.connection = connection;
    coalesceWrites(connection);
    connection.on('error', () => undefined); // 'close' follows with the reason
    connection.on('close', (error?: Error) => this.markLost(error ?? new Error('connection closed by the broker')));
    this.confirmChannel = await connection.createConfirmChannel();
    this.plainChannel = await connection.createChannel();
    for (const channel of [this.confirmChannel, this.plainChannel]) {
      // The broker's reason (say, "403 ACCESS_REFUSED - write access to topic … refused") arrives as
      // 'error' just before 'close'; it is kept so the client's errors and logs name it.
      let reason: Error | undefined;
      channel.on('error', (error: Error) => void (reason = error));
      // A publishing channel the broker closed leaves the connection unusable for us; drop it all and
      // let the client reconnect, rather than limp on. A channel error with a reply code (403, 406, …)
      // on the confirm channel, which carries nothing but publishes, is the refusal of one of those
      // in flight: they fail with a WireRefusedError, so the client can tell which.
      const confirming = channel === this.confirmChannel;
      channel.on('close', () => {
        const message = `the broker closed a publishing channel${reason ? `: ${reason.message}` : ''}`;
        this.markLost(confirming && reason !== undefined && typeof (reason as { code?: unknown }).code === 'number' ? new WireRefusedError(reason.message, message, { cause: reason }) : new Error(message, { cause: reason }));
      });
    }
  }

  onLost(listener: (error: Error) => void): void {
    this.lostListener = listener;
  }

  async declareQueue(spec: QueueSpec): Promise<void> {
    // A refused declaration closes its channel, so each gets a fresh one.
    const channel = await this.requireConnection().createChannel();
    channel.on('error', () => undefined);
    try {
      await channel.assertQueue(spec.name, { durable: true, arguments: queueArguments(spec.kind) } satisfies Options.AssertQueue);
      for (const pattern of spec.patterns) await channel.bindQueue(spec.name, spec.exchange ?? EVENTS_EXCHANGE, pattern);
    } catch (error) {
      throw this.translate(error, `could not declare queue ${spec.name}`);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  async deleteQueue(name: string): Promise<void> {
    const channel = await this.requireConnection().createChannel();
    channel.on('error', () => undefined);
    try {
      await channel.deleteQueue(name);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  async consume(queue: string, prefetch: number, onDelivery: (delivery: WireDelivery) => void): Promise<WireConsumer> {
    const channel = await this.requireConnection().createChannel();
    let reason: Error | undefined;
    channel.on('error', (error: Error) => void (reason = error));
    let open = true;
    let cancelling = false;
    channel.on('close', () => {
      open = false;
      if (!cancelling) this.markLost(new Error(`the broker closed the consumer channel of ${queue}${reason ? `: ${reason.message}` : ''}`, { cause: reason }));
    });
    await channel.prefetch(prefetch);
    const settle = (fn: () => void): void => {
      // After the channel is gone the broker requeues the message by itself.
      if (open) {
        try {
          fn();
        } catch {
          /* channel closed between the check and the call */
        }
      }
    };
    const { consumerTag } = await channel.consume(queue, (message: ConsumeMessage | null) => {
      if (message === null) {
        // The broker cancelled the consumer (queue deleted, leader moved): start over on a new connection.
        this.markLost(new Error(`the broker cancelled the consumer of ${queue}`));
        return;
      }
      const count = message.properties.headers?.['x-delivery-count'] as unknown;
      onDelivery({
        body: message.content,
        routingKey: message.fields.routingKey,
        redelivered: message.fields.redelivered,
        deliveryCount: typeof count === 'number' ? count : undefined,
        ack: () => settle(() => channel.ack(message)),
        nack: (requeue) => settle(() => channel.nack(message, false, requeue)),
      });
    });
    return {
      cancel: async () => {
        cancelling = true;
        if (!open) return;
        await channel.cancel(consumerTag).catch(() => undefined);
        await channel.close().catch(() => undefined);
      },
    };
  }

  publish(body: Buffer, options: WirePublishOptions): Promise<void> {
    const properties: Options.Publish = {
      contentType: 'application/json',
      persistent: true,
      messageId: options.messageId,
      type: options.type,
      timestamp: Math.floor(Date.now() / 1000),
    };
    if (options.correlationId !== undefined) properties.correlationId = options.correlationId;
    if (options.expirationMs !== undefined) properties.expiration = String(Math.max(1, Math.round(options.expirationMs)));
    if (options.headers !== undefined) properties.headers = { ...options.headers };
    if (this.lostBy !== undefined || this.closing) return Promise.reject(new WireClosedError());
    if (!options.confirm) {
      const channel = this.plainChannel;
      if (!channel) return Promise.reject(new WireClosedError());
      try {
        channel.publish(options.exchange, options.routingKey, body, properties);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(this.translate(error, 'publish failed'));
      }
    }
    const channel = this.confirmChannel;
    if (!channel) return Promise.reject(new WireClosedError());
    return new Promise((resolve, reject) => {
      try {
        channel.publish(options.exchange, options.routingKey, body, properties, (error: unknown) => {
          if (error === null || error === undefined) {
            resolve();
            return;
          }
          // A confirm that fails because the channel went away is a lost connection, not a refusal:
          // the client sends the message again on the next one.
          setImmediate(() => {
            if (this.lostBy instanceof WireRefusedError) reject(this.lostBy);
            else if (this.lostBy !== undefined || this.closing) reject(new WireClosedError('the connection closed before the broker confirmed', { cause: error }));
            else reject(new PublishRejectedError(options.routingKey, `the broker refused the message for ${options.routingKey}`, { cause: error }));
          });
        });
      } catch (error) {
        reject(this.translate(error, 'publish failed'));
      }
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close().catch(() => undefined);
  }

  private markLost(error: Error): void {
    if (this.lostBy !== undefined || this.closing) return;
    this.lostBy = error instanceof WireClosedError ? error : new WireClosedError(error.message, { cause: error });
    const listener = this.lostListener;
    const connection = this.connection;
    this.connection = undefined;
    void connection?.close().catch(() => undefined);
    listener?.(this.lostBy);
  }

  private requireConnection(): ChannelModel {
    if (!this.connection || this.lostBy !== undefined) throw new WireClosedError();
    return this.connection;
  }

  private translate(error: unknown, what: string): Error {
    if (this.lostBy !== undefined || this.closing) return new WireClosedError(`${what}: the connection closed`, { cause: error });
    const text = error instanceof Error ? error.message : String(error);
    // amqplib throws IllegalOperationError for any call on a channel or connection that has closed.
    if (error instanceof IllegalOperationError) return new WireClosedError(`${what}: ${text}`, { cause: error });
    // What is left is the broker's answer to this operation (406 PRECONDITION_FAILED, 403 ACCESS_REFUSED, …).
    const code = (error as { code?: unknown }).code;
    const url = new URL(this.options.url);
    return new BrokerRefusedError(`${url.hostname}:${url.port || '5672'}`, code === undefined ? 'refused' : String(code), text, `${what}: ${text}`, { cause: error });
  }
}

/**
 * amqplib hands the socket every frame on its own (each publish, each ack), and an uncorked socket
 * makes one write system call per frame. The socket is corked at the first write of a turn of the
 * event loop and uncorked when that turn's synchronous work is done, so what a turn wrote leaves in
 * one writev. Nothing waits longer than the turn that wrote it. amqplib keeps its socket as
 * `connection.stream`; if a later amqplib moves it, writes simply go out one by one as before.
 */
export function coalesceWrites(model: ChannelModel): boolean {
  const socket = (model as unknown as { connection?: { stream?: unknown } }).connection?.stream;
  if (!(socket instanceof Duplex)) return false;
  const write = socket.write;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: Duplex, ...args: Parameters<Duplex['write']>): boolean {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Duplex['write'];
  return true;
}
