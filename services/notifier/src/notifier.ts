// The notifier daemon: HTTP callback subscriptions (managed over the bus) and the configured notifiers
// (Slack, GitHub, Jenkins), all fed from the conductor's event log by one DeliveryScheduler.
import type { Bus, Subscription } from '@deploybus/bus';
import { isMessageOfType, workQueueName, type Message } from '@deploybus/protocol';
import { ConfigError, daemonConfigSchema, type DaemonDefinition, type Logger } from '@deploybus/runtime';
import { openSubscriptionStore, type SubscriptionStore } from '@deploybus/store';
import { z } from 'zod';
import { DeliveryScheduler, type DestinationStatus } from './delivery-scheduler.js';
import { DestinationPolicy } from './destination-policy.js';
import type { Destination } from './destination.js';
import { BusEventLog } from './event-log.js';
import { policyHttpSender } from './http-sender.js';
import { notifierMetrics, type NotifierMetrics } from './notifier-metrics.js';
import { notifierDestinations, notifiersConfigShape } from './notifiers.js';
import { answerSubscriptionRequest, viewOf } from './subscription-requests.js';
import { webhookDestination } from './webhook-destination.js';

export const NOTIFIER_VERSION = '0.1.0';
/** Inside the directory the notifier's systemd unit may write (StateDirectory=deploybus/notifier). */
export const DEFAULT_STORE_URL = 'sqlite:/var/lib/deploybus/notifier/notifier.db';
/** The shared queue subscription requests travel on (any notifier may answer; they share the store). */
export const NOTIFIER_QUEUE = workQueueName('notifier');
/** What wakes deliveries up: everything the conductor records in its event log. */
export const WAKE_PATTERNS = ['deploy.#', 'task.started.#', 'task.completed.#', 'conductor.lock.state.#'] as const;

const port = z.number().int().min(1).max(65_535);

export const notifierConfigSchema = daemonConfigSchema({
  store: z.strictObject({ url: z.string().min(1).default(DEFAULT_STORE_URL) }).default({ url: DEFAULT_STORE_URL }),
  /** Where subscriptions may send callbacks (config-defined notifiers are trusted and not checked). */
  destinations: z
    .strictObject({
      hosts: z.array(z.string().regex(/^(\*|(\*\.)?[A-Za-z0-9.-]+|[0-9a-fA-F:]+)$/, 'must be a host name, "*.domain" or "*"')).default([]),
      cidrs: z.array(z.string().min(3).max(64)).default([]),
      ports: z.union([z.literal('any'), z.array(port).min(1)]).default([80, 443]),
      schemes: z.array(z.enum(['http', 'https'])).min(1).default(['https']),
    })
    .default({ hosts: [], cidrs: [], ports: [80, 443], schemes: ['https'] }),
  delivery: z
    .strictObject({
      maxConcurrent: z.number().int().min(1).max(1000).default(16),
      timeoutMs: z.number().int().min(100).max(300_000).default(10_000),
      attempts: z.number().int().min(1).max(100).default(6),
      backoffMs: z.number().int().min(1).max(3_600_000).default(1_000),
      maxBackoffMs: z.number().int().min(1).max(86_400_000).default(60_000),
      probeMs: z.number().int().min(10).max(86_400_000).default(60_000),
      pollMs: z.number().int().min(10).max(3_600_000).default(5_000),
      pageSize: z.number().int().min(1).max(1000).default(100),
      /** Several notifiers may share a store: the one holding this lease delivers; another takes over this long after it stops renewing. */
      leaseTtlMs: z.number().int().min(100).max(3_600_000).default(15_000),
    })
    .default({ maxConcurrent: 16, timeoutMs: 10_000, attempts: 6, backoffMs: 1_000, maxBackoffMs: 60_000, probeMs: 60_000, pollMs: 5_000, pageSize: 100, leaseTtlMs: 15_000 }),
  /** How long to wait for a conductor to answer an event-log query. */
  eventLog: z.strictObject({ timeoutMs: z.number().int().min(50).max(600_000).default(5_000) }).default({ timeoutMs: 5_000 }),
  ...notifiersConfigShape,
});

export type NotifierConfig = z.output<typeof notifierConfigSchema>;

