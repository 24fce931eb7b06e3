// The Wire over the in-process MemoryBroker.
import { WireClosedError } from '../errors.js';
import type { QueueSpec, Wire, WireConsumer, WireDelivery, WirePublishOptions } from '../wire.js';
import type { MemoryBroker } from './memory-broker.js';

export class MemoryWire implements Wire {
  private connection: number | undefined;
  private lostListener: ((error: Error) => void) | undefined;

  constructor(private readonly broker: MemoryBroker) {}

  async connect(): Promise<void> {
    this.connection = this.broker.open((error) => {
      this.connection = undefined;
      this.lostListener?.(new WireClosedError(error.message, { cause: error }));
    });
  }

  onLost(listener: (error: Error) => void): void {
    this.lostListener = listener;
  }

  async declareQueue(spec: QueueSpec): Promise<void> {
    this.open();
    this.broker.declareQueue(spec);
  }

  async deleteQueue(name: string): Promise<void> {
    this.open();
    this.broker.deleteQueue(name);
  }

  async consume(queue: string, prefetch: number, onDelivery: (delivery: WireDelivery) => void): Promise<WireConsumer> {
    const connection = this.open();
    const cancel = this.broker.consume(connection, queue, prefetch, (d) => {
      onDelivery({
        body: d.body,
        routingKey: d.routingKey,
        redelivered: d.redelivered,
        deliveryCount: d.deliveryCount,
        ack: () => this.broker.settle(connection, d.tag, 'ack'),
        nack: (requeue) => this.broker.settle(connection, d.tag, requeue ? 'requeue' : 'drop'),
      });
    });
    return { cancel: async () => cancel() };
  }

  async publish(body: Buffer, options: WirePublishOptions): Promise<void> {
    this.open();
    // Copy, so a sender that reuses its buffer cannot change a queued message.
    this.broker.publish(options.exchange, options.routingKey, Buffer.from(body), options.expirationMs, options.headers);
  }

  async close(): Promise<void> {
    if (this.connection !== undefined) this.broker.close(this.connection);
    this.connection = undefined;
  }

  private open(): number {
    if (this.connection === undefined || !this.broker.isOpen(this.connection)) throw new WireClosedError();
    return this.connection;
  }
}
