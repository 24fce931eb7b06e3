// The one Bus interface every daemon uses, whatever the transport underneath.
import type { CreateOptions, Message, MessageType, PayloadInputOf } from '@deploybus/protocol';

export interface BusLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export type BusState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** What became of one delivery: handled (acknowledged), retried, dead-lettered, dropped as expired, or unreadable (dead-lettered at once). */
export type DeliveryOutcome = 'handled' | 'retried' | 'dead-lettered' | 'expired' | 'unreadable';

export interface DeliveryReport {
  readonly outcome: DeliveryOutcome;
  /** The message type, when the body could be read. */
  readonly type: string | undefined;
  readonly queue: string;
  readonly redelivered: boolean;
  /** How long the handler ran, when it ran. */
  readonly handlerMs: number | undefined;
}

/** Hooks for metrics: called synchronously, must not throw. */
export interface BusObserver {
  /** A message left this client (confirmed by the broker when confirming). */
  published?(type: string): void;
  delivered?(report: DeliveryReport): void;
}

export interface PublishOptions {
  /** Overrides the message type's routing key (replies go to the request's `replyTo`). */
  readonly routingKey?: string;
  /** Wait for the broker's confirm/receipt (default true). Without it, a message in flight when the connection drops can be lost. */
  readonly confirm?: boolean;
}

export interface SubscribeOptions {
  /** Routing-key patterns (`*` one word, `#` any number of words). */
  readonly patterns: readonly string[];
  /**
   * A shared queue's full name, `deploybus.…` (build it with the protocol's `workQueueName` or
   * `commandQueueName`): every subscriber naming it shares the work, and it keeps messages while
   * nobody listens. Without it, this subscriber gets its own copy of every matching message.
   */
  readonly queue?: string;
  /** Unacknowledged messages the broker may send ahead (default 16). */
  readonly prefetch?: number;
  /**
   * Messages handled at once (default 1: one after another, in arrival order; at most `prefetch`).
   * Above 1, handlers start in arrival order but a later message may finish, and be acknowledged,
   * before an earlier one: for a handler that orders its own work (as deploy-agent does per app).
   */
  readonly concurrency?: number;
  /** Deliveries of a failing message before it is dead-lettered (default 5). */
  readonly maxAttempts?: number;
  /** Pause before a failed message is handed back for redelivery; doubles per attempt (default 100 ms). */
  readonly retryDelayMs?: number;
}

export interface DeliveryContext {
  readonly routingKey: string;
  readonly queue: string;
  /** 1 on first delivery. */
  readonly attempt: number;
  readonly redelivered: boolean;
}

/** Handles one message. Resolving acknowledges it; throwing has it redelivered, then dead-lettered. */
export type MessageHandler = (message: Message, context: DeliveryContext) => Promise<void> | void;

export interface Subscription {
  readonly queue: string;
  unsubscribe(): Promise<void>;
}

export interface RequestOptions {
  /** Names of the responders whose replies are awaited. */
  readonly expect: readonly string[];
  readonly timeoutMs: number;
  /** How a reply names its responder (default: the reply's `source.host`). */
  readonly responderOf?: (reply: Message) => string;
  /** Called for each expected reply as it arrives. */
  readonly onReply?: (responder: string, reply: Message) => void;
  readonly routingKey?: string;
}

export interface FanOutResult {
  /** Replies by responder name, first reply per responder. */
  readonly replies: ReadonlyMap<string, Message>;
  /** Expected responders that did not answer in time, by name. Never counted as success. */
  readonly missing: readonly string[];
  readonly complete: boolean;
}

export type MessageBuildOptions = Omit<CreateOptions, 'source' | 'replyTo'> & {
  /** Sets `replyTo` to this bus's reply address, so the message can be sent with request(). */
  readonly expectReplies?: boolean;
};

export interface Bus {
  readonly transport: 'memory' | 'stomp' | 'amqp';
  readonly state: BusState;
  /** The routing key replies to this client go to. */
  readonly replyAddress: string;
  /** Builds a message whose source is this client. */
  message<T extends MessageType>(type: T, payload: PayloadInputOf<T>, options?: MessageBuildOptions): Message<T>;
  publish(message: Message, options?: PublishOptions): Promise<void>;
  subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription>;
  /** Makes sure a shared queue exists (for example an agent's command queue) without consuming it. */
  declareQueue(queue: string, patterns: readonly string[]): Promise<void>;
  /** Publishes a request and gathers replies from the expected responders until all answered or the timeout. */
  request(message: Message, options: RequestOptions): Promise<FanOutResult>;
  /** Answers a request: publishes `reply` to its `replyTo`. */
  reply(request: Message, reply: Message): Promise<void>;
  onStateChange(listener: (state: BusState) => void): () => void;
  close(): Promise<void>;
}