export const notifierDaemon: DaemonDefinition<typeof notifierConfigSchema> = {
  service: 'notifier',
  version: NOTIFIER_VERSION,
  configSchema: notifierConfigSchema,
  async start({ config, bus, logger, instance, metrics }) {
    let policy: DestinationPolicy;
    try {
      policy = new DestinationPolicy(config.destinations);
    } catch (error) {
      throw new ConfigError('destinations.cidrs', (error as Error).message, undefined, { cause: error });
    }
    const store = await openSubscriptionStore(config.store.url);
    try {
      const applied = await store.migrate();
      if (applied.length > 0) logger.info({ migrations: applied }, 'notifier store migrated');
      let service: NotifierService;
      try {
        const made: { service?: NotifierService } = {};
        // Metrics only when they are served (health.port): prom-client is not loaded otherwise.
        const counters = config.health.port === undefined ? undefined : await notifierMetrics(metrics, () => made.service?.scheduler);
        service = new NotifierService({ bus, logger, store, policy, config, instance, ...(counters === undefined ? {} : { metrics: counters }) });
        made.service = service;
      } catch (error) {
        if (error instanceof RangeError) throw new ConfigError('slack/github/jenkins', error.message, undefined, { cause: error });
        throw error;
      }
      await service.start();
      logger.info({ destinations: service.destinationCount }, 'notifier ready');
      return {
        async stop() {
          await service.stop();
          await store.close();
        },
      };
    } catch (error) {
      await store.close();
      throw error;
    }
  },
};

export interface NotifierServiceOptions {
  readonly bus: Bus;
  readonly logger: Logger;
  readonly store: SubscriptionStore;
  readonly policy: DestinationPolicy;
  readonly config: NotifierConfig;
  /** Unique per running notifier: owns the delivery lease. */
  readonly instance: string;
  readonly metrics?: NotifierMetrics;
}

/** The store's lease whose holder delivers. */
export const DELIVERY_LEASE = 'notifier/deliver';

/** The running notifier: scheduler, its destinations, and the bus subscriptions that feed it. */
export class NotifierService {
  readonly scheduler: DeliveryScheduler;
  readonly #o: NotifierServiceOptions;
  readonly #subscriptions: Subscription[] = [];
  readonly #configured: Destination[];
  #recheck: NodeJS.Timeout | undefined;
  #leaseTimer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;

  constructor(options: NotifierServiceOptions) {
    this.#o = options;
    const log = new BusEventLog(options.bus, options.config.eventLog.timeoutMs);
    this.scheduler = new DeliveryScheduler({
      store: options.store,
      log,
      logger: options.logger,
      options: options.config.delivery,
      onStateChange: (id, status) => void this.#announce(id, status),
      ...(options.metrics === undefined ? {} : { onAttempt: (id: string, outcome: 'delivered' | 'failed') => options.metrics?.attempt(id, outcome) }),
    });
    this.#configured = notifierDestinations(options.config, { log, sender: policyHttpSender(DestinationPolicy.operatorTrusted()), timeoutMs: options.config.delivery.timeoutMs });
  }

  get destinationCount(): number {
    return this.#configured.length;
  }

