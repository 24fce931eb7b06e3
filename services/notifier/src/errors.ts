// Typed errors of the notifier. Callers branch on the class (or `code`), never on message text.

export type NotifierErrorCode = 'DESTINATION_NOT_ALLOWED' | 'SUBSCRIPTION_INVALID' | 'DELIVERY_FAILED' | 'EVENT_LOG_UNAVAILABLE';

export abstract class NotifierError extends Error {
  abstract readonly code: NotifierErrorCode;
}

/** A callback URL the destination allow-list refuses; `url` is the offending value, `problem` says why. */
export class DestinationNotAllowedError extends NotifierError {
  override readonly name = 'DestinationNotAllowedError';
  readonly code = 'DESTINATION_NOT_ALLOWED';
  readonly field = 'url';
  constructor(
    readonly url: string,
    readonly problem: string,
  ) {
    super(`url: ${problem}`);
  }
}

/** A subscription request with a bad field; `field` names it. */
export class SubscriptionInvalidError extends NotifierError {
  override readonly name = 'SubscriptionInvalidError';
  readonly code = 'SUBSCRIPTION_INVALID';
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}

/** One delivery attempt failed. `retriable` false: trying the same request again cannot help (e.g. a 4xx other than 408/429). */
export class DeliveryError extends NotifierError {
  override readonly name = 'DeliveryError';
  readonly code = 'DELIVERY_FAILED';
  constructor(
    readonly destination: string,
    problem: string,
    readonly retriable: boolean,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(`${destination}: ${problem}`, options);
  }
}

/** The conductor's event log could not be read over the bus (no conductor answered, or it answered an error). */
export class EventLogUnavailableError extends NotifierError {
  override readonly name = 'EventLogUnavailableError';
  readonly code = 'EVENT_LOG_UNAVAILABLE';
  constructor(problem: string, options?: { cause?: unknown }) {
    super(`event log: ${problem}`, options);
  }
}
