// An in-process broker with RabbitMQ's semantics where deploybus relies on them: topic and direct
// exchanges, durable queues that keep messages with no consumer, competing consumers with prefetch,
// acknowledgement, requeue with a delivery count, per-message expiry, and redelivery of what a lost
// connection left unacknowledged. It backs `memory://` and the all-in-one mode.
import { EVENTS_EXCHANGE, matchesPattern } from '@deploybus/protocol';
import type { QueueSpec } from '../wire.js';

interface StoredMessage {
  readonly body: Buffer;
  readonly routingKey: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly expiresAt: number | undefined;
  deliveryCount: number;
  redelivered: boolean;
}

export interface MemoryDelivery {
  readonly body: Buffer;
  readonly routingKey: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly redelivered: boolean;
  readonly deliveryCount: number;
  readonly tag: number;
}

interface Consumer {
  readonly connection: number;
  readonly prefetch: number;
  readonly unacked: Map<number, StoredMessage>;
  readonly deliver: (delivery: MemoryDelivery) => void;
}

interface Queue {
  readonly spec: QueueSpec;
  readonly bindings: Set<string>;
  readonly messages: StoredMessage[];
  readonly consumers: Consumer[];
  next: number;
}

export class MemoryBroker {
  private readonly queues = new Map<string, Queue>();
  private readonly connections = new Map<number, (error: Error) => void>();
  private nextConnection = 1;
  private nextTag = 1;
  private down = false;
  private scheduled = false;

  /** Opens a connection; `onLost` is called if the broker drops it. */
  open(onLost: (error: Error) => void): number {
    if (this.down) throw new Error('memory broker is down');
    const id = this.nextConnection++;
    this.connections.set(id, onLost);
    return id;
  }

  close(connection: number): void {
    this.connections.delete(connection);
    for (const queue of this.queues.values()) {
      for (let i = queue.consumers.length - 1; i >= 0; i--) {
        const consumer = queue.consumers[i];
        if (consumer?.connection === connection) this.removeConsumer(queue, consumer);
      }
    }
    this.schedule();
  }

  isOpen(connection: number): boolean {
    return this.connections.has(connection);
  }

  /** Drops every connection and refuses new ones until start(), as a stopped broker would. Queues are kept. */
  stop(): void {
    this.down = true;
    for (const [id, onLost] of [...this.connections]) {
      this.close(id);
      onLost(new Error('memory broker stopped'));
    }
  }

  start(): void {
    this.down = false;
  }

  declareQueue(spec: QueueSpec): void {
    let queue = this.queues.get(spec.name);
    if (!queue) {
      queue = { spec, bindings: new Set(), messages: [], consumers: [], next: 0 };
      this.queues.set(spec.name, queue);
    }
    const exchange = spec.exchange ?? EVENTS_EXCHANGE;
    for (const pattern of spec.patterns) queue.bindings.add(`${exchange}\u0000${pattern}`);
  }

  deleteQueue(name: string): void {
    const queue = this.queues.get(name);
    if (!queue) return;
    this.queues.delete(name);
    for (const consumer of queue.consumers) consumer.unacked.clear();
  }

  queueDepth(name: string): number {
    return this.queues.get(name)?.messages.length ?? 0;
  }

  /** Routes a message; returns how many queues took it. */
  publish(exchange: string, routingKey: string, body: Buffer, expirationMs: number | undefined, headers: Readonly<Record<string, string>> = {}): number {
    let routed = 0;
    const expiresAt = expirationMs === undefined ? undefined : Date.now() + expirationMs;
    for (const queue of this.queues.values()) {
      for (const binding of queue.bindings) {
        const [boundExchange, pattern = ''] = binding.split('\u0000');
        if (boundExchange !== exchange) continue;
        const matches = exchange === EVENTS_EXCHANGE ? matchesPattern(pattern, routingKey) : pattern === routingKey;
        if (matches) {
          queue.messages.push({ body, routingKey, headers, expiresAt, deliveryCount: 0, redelivered: false });
          routed += 1;
          break;
        }
      }
    }
    this.schedule();
    return routed;
  }

  consume(connection: number, queueName: string, prefetch: number, deliver: (delivery: MemoryDelivery) => void): () => void {
    const queue = this.queues.get(queueName);
    if (!queue) throw new Error(`memory broker: no queue "${queueName}"`);
    const consumer: Consumer = { connection, prefetch, unacked: new Map(), deliver };
    queue.consumers.push(consumer);
    this.schedule();
    return () => this.removeConsumer(queue, consumer);
  }

  settle(connection: number, tag: number, outcome: 'ack' | 'requeue' | 'drop'): void {
    if (!this.connections.has(connection)) return;
    for (const queue of this.queues.values()) {
      for (const consumer of queue.consumers) {
        const message = consumer.unacked.get(tag);
        if (!message) continue;
        consumer.unacked.delete(tag);
        if (outcome === 'requeue') this.requeue(queue, message);
        this.schedule();
        return;
      }
    }
  }

  private removeConsumer(queue: Queue, consumer: Consumer): void {
    const index = queue.consumers.indexOf(consumer);
    if (index >= 0) queue.consumers.splice(index, 1);
    for (const message of consumer.unacked.values()) this.requeue(queue, message);
    consumer.unacked.clear();
  }

  private requeue(queue: Queue, message: StoredMessage): void {
    message.deliveryCount += 1;
    message.redelivered = true;
    queue.messages.unshift(message);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    const now = Date.now();
    for (const queue of this.queues.values()) {
      while (queue.messages.length > 0 && queue.consumers.length > 0) {
        const consumer = this.pickConsumer(queue);
        if (!consumer) break;
        const message = queue.messages.shift();
        if (!message) break;
        if (message.expiresAt !== undefined && message.expiresAt <= now) continue;
        const tag = this.nextTag++;
        consumer.unacked.set(tag, message);
        consumer.deliver({ body: message.body, routingKey: message.routingKey, headers: message.headers, redelivered: message.redelivered, deliveryCount: message.deliveryCount, tag });
      }
    }
  }

  private pickConsumer(queue: Queue): Consumer | undefined {
    for (let i = 0; i < queue.consumers.length; i++) {
      const index = (queue.next + i) % queue.consumers.length;
      const consumer = queue.consumers[index];
      if (consumer && consumer.unacked.size < consumer.prefetch) {
        queue.next = index + 1;
        return consumer;
      }
    }
    return undefined;
  }
}

const brokers = new Map<string, MemoryBroker>();

/** The broker behind `memory://NAME`; one per name per process. */
export function memoryBroker(name: string): MemoryBroker {
  let broker = brokers.get(name);
  if (!broker) {
    broker = new MemoryBroker();
    brokers.set(name, broker);
  }
  return broker;
}