  async start(): Promise<void> {
    const { bus, store, config } = this.#o;
    await this.scheduler.setActive(await store.tryAcquireLease(DELIVERY_LEASE, this.#o.instance, config.delivery.leaseTtlMs, new Date()));
    await this.#syncSubscriptions();
    await this.#addConfigured();
    this.scheduler.start();
    this.#leaseTimer = setInterval(() => void this.#tick(), Math.max(50, Math.min(config.delivery.pollMs, Math.floor(config.delivery.leaseTtlMs / 3))));
    this.#leaseTimer.unref();
    this.#subscriptions.push(
      await bus.subscribe({ patterns: WAKE_PATTERNS }, () => {
        this.scheduler.wake();
        // The conductor publishes, then records: look again shortly in case the log was a moment behind.
        clearTimeout(this.#recheck);
        this.#recheck = setTimeout(() => this.scheduler.wake(), 200);
        this.#recheck.unref();
      }),
    );
    this.#subscriptions.push(await bus.subscribe({ queue: NOTIFIER_QUEUE, patterns: ['notifier.subscription.requested.*'] }, (m) => this.#onRequest(m)));
  }

  async stop(): Promise<void> {
    clearTimeout(this.#recheck);
    clearInterval(this.#leaseTimer);
    for (const s of this.#subscriptions.splice(0).reverse()) await s.unsubscribe().catch(() => undefined);
    await this.#ticking;
    await this.scheduler.stop();
    await this.#o.store.releaseLease(DELIVERY_LEASE, this.#o.instance).catch(() => undefined);
  }

  /** Keeps (or takes over) the delivery lease, and follows subscriptions another notifier made, deleted or enabled. */
  async #tick(): Promise<void> {
    if (this.#ticking !== undefined) return;
    this.#ticking = (async () => {
      try {
        const { store, config } = this.#o;
        const held = await store.tryAcquireLease(DELIVERY_LEASE, this.#o.instance, config.delivery.leaseTtlMs, new Date());
        if (held !== this.scheduler.active) this.#o.logger.info({ delivering: held }, held ? 'delivery lease taken: this notifier delivers' : 'delivery lease held by another notifier: standing by');
        await this.#syncSubscriptions();
        await this.#addConfigured();
        await this.scheduler.setActive(held);
        // Keeps the scheduler's idea of the log's end fresh, so destinations that match rarely move on.
        if (held) await this.scheduler.head().catch(() => undefined);
      } catch (error) {
        this.#o.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'notifier store not reachable; trying again');
      } finally {
        this.#ticking = undefined;
      }
    })();
    await this.#ticking;
  }

  /**
   * Adds the configured notifiers not added yet. One that appears for the first time starts at the end
   * of the event log, which takes a conductor's answer: without one it is tried again next tick, so a
   * conductor that is down never keeps the notifier from starting.
   */
  async #addConfigured(): Promise<void> {
    const known = new Set(this.scheduler.ids());
    for (const destination of this.#configured) {
      if (known.has(destination.id)) continue;
      try {
        await this.scheduler.add(destination);
      } catch (error) {
        this.#o.logger.warn({ destination: destination.id, err: error instanceof Error ? error.message : String(error) }, 'notifier not started yet (no position, and the event log is not readable); trying again');
      }
    }
  }

  async #syncSubscriptions(): Promise<void> {
    const { store } = this.#o;
    const sender = policyHttpSender(this.#o.policy);
    const stored = await store.subscriptions();
    const known = new Set(this.scheduler.ids());
    const current = new Set(stored.map((s) => s.id));
    for (const s of stored) if (!known.has(s.id)) await this.scheduler.add(webhookDestination(s, sender, { timeoutMs: this.#o.config.delivery.timeoutMs }));
    for (const id of known) if (id.startsWith('sub-') && !current.has(id)) this.scheduler.remove(id);
    // An enable handled by another notifier shows as an active position in the store: try now.
    for (const position of await store.positions()) {
      if (position.state === 'active' && this.scheduler.status(position.destination)?.state === 'failing') this.scheduler.enable(position.destination);
    }
  }

  async #onRequest(message: Message): Promise<void> {
    const { bus, logger, store } = this.#o;
    if (!isMessageOfType(message, 'subscription.requested')) {
      logger.warn({ id: message.id, type: message.type }, 'not a subscription.requested on the notifier queue; ignored');
      return;
    }
    const sender = policyHttpSender(this.#o.policy);
    const answer = await answerSubscriptionRequest(
      { store, scheduler: this.scheduler, policy: this.#o.policy, destinationOf: (s) => webhookDestination(s, sender, { timeoutMs: this.#o.config.delivery.timeoutMs }) },
      message.payload,
    );
    logger.info({ action: message.payload.action, by: message.payload.by, outcome: answer.outcome, id: answer.subscription?.id, field: answer.field }, 'subscription request answered');
    if (message.replyTo === undefined) return;
    await bus.reply(message, bus.message('subscription.state', answer, { correlationId: message.id }));
  }

  /** Tells everyone a subscription started failing or recovered (operators, the UI). */
  async #announce(id: string, status: DestinationStatus): Promise<void> {
    const { bus, logger, store } = this.#o;
    try {
      const subscription = await store.subscription(id);
      if (subscription === undefined) return; // a configured notifier: its state is in the logs and metrics
      await bus.publish(bus.message('subscription.state', { outcome: status.state === 'failing' ? 'failing' : 'recovered', subscription: viewOf(subscription, status) }));
    } catch (error) {
      logger.warn({ destination: id, err: error instanceof Error ? error.message : String(error) }, 'subscription state not announced');
    }
  }
}
