// @deploybus/bus: one Bus interface over STOMP, AMQP 0-9-1 and an in-process broker.
export type {
  Bus,
  BusLogger,
  BusObserver,
  BusState,
  DeliveryOutcome,
  DeliveryReport,
  DeliveryContext,
  FanOutResult,
  MessageBuildOptions,
  MessageHandler,
  PublishOptions,
  RequestOptions,
  SubscribeOptions,
  Subscription,
} from './bus.js';
export { connectBus, parseBusUrl, busUrlFromEnv, DEFAULT_BUS_URL, type ConnectOptions, type ParsedBusUrl } from './connect.js';
export {
  BusError,
  BusUnavailableError,
  BusClosedError,
  PublishRejectedError,
  InvalidBusUrlError,
  InvalidSubscriptionError,
  WireClosedError,
  WireRefusedError,
  BrokerRefusedError,
  type BusErrorCode,
} from './errors.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { memoryBroker, type MemoryBroker } from './transports/memory-broker.js';
export { queueArguments } from './queue-arguments.js';
