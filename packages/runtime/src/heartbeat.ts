// Every daemon says it is alive on an interval; keepalive builds the roster from these.
import type { Bus, BusLogger } from '@deploybus/bus';
import type { PayloadInputOf } from '@deploybus/protocol';

export type HeartbeatApps = NonNullable<PayloadInputOf<'heartbeat'>['apps']>;

export interface HeartbeatOptions {
  readonly service: string;
  readonly host: string;
  readonly instance: string;
  readonly version: string;
  readonly intervalMs: number;
  readonly logger: BusLogger;
  /** Agents report what each app runs. */
  readonly apps?: () => HeartbeatApps;
}

/** Sends one heartbeat now and then every interval; returns a function that stops them. */
export function startHeartbeats(bus: Bus, options: HeartbeatOptions): () => void {
  const started = Date.now();
  const beat = (): void => {
    const apps = options.apps?.();
    const message = bus.message(
      'heartbeat',
      {
        service: options.service,
        host: options.host,
        instance: options.instance,
        version: options.version,
        uptimeMs: Date.now() - started,
        intervalMs: options.intervalMs,
        ...(apps === undefined ? {} : { apps }),
      },
      // A heartbeat older than a few intervals says nothing true any more.
      { ttlMs: options.intervalMs * 3 },
    );
    bus.publish(message, { confirm: false }).catch((error: unknown) => {
      options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'heartbeat not sent');
    });
  };
  beat();
  const timer = setInterval(beat, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
