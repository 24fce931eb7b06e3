// What the conformance suite needs from a transport besides the Bus itself: a way to put raw bytes
// on the bus, read the dead-letter queue, and take the broker away and bring it back.

export interface DeadLetter {
  readonly body: string;
  readonly reason: string;
  readonly queue: string;
  readonly routingKey: string;
}

export interface TransportHarness {
  readonly name: 'memory' | 'stomp' | 'amqp';
  readonly url: string;
  /** Publishes bytes to the events exchange as a foreign client would, bypassing deploybus's checks. */
  publishRaw(routingKey: string, body: Buffer): Promise<void>;
  /** Takes every message off the dead-letter queue. */
  drainDeadLetters(): Promise<DeadLetter[]>;
  /** Stops the broker, runs `whileDown`, starts it again and waits until it serves. */
  restartBroker(whileDown: () => Promise<void>): Promise<void>;
  deleteQueue(name: string): Promise<void>;
  close(): Promise<void>;
}
