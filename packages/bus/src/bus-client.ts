// The Bus on top of any Wire: connection lifecycle, reconnect with backoff, resubscribe, the outbox
// that holds publishes while disconnected, the delivery rules (ack, retry, dead-letter, expiry) and
// request/fan-out. Transports only move bytes; everything here is shared by all of them.
import { randomBytes } from 'node:crypto';
import {
  createMessage,
  DEAD_LETTER_EXCHANGE,
  decodeBody,
  DEAD_LETTER_QUEUE,
  DEAD_LETTER_HEADERS,
  DEAD_LETTER_ROUTING_KEY,
  DEFAULT_MAX_ATTEMPTS,
  EVENTS_EXCHANGE,
  encodeMessage,
  isValidPattern,
  privateQueueName,
  QUEUE_PREFIX,
  replyQueueName,
  replyRoutingKey,
  routingKeyOf,
  type Message,
  type MessageType,
  type PayloadInputOf,
  type Source,
} from '@deploybus/protocol';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import type {
  Bus,
  BusLogger,
  BusObserver,
  DeliveryReport,
  BusState,
  DeliveryContext,
  FanOutResult,
  MessageBuildOptions,
  MessageHandler,
  PublishOptions,
  RequestOptions,
  SubscribeOptions,
  Subscription,
} from './bus.js';
import { AttemptCounter, decideDelivery, decideFailure } from './delivery.js';
import { BusClosedError, BusUnavailableError, InvalidSubscriptionError, PublishRejectedError, WireClosedError, WireRefusedError } from './errors.js';
import { FanOutCollector } from './fan-out.js';
import type { QueueSpec, Wire, WireConsumer, WireDelivery, WireFactory, WirePublishOptions } from './wire.js';

export interface BusClientOptions {
  readonly transport: Bus['transport'];
  readonly wireFactory: WireFactory;
  readonly source: Source;
  readonly logger: BusLogger;
  /** How long a publish may wait for a connection before it fails with BusUnavailableError. */
  readonly publishTimeoutMs: number;
  readonly reconnect: BackoffOptions;
  /** Describes the broker in log lines and errors, without credentials. */
  readonly endpoint: string;
  readonly observer?: BusObserver | undefined;
}

interface SubscriptionRecord {
  readonly spec: QueueSpec;
  readonly prefetch: number;
  readonly maxAttempts: number;
  readonly retryDelayMs: number;
  readonly handler: MessageHandler;
  /** Deliveries handled at once; the rest wait in `waiting`, in arrival order. */
  readonly concurrency: number;
  consumer: WireConsumer | undefined;
  attachedGeneration: number;
  closed: boolean;
  readonly running: Set<Promise<void>>;
  readonly waiting: Array<() => Promise<void>>;
}

interface OutboxEntry {
  readonly seq: number;
  readonly body: Buffer;
  readonly options: WirePublishOptions;
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
  /** It was in flight with others when the broker refused one of them: it may be the refused one. */
  suspect: boolean;
}

const QUEUE_NAME = /^deploybus\.[A-Za-z0-9_.-]{1,200}$/;
/** The form of `replyTo` (protocol envelope): a routing key on the events exchange. */
const REPLY_TO = /^reply\.[A-Za-z0-9_-]{1,128}$/;
const DEFAULT_PREFETCH = 16;
const DEFAULT_RETRY_DELAY_MS = 100;

export class BusClient implements Bus {
  readonly transport: Bus['transport'];
  readonly replyAddress: string;
  private readonly clientId = randomBytes(6).toString('hex');
  private currentState: BusState = 'connecting';
  private wire: Wire | undefined;
  private generation = 0;
  private connecting = false;
  private privateQueueCount = 0;
  private seq = 0;
  private lastError: Error | undefined;
  private wakeReconnect: (() => void) | undefined;
  private readonly subscriptions = new Set<SubscriptionRecord>();
  private readonly outbox: OutboxEntry[] = [];
  /**
   * Entries that may be the one the broker refused. While any is left, held entries go out one at a
   * time (`probe`), so a refusal can only be of the one in flight; then they flow side by side again.
   */
  private suspects = 0;
  private probe: OutboxEntry | undefined;
  private readonly pendingRequests = new Map<string, FanOutCollector>();
  private readonly stateListeners = new Set<(state: BusState) => void>();
  private readonly attempts = new AttemptCounter();
  private replyQueue: Promise<void> | undefined;
  private deadLetterGeneration = 0;

