// Parsers for command-line values, for commander: each throws InvalidArgumentError with a sentence
// naming what is wrong, so bad usage ends before anything is sent (exit 64).
import { InvalidArgumentError } from 'commander';
import { HOST_GLOB_PATTERN, HOST_GLOB_RULE, hostSchema, nameSchema, refSchema } from '@deploybus/protocol';

export function parseName(value: string): string {
  const check = nameSchema.safeParse(value);
  if (!check.success) throw new InvalidArgumentError(check.error.issues[0]?.message ?? 'is not a valid name');
  return value;
}

export function parseRef(value: string): string {
  const check = refSchema.safeParse(value);
  if (!check.success) throw new InvalidArgumentError(check.error.issues[0]?.message ?? 'is not a valid ref');
  return value;
}

export function parseHost(value: string): string {
  const check = hostSchema.safeParse(value);
  if (!check.success) throw new InvalidArgumentError(check.error.issues[0]?.message ?? 'is not a valid host name');
  return value;
}

/** "web1,web2" (repeatable): host names, checked one by one. */
export function parseHostList(value: string, previous: string[] = []): string[] {
  const hosts = splitList(value);
  for (const host of hosts) {
    const check = hostSchema.safeParse(host);
    if (!check.success) throw new InvalidArgumentError(`${JSON.stringify(host.slice(0, 80))} ${check.error.issues[0]?.message ?? 'is not a valid host name'}`);
  }
  return [...previous, ...hosts];
}

/** "web*" or "web*,db?" (repeatable): host name globs, passed to the conductor as they are. */
export function parsePatternList(value: string, previous: string[] = []): string[] {
  const patterns = splitList(value);
  for (const pattern of patterns) {
    if (!HOST_GLOB_PATTERN.test(pattern)) throw new InvalidArgumentError(`${JSON.stringify(pattern.slice(0, 80))} is not a host pattern: ${HOST_GLOB_RULE}`);
  }
  return [...previous, ...patterns];
}

/** "deploy.*" or "deploy.*,task.log" (repeatable): event types, exact or a prefix with a star. */
export function parseTypeList(value: string, previous: string[] = []): string[] {
  const types = splitList(value);
  for (const type of types) {
    if (!/^(\*|[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*(\.\*)?)$/.test(type)) throw new InvalidArgumentError(`${JSON.stringify(type.slice(0, 80))} is not an event type or a prefix like "deploy.*"`);
  }
  return [...previous, ...types];
}

/** "4" (hosts per batch) or "25%" (of the targets). */
export function parseBatch(value: string): number | string {
  if (/^\d{1,6}$/.test(value)) {
    const n = Number(value);
    if (n >= 1) return n;
  }
  const percent = /^(\d{1,3})%$/.exec(value);
  if (percent && Number(percent[1]) >= 1 && Number(percent[1]) <= 100) return value;
  throw new InvalidArgumentError('must be a number of hosts (1 or more) or a percentage from 1% to 100%');
}

export function parsePositiveInt(value: string): number {
  return parseIntIn(value, 1, 1_000_000);
}

export function parseNonNegativeInt(value: string): number {
  return parseIntIn(value, 0, Number.MAX_SAFE_INTEGER);
}

/** Hosts deployed first, alone (the protocol allows 0 to 1000). */
export function parseCanary(value: string): number {
  return parseIntIn(value, 0, 1_000);
}

/** A TCP port; 0 lets the system pick a free one. */
export function parsePort(value: string): number {
  return parseIntIn(value, 0, 65_535);
}

export function parseLimit(value: string): number {
  return parseIntIn(value, 1, 1_000);
}

function parseIntIn(value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
  return n;
}

function splitList(value: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new InvalidArgumentError('must be a comma-separated list without empty items');
  return items;
}
