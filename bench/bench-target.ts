// The contract every measured client implements (deploybus over each transport, raw stompjs, raw
// amqplib), so the bench drives them all the same way and only the client underneath differs.
import type { Message } from '@deploybus/protocol';

export type Transport = 'stomp' | 'amqp';
export type Implementation = 'deploybus' | 'raw';

export interface ThroughputRun {
  /** All carry the same routing key. */
  readonly messages: readonly Message[];
  readonly routingKey: string;
  /** Wait for the broker's confirm (AMQP) or receipt (STOMP) on every publish. */
  readonly confirm: boolean;
  /** Most unconfirmed publishes kept in flight; without confirms, publishes go out in bursts of this size. */
  readonly window: number;
  /** Unacknowledged deliveries the broker may send the consumer ahead. */
  readonly prefetch: number;
}

/** A requester and its responders, each on its own connection, kept open across rounds. */
export interface FanOutGroup {
  /** Publishes one request and resolves with the milliseconds until every responder's reply arrived. */
  round(timeoutMs: number): Promise<number>;
  close(): Promise<void>;
}

export interface BenchTarget {
  readonly implementation: Implementation;
  readonly transport: Transport;
  /**
   * Opens a publisher and a consumer connection and a queue bound to the routing key (not timed), then
   * resolves with the milliseconds from the first publish until the last message was consumed and
   * acknowledged. Closes and deletes all it opened.
   */
  throughput(run: ThroughputRun): Promise<number>;
  openFanOut(responders: number): Promise<FanOutGroup>;
  /** Milliseconds for one connect and close. */
  connectClose(): Promise<number>;
}