  constructor(private readonly options: BusClientOptions) {
    this.transport = options.transport;
    this.replyAddress = replyRoutingKey(this.clientId);
  }

  get state(): BusState {
    return this.currentState;
  }

  /** Read through a method so TypeScript does not narrow it across awaits. */
  private isClosed(): boolean {
    return this.currentState === 'closed';
  }

  /** Connects, retrying with backoff, until connected or `timeoutMs` passed. */
  async start(timeoutMs: number): Promise<void> {
    void this.connectLoop();
    try {
      await this.whenConnected(timeoutMs);
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  message<T extends MessageType>(type: T, payload: PayloadInputOf<T>, options: MessageBuildOptions = {}): Message<T> {
    const { expectReplies, ...rest } = options;
    return createMessage(type, payload, {
      ...rest,
      source: this.options.source,
      ...(expectReplies === true ? { replyTo: this.replyAddress } : {}),
    });
  }

  publish(message: Message, options: PublishOptions = {}): Promise<void> {
    const routingKey = options.routingKey ?? routingKeyOf(message);
    const expirationMs = message.expiresAt === undefined ? undefined : Math.max(1, Date.parse(message.expiresAt) - Date.now());
    return this.send(encodeMessage(message), {
      exchange: EVENTS_EXCHANGE,
      routingKey,
      messageId: message.id,
      type: message.type,
      correlationId: message.correlationId,
      expirationMs,
      confirm: options.confirm ?? true,
    });
  }

  async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    if (options.patterns.length === 0) throw new InvalidSubscriptionError('subscribe: give at least one routing-key pattern');
    for (const pattern of options.patterns) {
      if (!isValidPattern(pattern)) {
        throw new InvalidSubscriptionError(`subscribe: "${pattern}" is not a routing-key pattern (words of letters, digits, "_", "-", or "*" / "#", joined by ".")`);
      }
    }
    for (const [name, value] of [['prefetch', options.prefetch], ['concurrency', options.concurrency]] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > 65_535)) throw new InvalidSubscriptionError(`subscribe: ${name} must be a whole number from 1 to 65535 (got ${String(value)})`);
    }
    if (options.concurrency !== undefined && options.concurrency > (options.prefetch ?? DEFAULT_PREFETCH)) {
      throw new InvalidSubscriptionError(`subscribe: concurrency ${options.concurrency} is more than prefetch ${options.prefetch ?? DEFAULT_PREFETCH}: the broker never sends that many at once`);
    }
    let spec: QueueSpec;
    if (options.queue !== undefined) {
      if (!QUEUE_NAME.test(options.queue)) {
        throw new InvalidSubscriptionError(`subscribe: queue "${options.queue}" must start with "${QUEUE_PREFIX}" and hold only letters, digits, "_", "-", "."`);
      }
      spec = { name: options.queue, kind: 'shared', patterns: [...options.patterns] };
    } else {
      this.privateQueueCount += 1;
      spec = { name: privateQueueName(this.options.source.service, `${this.clientId}-${this.privateQueueCount}`), kind: 'private', patterns: [...options.patterns] };
    }
    const record = this.addSubscription(spec, handler, options);
    await this.attachIfConnected(record);
    return {
      queue: spec.name,
      unsubscribe: () => this.removeSubscription(record),
    };
  }

  async declareQueue(queue: string, patterns: readonly string[]): Promise<void> {
    if (!QUEUE_NAME.test(queue)) throw new InvalidSubscriptionError(`declareQueue: queue "${queue}" must start with "${QUEUE_PREFIX}"`);
    for (const pattern of patterns) {
      if (!isValidPattern(pattern)) throw new InvalidSubscriptionError(`declareQueue: "${pattern}" is not a routing-key pattern`);
    }
    for (;;) {
      await this.whenConnected(this.options.publishTimeoutMs);
      const wire = this.wire;
      if (!wire) continue;
      try {
        await wire.declareQueue({ name: queue, kind: 'shared', patterns: [...patterns] });
        return;
      } catch (error) {
        if (!(error instanceof WireClosedError)) throw error;
      }
    }
  }

  async request(message: Message, options: RequestOptions): Promise<FanOutResult> {
    if (message.replyTo !== this.replyAddress) {
      throw new InvalidSubscriptionError('request: build the message with bus.message(..., { expectReplies: true }) so replies come back to this client');
    }
    await this.ensureReplyQueue();
    const collector = new FanOutCollector(options.expect, options.responderOf ?? ((reply) => reply.source.host), options.onReply);
    this.pendingRequests.set(message.id, collector);
    try {
      await this.publish(message, options.routingKey === undefined ? {} : { routingKey: options.routingKey });
      return await collector.wait(options.timeoutMs);
    } finally {
      this.pendingRequests.delete(message.id);
    }
  }

  reply(request: Message, reply: Message): Promise<void> {
    if (request.replyTo === undefined) {
      return Promise.reject(new InvalidSubscriptionError(`reply: message ${request.id} (${request.type}) asked for no reply`));
    }
    if (reply.correlationId !== request.id) {
      return Promise.reject(new InvalidSubscriptionError('reply: the reply must carry the request id as its correlationId'));
    }
    return this.publish(reply, { routingKey: request.replyTo });
  }

  onStateChange(listener: (state: BusState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.currentState === 'closed') return;
    this.setState('closed');
    this.wakeReconnect?.();
    for (const entry of this.outbox.splice(0)) {
      if (entry.timer) clearTimeout(entry.timer);
      this.clearSuspicion(entry); // a probe in flight clears its own when it settles
      entry.reject(new BusClosedError());
    }
    for (const collector of this.pendingRequests.values()) collector.finish();
    const wire = this.wire;
    this.wire = undefined;
    if (!wire) return;
    const records = [...this.subscriptions];
    await Promise.allSettled(records.map((r) => r.consumer?.cancel()));
    // Let handlers that are running (and the deliveries waiting for them) finish, so their acknowledgements reach the broker.
    await Promise.race([Promise.allSettled(records.map((r) => settledAll(r.running))), sleep(5_000)]);
    await Promise.allSettled(records.filter((r) => r.spec.kind === 'private' || r.spec.kind === 'reply').map((r) => wire.deleteQueue(r.spec.name)));
    await wire.close().catch(() => undefined);
  }

  // --- connection lifecycle -------------------------------------------------------------------

  private setState(state: BusState): void {
    if (this.currentState === state || this.currentState === 'closed') return;
    this.currentState = state;
    for (const listener of this.stateListeners) listener(state);
  }

  private whenConnected(timeoutMs: number): Promise<void> {
    if (this.currentState === 'connected') return Promise.resolve();
    if (this.currentState === 'closed') return Promise.reject(new BusClosedError());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        const why = this.lastError ? `: ${this.lastError.message}` : '';
        reject(new BusUnavailableError(`no connection to ${this.options.endpoint} within ${timeoutMs} ms${why}`, { cause: this.lastError }));
      }, timeoutMs);
      const off = this.onStateChange((state) => {
        if (state === 'connected') {
          clearTimeout(timer);
          off();
          resolve();
        } else if (state === 'closed') {
          clearTimeout(timer);
          off();
          reject(new BusClosedError());
        }
      });
    });
  }

  private async connectLoop(): Promise<void> {
    if (this.connecting) return;
    this.connecting = true;
    let attempt = 0;
    try {
      while (this.currentState !== 'closed') {
        attempt += 1;
        const wire = this.options.wireFactory();
        try {
          await wire.connect();
          if (this.isClosed()) {
            await wire.close().catch(() => undefined);
            return;
          }
          this.generation += 1;
          const generation = this.generation;
          this.wire = wire;
          wire.onLost((error) => this.handleLost(wire, error));
          await this.restore(wire, generation);
          if (this.wire !== wire) continue;
          this.lastError = undefined;
          this.options.logger.info({ endpoint: this.options.endpoint, generation }, 'bus connected');
          this.setState('connected');
          this.flushOutbox(wire);
          return;
        } catch (error) {
          this.lastError = error instanceof Error ? error : new Error(String(error));
          if (this.wire === wire) this.wire = undefined;
          await wire.close().catch(() => undefined);
          const delay = backoffDelay(attempt, this.options.reconnect);
          this.options.logger.warn({ endpoint: this.options.endpoint, attempt, delayMs: delay, err: this.lastError.message }, 'bus connection failed; retrying');
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delay);
            this.wakeReconnect = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          this.wakeReconnect = undefined;
        }
      }
    } finally {
      this.connecting = false;
    }
  }

  private handleLost(wire: Wire, error: Error): void {
    if (this.wire !== wire || this.currentState === 'closed') return;
    this.wire = undefined;
    this.lastError = error;
    for (const record of this.subscriptions) record.consumer = undefined;
    this.options.logger.warn({ endpoint: this.options.endpoint, err: error.message }, 'bus connection lost; reconnecting');
    this.setState('reconnecting');
    void this.connectLoop();
  }

  /** After (re)connecting: every subscription, before anything held back is sent. */
  private async restore(wire: Wire, generation: number): Promise<void> {
    for (const record of this.subscriptions) {
      if (!record.closed && record.attachedGeneration !== generation) await this.attach(record, wire, generation);
    }
  }

  // --- subscriptions --------------------------------------------------------------------------

  private addSubscription(spec: QueueSpec, handler: MessageHandler, options: Partial<SubscribeOptions>): SubscriptionRecord {
    const record: SubscriptionRecord = {
      spec,
      handler,
      prefetch: options.prefetch ?? DEFAULT_PREFETCH,
      maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      retryDelayMs: options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
      concurrency: options.concurrency ?? 1,
      consumer: undefined,
      attachedGeneration: 0,
      closed: false,
      running: new Set(),
      waiting: [],
    };
    if (this.currentState === 'closed') throw new BusClosedError();
    this.subscriptions.add(record);
    return record;
  }

  private async attachIfConnected(record: SubscriptionRecord): Promise<void> {
    const wire = this.wire;
    if (this.currentState !== 'connected' || !wire) return; // restore() attaches it on (re)connect
    try {
      await this.attach(record, wire, this.generation);
    } catch (error) {
      if (!(error instanceof WireClosedError)) {
        this.subscriptions.delete(record);
        throw error;
      }
    }
  }

  private async attach(record: SubscriptionRecord, wire: Wire, generation: number): Promise<void> {
    record.attachedGeneration = generation;
    // Reply queues never dead-letter; every other queue kind dead-letters into this one.
    if (record.spec.kind !== 'reply') await this.ensureDeadLetterQueue(wire, generation);
    await wire.declareQueue(record.spec);
    record.consumer = await wire.consume(record.spec.name, record.prefetch, (delivery) => {
      const work = (): Promise<void> => this.process(record, generation, delivery);
      if (record.running.size < record.concurrency) this.handOut(record, work);
      else record.waiting.push(work);
    });
  }

  /** Runs one delivery's handling; when it ends, the next waiting delivery of the subscription starts. */
  private handOut(record: SubscriptionRecord, work: () => Promise<void>): void {
    const run: Promise<void> = work()
      .catch((error: unknown) => {
        // process() settles every delivery itself; what reaches here is a fault of the client's own (a
        // dead-letter copy that threw). The delivery stays unacknowledged: the broker hands it out again.
        this.options.logger.error({ queue: record.spec.name, err: error instanceof Error ? error.message : String(error) }, 'delivery handling failed');
      })
      .finally(() => {
        record.running.delete(run);
        const next = record.waiting.shift();
        if (next !== undefined) this.handOut(record, next);
      });
    record.running.add(run);
  }

  private async removeSubscription(record: SubscriptionRecord): Promise<void> {
    if (record.closed) return;
    record.closed = true;
    this.subscriptions.delete(record);
    const consumer = record.consumer;
    record.consumer = undefined;
    await consumer?.cancel().catch(() => undefined);
    if (record.spec.kind === 'private' && this.wire) await this.wire.deleteQueue(record.spec.name).catch(() => undefined);
  }

  private async process(record: SubscriptionRecord, generation: number, delivery: WireDelivery): Promise<void> {
    // A delivery from a connection that is gone cannot be acknowledged; the broker hands it out again.
    if (generation !== this.generation || record.closed || this.currentState === 'closed') return;
    const { logger } = this.options;
    const queue = record.spec.name;
    const report = (outcome: DeliveryReport['outcome'], type: string | undefined, handlerMs?: number): void =>
      this.options.observer?.delivered?.({ outcome, type, queue, redelivered: delivery.redelivered, handlerMs });
    const decision = decideDelivery(delivery.body, new Date());
    if (decision.kind === 'dead-letter') {
      logger.warn({ queue, routingKey: delivery.routingKey, reason: decision.reason }, 'unreadable message dead-lettered');
      await this.deadLetter(delivery, queue, decision.reason);
      report('unreadable', undefined);
      // A work queue's consumer is the message's intended handler: it tells a sender that asked for
      // replies why, instead of leaving it to time out. Private subscribers only watch, and stay quiet.
      if (record.spec.kind === 'shared') await this.answerRejected(delivery.body, queue, decision.reason);
      return;
    }
    const message = decision.message;
    if (decision.kind === 'expired') {
      logger.info({ queue, id: message.id, type: message.type, expiresAt: message.expiresAt }, 'expired message dropped');
      delivery.ack();
      report('expired', message.type);
      return;
    }
    const attempt = delivery.deliveryCount !== undefined ? delivery.deliveryCount + 1 : this.attempts.next(message.id);
    const context: DeliveryContext = { routingKey: delivery.routingKey, queue, attempt, redelivered: delivery.redelivered };
    const started = performance.now();
    try {
      await record.handler(message, context);
      this.attempts.forget(message.id);
      delivery.ack();
      report('handled', message.type, performance.now() - started);
    } catch (error) {
      const handlerMs = performance.now() - started;
      const failure = decideFailure(attempt, record.maxAttempts, record.retryDelayMs, error);
      const err = error instanceof Error ? error.message : String(error);
      report(failure.kind === 'retry' ? 'retried' : 'dead-lettered', message.type, handlerMs);
      if (failure.kind === 'retry') {
        logger.warn({ queue, id: message.id, type: message.type, attempt, err }, 'handler failed; message will be redelivered');
        await sleep(failure.delayMs);
        if (generation === this.generation) delivery.nack(true);
      } else {
        logger.error({ queue, id: message.id, type: message.type, attempt, reason: failure.reason }, 'message dead-lettered after repeated failures');
        this.attempts.forget(message.id);
        await this.deadLetter(delivery, queue, failure.reason);
      }
    }
  }

  /**
   * The queue dead letters land in. Declared by clients that consume (their queues dead-letter into it)
   * before their first subscription on each connection; a client that only publishes never pays for it.
   */
  private async ensureDeadLetterQueue(wire: Wire, generation: number): Promise<void> {
    if (this.deadLetterGeneration === generation) return;
    await wire.declareQueue({ name: DEAD_LETTER_QUEUE, kind: 'dead-letter', patterns: [DEAD_LETTER_ROUTING_KEY], exchange: DEAD_LETTER_EXCHANGE });
    this.deadLetterGeneration = generation;
  }

  /** Sends `message.rejected` to the `replyTo` of an unreadable message, when it has a usable id and replyTo. */
  private async answerRejected(body: Uint8Array, queue: string, reason: string): Promise<void> {
    const decoded = decodeBody(body);
    if (!decoded.ok || typeof decoded.value !== 'object' || decoded.value === null) return;
    const { id, replyTo, type } = decoded.value as Record<string, unknown>;
    if (typeof id !== 'string' || id.length < 8 || id.length > 128 || typeof replyTo !== 'string' || !REPLY_TO.test(replyTo)) return;
    try {
      const rejected = this.message(
        'message.rejected',
        { ...(typeof type === 'string' && type.length <= 64 ? { rejectedType: type } : {}), reason: reason.slice(0, 2048), queue },
        { correlationId: id },
      );
      await this.publish(rejected, { routingKey: replyTo });
    } catch (error) {
      this.options.logger.warn({ queue, err: error instanceof Error ? error.message : String(error) }, 'could not tell the sender why its message was rejected');
    }
  }

  /** Copies the delivery to the dead-letter queue, then acknowledges it; if the copy fails, the original stays. */
  private async deadLetter(delivery: WireDelivery, queue: string, reason: string): Promise<void> {
    const wire = this.wire;
    if (!wire) return;
    try {
      await this.ensureDeadLetterQueue(wire, this.generation);
      await wire.publish(delivery.body, {
        exchange: DEAD_LETTER_EXCHANGE,
        routingKey: DEAD_LETTER_ROUTING_KEY,
        messageId: randomBytes(8).toString('hex'),
        type: 'dead-letter',
        headers: { [DEAD_LETTER_HEADERS.reason]: reason, [DEAD_LETTER_HEADERS.queue]: queue, [DEAD_LETTER_HEADERS.routingKey]: delivery.routingKey },
        confirm: true,
      });
      delivery.ack();
    } catch (error) {
      this.options.logger.error({ queue, err: error instanceof Error ? error.message : String(error) }, 'could not dead-letter a message; it stays queued');
    }
  }

  private ensureReplyQueue(): Promise<void> {
    this.replyQueue ??= (async () => {
      const spec: QueueSpec = { name: replyQueueName(this.clientId), kind: 'reply', patterns: [this.replyAddress] };
      const record = this.addSubscription(spec, (reply) => this.routeReply(reply), { prefetch: 256, maxAttempts: 1 });
      await this.whenConnected(this.options.publishTimeoutMs);
      await this.attachIfConnected(record);
    })();
    return this.replyQueue;
  }

  private routeReply(reply: Message): void {
    const collector = reply.correlationId === undefined ? undefined : this.pendingRequests.get(reply.correlationId);
    if (!collector) {
      this.options.logger.debug({ id: reply.id, correlationId: reply.correlationId }, 'reply to no pending request dropped');
      return;
    }
    collector.add(reply);
  }

  // --- publishing -----------------------------------------------------------------------------

  private send(body: Buffer, options: WirePublishOptions): Promise<void> {
    if (this.currentState === 'closed') return Promise.reject(new BusClosedError());
    return new Promise<void>((resolve, reject) => {
      this.seq += 1;
      const entry: OutboxEntry = { seq: this.seq, body, options, deadline: Date.now() + this.options.publishTimeoutMs, resolve, reject, timer: undefined, suspect: false };
      const wire = this.wire;
      if (this.currentState === 'connected' && wire && this.outbox.length === 0 && this.suspects === 0 && this.probe === undefined) this.transmit(wire, entry);
      else this.hold(entry);
    });
  }

  private transmit(wire: Wire, entry: OutboxEntry): void {
    const alone = this.probe === entry;
    const settled = (): void => {
      this.clearSuspicion(entry);
      if (!alone) return;
      this.probe = undefined;
      const current = this.wire;
      if (this.currentState === 'connected' && current) this.flushOutbox(current);
    };
    wire.publish(entry.body, entry.options).then(() => {
      this.options.observer?.published?.(entry.options.type);
      entry.resolve();
      settled();
    }, (error: unknown) => {
      if (error instanceof WireRefusedError && alone) {
        // Nothing else was in flight: the broker refused this one, and would refuse it again.
        entry.reject(new PublishRejectedError(entry.options.routingKey, `the broker refused ${entry.options.type} to ${entry.options.routingKey}: ${error.reason}`, { cause: error }));
        settled();
        return;
      }
      if (error instanceof WireRefusedError && !entry.suspect) {
        entry.suspect = true;
        this.suspects += 1;
      }
      if (alone) this.probe = undefined;
      if (error instanceof WireClosedError && this.currentState !== 'closed') this.hold(entry);
      else {
        entry.reject(error instanceof Error ? error : new Error(String(error)));
        settled();
      }
    });
  }

  private hold(entry: OutboxEntry): void {
    const remaining = entry.deadline - Date.now();
    const giveUp = (): void => {
      this.clearSuspicion(entry);
      entry.reject(this.unavailable(entry));
    };
    if (remaining <= 0) {
      giveUp();
      return;
    }
    entry.timer = setTimeout(() => {
      const index = this.outbox.indexOf(entry);
      if (index >= 0) {
        this.outbox.splice(index, 1);
        giveUp();
        const wire = this.wire;
        if (this.currentState === 'connected' && wire) this.flushOutbox(wire);
      }
    }, remaining);
    // Keep publish order: an entry that comes back from a lost connection goes before later ones.
    let index = this.outbox.length;
    while (index > 0 && (this.outbox[index - 1]?.seq ?? 0) > entry.seq) index -= 1;
    this.outbox.splice(index, 0, entry);
    const wire = this.wire;
    if (this.currentState === 'connected' && wire) this.flushOutbox(wire);
  }

  /** The entry is settled (or given up): it no longer holds the others back. */
  private clearSuspicion(entry: OutboxEntry): void {
    if (entry.suspect) this.suspects -= 1;
    entry.suspect = false;
  }

  private flushOutbox(wire: Wire): void {
    if (this.probe !== undefined) return; // the next goes when the probe is settled
    if (this.suspects > 0) {
      const entry = this.outbox.shift();
      if (entry === undefined) return;
      if (entry.timer) clearTimeout(entry.timer);
      entry.timer = undefined;
      this.probe = entry;
      this.transmit(wire, entry);
      return;
    }
    for (const entry of this.outbox.splice(0)) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.timer = undefined;
      this.transmit(wire, entry);
    }
  }

  private unavailable(entry: OutboxEntry): BusUnavailableError {
    const why = this.lastError ? ` (last error: ${this.lastError.message})` : '';
    return new BusUnavailableError(
      `could not publish ${entry.options.type} to ${entry.options.routingKey}: no connection to ${this.options.endpoint} within ${this.options.publishTimeoutMs} ms${why}`,
      { cause: this.lastError },
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `running` is empty, including work that starts while it waits. */
async function settledAll(running: ReadonlySet<Promise<void>>): Promise<void> {
  while (running.size > 0) await Promise.allSettled([...running]);
}
