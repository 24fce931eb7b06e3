// The shape every daemon shares: config -> logger -> bus -> start, heartbeats, and a graceful stop
// on SIGTERM/SIGINT. `startDaemon` is the part without process signals, for tests and the
// all-in-one process; `runDaemon` is what a daemon's main.ts calls.
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { connectBus, type Bus } from '@deploybus/bus';
import { configuredHost, loadConfig, type Env } from './config.js';
import { ConfigError } from './errors.js';
import { startHeartbeats, type HeartbeatApps } from './heartbeat.js';
import { startHealthServer, type HealthServer } from './health-server.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type DaemonMetrics } from './metrics.js';
import type { commonConfigShape } from './config.js';

type CommonConfig = z.output<z.ZodObject<typeof commonConfigShape>>;

export interface DaemonContext<C> {
  readonly config: C;
  readonly logger: Logger;
  readonly bus: Bus;
  readonly host: string;
  readonly instance: string;
  readonly env: Env;
  /** Add the daemon's own metrics to `metrics.registry`. */
  readonly metrics: DaemonMetrics;
}

export interface RunningDaemon {
  stop(): Promise<void>;
  /** Undefined when ready to work; else why not (shown by /readyz). Connection to the bus is checked anyway. */
  notReadyReason?(): string | undefined;
  /** For agents: what each app runs, reported in heartbeats. */
  apps?(): HeartbeatApps;
}

export interface DaemonDefinition<S extends z.ZodType<CommonConfig>> {
  readonly service: string;
  readonly version: string;
  readonly configSchema: S;
  start(context: DaemonContext<z.output<S>>): Promise<RunningDaemon>;
}

export interface StartOptions {
  readonly configFile?: string | undefined;
  readonly env: Env;
  /** Lines go here instead of stdout (tests). */
  readonly logDestination?: { write(line: string): void };
}

export interface DaemonHandle {
  readonly context: DaemonContext<unknown>;
  /** The /healthz, /readyz, /metrics server, when `health.port` is set. */
  readonly health: HealthServer | undefined;
  stop(): Promise<void>;
}

export async function startDaemon<S extends z.ZodType<CommonConfig>>(definition: DaemonDefinition<S>, options: StartOptions): Promise<DaemonHandle> {
  const config = loadConfig(definition.configSchema, { file: options.configFile, env: options.env }) as z.output<S> & CommonConfig;
  const host = configuredHost(config);
  const logger = createLogger({ service: definition.service, host, level: config.logLevel, ...(options.logDestination ? { destination: options.logDestination } : {}) });
  const instance = `${host}-${process.pid}-${randomBytes(2).toString('hex')}`;
  const metrics = createMetrics(definition.service);
  const bus = await connectBus(config.bus.url, {
    service: definition.service,
    host,
    logger,
    observer: metrics.observer,
    ...(config.bus.heartbeatMs === undefined ? {} : { heartbeatMs: config.bus.heartbeatMs }),
  });
  metrics.trackBus(bus);
  const context: DaemonContext<z.output<S>> = { config, logger, bus, host, instance, env: options.env, metrics };
  let running: RunningDaemon;
  try {
    running = await definition.start(context);
  } catch (error) {
    await bus.close();
    throw error;
  }
  const stopHeartbeats = startHeartbeats(bus, {
    service: definition.service,
    host,
    instance,
    version: definition.version,
    intervalMs: config.heartbeatIntervalMs,
    logger,
    ...(running.apps ? { apps: () => running.apps?.() ?? [] } : {}),
  });
  let health: HealthServer | undefined;
  if (config.health.port !== undefined) {
    try {
      health = await startHealthServer({
        port: config.health.port,
        host: config.health.host,
        registry: metrics.registry,
        notReadyReason: () => (bus.state === 'connected' ? running.notReadyReason?.() : `bus is ${bus.state}`),
      });
    } catch (error) {
      stopHeartbeats();
      await running.stop();
      await bus.close();
      throw new ConfigError('health.port', `cannot listen on ${config.health.host}:${config.health.port} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, options.configFile, { cause: error });
    }
  }
  logger.info({ bus: bus.transport, healthPort: health?.port }, `${definition.service} started`);
  let stopped: Promise<void> | undefined;
  return {
    context: context as DaemonContext<unknown>,
    health,
    stop: () =>
      (stopped ??= (async () => {
        stopHeartbeats();
        await health?.close();
        await running.stop();
        await bus.close();
        logger.info({}, `${definition.service} stopped`);
      })()),
  };
}

/** Parses `--config PATH` (or DEPLOYBUS_CONFIG), starts, and stops on SIGTERM/SIGINT. Exits non-zero with one sentence on a known failure. */
export async function runDaemon<S extends z.ZodType<CommonConfig>>(definition: DaemonDefinition<S>, argv: readonly string[] = process.argv.slice(2), env: Env = process.env): Promise<void> {
  let handle: DaemonHandle;
  try {
    handle = await startDaemon(definition, { configFile: configFileFrom(argv, env), env });
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${definition.service}: ${text}\n`);
    process.exit(error instanceof ConfigError ? 78 : 1); // 78: EX_CONFIG
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    handle.context.logger.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    handle.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        handle.context.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'unclean stop');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A daemon runs until it is stopped, even when nothing else would keep node running (on the
  // in-memory bus without a health port every timer is unref'd, and node would end it at once).
  setInterval(() => undefined, 1 << 30);
}

export function configFileFrom(argv: readonly string[], env: Env): string | undefined {
  // The only argument is the config file: anything else (a misspelt flag) is refused, not ignored, since
  // a daemon that started without its config would run on defaults that reach nothing.
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    let value: string | undefined;
    if (arg === '--config') {
      value = argv[i + 1];
      i += 1;
      if (value === undefined || value.startsWith('-')) throw new ConfigError('', '--config needs a file path: --config /etc/deploybus/<daemon>.yaml', undefined);
    } else if (arg.startsWith('--config=')) {
      value = arg.slice('--config='.length);
      if (value === '') throw new ConfigError('', '--config needs a file path: --config /etc/deploybus/<daemon>.yaml', undefined);
    } else {
      throw new ConfigError('', `unknown argument ${JSON.stringify(arg.slice(0, 100))}; the only one is --config <file> (or DEPLOYBUS_CONFIG)`, undefined);
    }
    if (file !== undefined) throw new ConfigError('', '--config is given twice; give one config file', undefined);
    file = value;
  }
  if (file !== undefined) return file;
  const fromEnv = env['DEPLOYBUS_CONFIG'];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}
