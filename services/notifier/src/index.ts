// @deploybus/notifier: public face. The daemon, and the pieces a receiver or a test needs.
export { notifierDaemon, notifierConfigSchema, NotifierService, NOTIFIER_QUEUE, DEFAULT_STORE_URL, type NotifierConfig } from './notifier.js';
export { DestinationPolicy, type DestinationRules } from './destination-policy.js';
export {
  signCallback,
  verifyCallback,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
  EVENT_SEQ_HEADER,
  SUBSCRIPTION_HEADER,
  DEFAULT_TOLERANCE_SECONDS,
} from './callback-signature.js';
export { eventTypeMatches, EVENT_PATTERN } from './event-patterns.js';
export { DeliveryScheduler, type DeliveryOptions, type DestinationStatus } from './delivery-scheduler.js';
export type { Destination } from './destination.js';
export { BusEventLog, type EventLog, type LogEvent, type EventPage, type EventFilter, type DeploymentFacts } from './event-log.js';
export { NotifierError, DestinationNotAllowedError, SubscriptionInvalidError, DeliveryError, EventLogUnavailableError, type NotifierErrorCode } from './errors.js';
