// Chooses a transport from a bus URL (DEPLOYBUS_BUS_URL) and returns a connected Bus.
import { hostname } from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import { pino } from 'pino';
import { hostSchema, nameSchema, type Source } from '@deploybus/protocol';
import type { BackoffOptions } from './backoff.js';
import type { Bus, BusLogger, BusObserver } from './bus.js';
import { BusClient } from './bus-client.js';
import { InvalidBusUrlError } from './errors.js';
import { memoryBroker } from './transports/memory-broker.js';
import { MemoryWire } from './transports/memory-wire.js';
import type { WireFactory } from './wire.js';

export const DEFAULT_BUS_URL = 'memory://default';

export interface ConnectOptions {
  /** The daemon's name, e.g. "git-watcher": the `source.service` of what it sends. */
  readonly service: string;
  /** Defaults to the machine's host name. */
  readonly host?: string;
  readonly logger?: BusLogger;
  /** How long a publish waits for a connection before failing (default 30 s). */
  readonly publishTimeoutMs?: number;
  /** How long connectBus waits for the first connection (default 30 s). */
  readonly connectTimeoutMs?: number;
  readonly reconnect?: Partial<BackoffOptions>;
  /** Heartbeat interval on STOMP and AMQP, in ms (default 10 s): a dead peer is noticed within about two. */
  readonly heartbeatMs?: number;
  /** CA, client certificate and so on for stomp+ssl:// and amqps://. */
  readonly tls?: ConnectionOptions;
  /** Metrics hooks. */
  readonly observer?: BusObserver;
}

export interface ParsedBusUrl {
  readonly transport: Bus['transport'];
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly vhost: string;
  readonly name: string;
  /** The URL without its password, for logs and errors. */
  readonly redacted: string;
}

export function parseBusUrl(raw: string): ParsedBusUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidBusUrlError(`DEPLOYBUS_BUS_URL: "${redact(raw)}" is not a URL; use stomp://user:pass@host:61613, amqp://user:pass@host:5672 or memory://`);
  }
  const scheme = url.protocol.replace(/:$/, '');
  const redacted = redact(raw);
  const user = decodeURIComponent(url.username) || 'guest';
  const password = decodeURIComponent(url.password) || 'guest';
  // RabbitMQ's convention: the path is the vhost, "/" when empty, percent-encoded ("%2F" is "/").
  const path = url.pathname.replace(/^\//, '');
  const vhost = path === '' ? '/' : decodeURIComponent(path);
  switch (scheme) {
    case 'memory':
      return { transport: 'memory', tls: false, host: '', port: 0, username: '', password: '', vhost: '', name: url.hostname || path || 'default', redacted };
    case 'stomp':
    case 'stomp+ssl':
      return { transport: 'stomp', tls: scheme === 'stomp+ssl', host: url.hostname || '127.0.0.1', port: Number(url.port) || (scheme === 'stomp' ? 61613 : 61614), username: user, password, vhost, name: '', redacted };
    case 'amqp':
    case 'amqps':
      return { transport: 'amqp', tls: scheme === 'amqps', host: url.hostname || '127.0.0.1', port: Number(url.port) || (scheme === 'amqp' ? 5672 : 5671), username: user, password, vhost, name: '', redacted };
    default:
      throw new InvalidBusUrlError(`DEPLOYBUS_BUS_URL: unknown scheme "${scheme}:" in "${redacted}"; use stomp://, stomp+ssl://, amqp://, amqps:// or memory://`);
  }
}

function redact(raw: string): string {
  return raw.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

/** The bus URL from an environment (a parameter, so tests need no globals). */
export function busUrlFromEnv(env: Readonly<Record<string, string | undefined>>): string {
  const value = env['DEPLOYBUS_BUS_URL']?.trim();
  return value === undefined || value === '' ? DEFAULT_BUS_URL : value;
}

/** Connects to the bus at `url`, waiting (with retries) up to `connectTimeoutMs` for the first connection. */
export async function connectBus(url: string, options: ConnectOptions): Promise<Bus> {
  const parsed = parseBusUrl(url);
  const source = validateSource({ service: options.service, host: options.host ?? hostname() });
  const heartbeatMs = options.heartbeatMs ?? 10_000;
  const connectionName = `${source.service}@${source.host}`;
  let wireFactory: WireFactory;
  switch (parsed.transport) {
    case 'memory': {
      const broker = memoryBroker(parsed.name);
      wireFactory = () => new MemoryWire(broker);
      break;
    }
    case 'stomp': {
      // Each transport's client library loads only when that transport is used.
      const { StompWire } = await import('./transports/stomp-wire.js');
      wireFactory = () =>
        new StompWire({
          host: parsed.host,
          port: parsed.port,
          login: parsed.username,
          passcode: parsed.password,
          vhost: parsed.vhost,
          heartbeatMs,
          connectTimeoutMs: 10_000,
          ...(parsed.tls ? { tls: options.tls ?? {} } : {}),
        });
      break;
    }
    case 'amqp': {
      const { AmqpWire } = await import('./transports/amqp-wire.js');
      const amqpUrl = new URL(url);
      wireFactory = () =>
        new AmqpWire({
          url: amqpUrl.toString(),
          heartbeatSeconds: Math.max(1, Math.round(heartbeatMs / 1000)),
          connectTimeoutMs: 10_000,
          connectionName,
          ...(parsed.tls && options.tls ? { tls: options.tls } : {}),
        });
      break;
    }
  }
  const client = new BusClient({
    transport: parsed.transport,
    wireFactory,
    source,
    logger: options.logger ?? pino({ name: source.service, level: 'warn' }),
    publishTimeoutMs: options.publishTimeoutMs ?? 30_000,
    reconnect: { initialMs: options.reconnect?.initialMs ?? 250, maxMs: options.reconnect?.maxMs ?? 15_000 },
    endpoint: parsed.redacted,
    observer: options.observer,
  });
  await client.start(options.connectTimeoutMs ?? 30_000);
  return client;
}

function validateSource(source: Source): Source {
  const service = nameSchema.safeParse(source.service);
  if (!service.success) throw new InvalidBusUrlError(`service name "${source.service}" is not valid: ${service.error.issues[0]?.message ?? ''}`);
  const host = hostSchema.safeParse(source.host);
  if (!host.success) throw new InvalidBusUrlError(`host name "${source.host}" is not valid: ${host.error.issues[0]?.message ?? ''}`);
  // Frozen: createMessage then checks it once, not on every message this bus builds.
  return Object.freeze({ service: service.data, host: host.data });
}
