// The narrow contract a transport implements: one connection to a broker, no retries, no parsing.
// Everything above it (reconnects, outbox, delivery rules, fan-out) lives once, in BusClient.

/** A queue and the routing-key patterns that bind it to the events exchange. */
export interface QueueSpec {
  readonly name: string;
  readonly kind: QueueKind;
  readonly patterns: readonly string[];
  /** Which exchange the patterns bind on; the events exchange unless said. */
  readonly exchange?: string;
}

/**
 * - `shared`: durable quorum queue, competing consumers, survives every client (work queues, agent commands).
 * - `private`: one client's own queue; the broker deletes it a minute after the client is gone, so a
 *   short disconnect loses nothing.
 * - `reply`: one client's reply queue, like a private one but never dead-lettered.
 * - `dead-letter`: the one queue dead letters go to.
 */
export type QueueKind = 'shared' | 'private' | 'reply' | 'dead-letter';

export interface WirePublishOptions {
  readonly exchange: string;
  readonly routingKey: string;
  readonly messageId: string;
  readonly type: string;
  readonly correlationId?: string | undefined;
  readonly expirationMs?: number | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** Wait for the broker's publisher confirm (AMQP) or receipt (STOMP). */
  readonly confirm: boolean;
}

export interface WireDelivery {
  readonly body: Buffer;
  readonly routingKey: string;
  readonly redelivered: boolean;
  /** How many times the broker delivered it before (quorum queues say so); undefined when unknown. */
  readonly deliveryCount: number | undefined;
  ack(): void;
  nack(requeue: boolean): void;
}

export interface WireConsumer {
  cancel(): Promise<void>;
}

export interface Wire {
  /** Opens the connection. Rejects when the broker cannot be reached or refuses the login. */
  connect(): Promise<void>;
  declareQueue(spec: QueueSpec): Promise<void>;
  deleteQueue(name: string): Promise<void>;
  consume(queue: string, prefetch: number, onDelivery: (delivery: WireDelivery) => void): Promise<WireConsumer>;
  /** Resolves once the broker has the message (confirm) or it is written (no confirm). */
  publish(body: Buffer, options: WirePublishOptions): Promise<void>;
  /** Called once when the connection is lost without close() having been called. */
  onLost(listener: (error: Error) => void): void;
  close(): Promise<void>;
}

export type WireFactory = () => Wire;
