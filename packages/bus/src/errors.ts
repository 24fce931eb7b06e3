// Typed errors of the bus. Callers branch on the class (or `code`), never on message text.

export type BusErrorCode = 'BUS_UNAVAILABLE' | 'BUS_CLOSED' | 'PUBLISH_REJECTED' | 'BROKER_REFUSED' | 'INVALID_BUS_URL' | 'INVALID_SUBSCRIPTION' | 'WIRE_CLOSED';

export class BusError extends Error {
  override readonly name: string = 'BusError';
  readonly code: BusErrorCode;
  constructor(code: BusErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A publish could not reach the broker within its wait limit: the caller still owns the message. */
export class BusUnavailableError extends BusError {
  override readonly name = 'BusUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('BUS_UNAVAILABLE', message, options);
  }
}

/** The bus was closed by its owner; nothing more is sent or received. */
export class BusClosedError extends BusError {
  override readonly name = 'BusClosedError';
  constructor() {
    super('BUS_CLOSED', 'the bus is closed');
  }
}

/** The broker refused a message (a nack, or an ERROR frame for its receipt). */
export class PublishRejectedError extends BusError {
  override readonly name = 'PublishRejectedError';
  readonly routingKey: string;
  constructor(routingKey: string, message: string, options?: { cause?: unknown }) {
    super('PUBLISH_REJECTED', message, options);
    this.routingKey = routingKey;
  }
}

export class InvalidBusUrlError extends BusError {
  override readonly name = 'InvalidBusUrlError';
  constructor(message: string) {
    super('INVALID_BUS_URL', message);
  }
}

export class InvalidSubscriptionError extends BusError {
  override readonly name = 'InvalidSubscriptionError';
  constructor(message: string) {
    super('INVALID_SUBSCRIPTION', message);
  }
}

/** The transport connection went away under an operation; the client retries on the next connection. */
export class WireClosedError extends BusError {
  override readonly name: string = 'WireClosedError';
  constructor(message = 'the connection to the broker closed', options?: { cause?: unknown }) {
    super('WIRE_CLOSED', message, options);
  }
}

/**
 * The broker refused something sent on a publishing channel (AMQP) or connection (STOMP) and closed
 * it: one of the publishes in flight there, though the broker does not say which. The client sends
 * those again one at a time, so the refused one is found and failed with `reason`, and the others go
 * through.
 */
export class WireRefusedError extends WireClosedError {
  override readonly name: string = 'WireRefusedError';
  /** The broker's words, e.g. "403 ACCESS_REFUSED - write access to topic … refused for user …". */
  readonly reason: string;
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/** The broker refused a login or an operation (a STOMP ERROR frame); nothing was interrupted. */
export class BrokerRefusedError extends BusError {
  override readonly name = 'BrokerRefusedError';
  /** host:port of the broker. */
  readonly endpoint: string;
  /** The ERROR frame's `message` header, e.g. "precondition_failed" or "Bad CONNECT". */
  readonly brokerMessage: string;
  /** The ERROR frame's body: the broker's explanation. */
  readonly detail: string;
  constructor(endpoint: string, brokerMessage: string, detail: string, message: string, options?: { cause?: unknown }) {
    super('BROKER_REFUSED', message, options);
    this.endpoint = endpoint;
    this.brokerMessage = brokerMessage;
    this.detail = detail;
  }

  withContext(what: string): BrokerRefusedError {
    return new BrokerRefusedError(this.endpoint, this.brokerMessage, this.detail, `could not ${what}: ${this.message}`, { cause: this });
  }
}
