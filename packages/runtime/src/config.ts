// Daemon config: a file (JSON or YAML) plus environment, validated once at start against a strict
// schema. An unknown key or a bad value stops the daemon with a sentence that names the key. The
// environment is a parameter, so tests need no globals.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { z } from 'zod';
import { hostSchema } from '@deploybus/protocol';
import { ConfigError } from './errors.js';
import { describeSchemaIssue } from './schema-issue.js';
import { Secret } from './secret.js';

export type Env = Readonly<Record<string, string | undefined>>;

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Keys every daemon has. */
export const commonConfigShape = {
  bus: z
    .strictObject({
      url: z.string().min(1).default('memory://default'),
      /** STOMP and AMQP heart-beats on the broker connection (not the daemon's `heartbeat` messages); AMQP rounds to whole seconds. Default 10 s. */
      heartbeatMs: z.number().int().min(1_000).max(3_600_000).optional(),
    })
    .default({ url: 'memory://default' }),
  host: hostSchema.optional(),
  logLevel: logLevel.default('info'),
  heartbeatIntervalMs: z.number().int().min(100).max(3_600_000).default(10_000),
  /** /healthz, /readyz and /metrics; off unless a port is given (0 picks a free one). */
  health: z
    .strictObject({ port: z.number().int().min(0).max(65_535).optional(), host: z.string().min(1).default('127.0.0.1') })
    .default({ host: '127.0.0.1' }),
};

/** A daemon's config schema: the common keys plus its own, strict (unknown keys are errors). */
export function daemonConfigSchema<T extends z.ZodRawShape>(own: T) {
  return z.strictObject({ ...commonConfigShape, ...own });
}

export interface LoadConfigOptions {
  /** Path of the config file; without one, only the environment and defaults apply. */
  readonly file?: string | undefined;
  readonly env: Env;
}

/** Environment variables that override file keys. */
const ENV_OVERRIDES: ReadonlyArray<readonly [string, readonly string[], 'number'?]> = [
  ['DEPLOYBUS_BUS_URL', ['bus', 'url']],
  ['DEPLOYBUS_HEALTH_PORT', ['health', 'port'], 'number'],
  ['DEPLOYBUS_HOST', ['host']],
  ['DEPLOYBUS_LOG_LEVEL', ['logLevel']],
];

// The YAML parser is loaded only for a YAML file (synchronously: loading config is synchronous), so a
// daemon started from JSON does not carry it.
const requireCjs = createRequire(import.meta.url);
const parseYaml = (text: string): unknown => (requireCjs('yaml') as typeof import('yaml')).parse(text);

export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError('', `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`, file, { cause: error });
  }
  try {
    const value: unknown = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
    return value ?? {};
  } catch (error) {
    throw new ConfigError('', `is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(error as Error).message.split('\n')[0] ?? ''}`, file, { cause: error });
  }
}

/** Loads, overrides from the environment, validates, resolves secrets, and freezes. */
export function loadConfig<S extends z.ZodType>(schema: S, options: LoadConfigOptions): Readonly<z.output<S>> {
  const raw = options.file === undefined ? {} : readConfigFile(options.file);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('', 'must hold an object of settings', options.file);
  const merged = structuredClone(raw) as Record<string, unknown>;
  for (const [variable, path, kind] of ENV_OVERRIDES) {
    const value = options.env[variable];
    if (value === undefined || value === '') continue;
    if (kind === 'number' && !/^\d+$/.test(value)) throw new ConfigError(path.join('.'), `${variable}="${value}" is not a whole number`, options.file);
    setPath(merged, path, kind === 'number' ? Number(value) : value);
  }
  const result = schema.safeParse(merged);
  if (!result.success) {
    const { field, problem } = describeSchemaIssue(result.error, merged);
    throw new ConfigError(field, problem, options.file, { cause: result.error });
  }
  const value = result.data as z.output<S>;
  resolveSecrets(value, '', options.env, options.file);
  return deepFreeze(value);
}

/** The host name a daemon reports: config, else the machine's. */
export function configuredHost(config: { readonly host?: string | undefined }): string {
  return config.host ?? hostname();
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
}



function resolveSecrets(value: unknown, path: string, env: Env, file: string | undefined): void {
  if (value instanceof Secret) {
    const problem = value.resolve(env);
    if (problem !== undefined) throw new ConfigError(path, problem, file);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => resolveSecrets(item, `${path}[${i}]`, env, file));
    return;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) resolveSecrets(item, path ? `${path}.${key}` : key, env, file);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !(value instanceof Secret) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
