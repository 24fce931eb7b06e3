// Turns a generated JSON Schema into the field tables of docs/protocol.md, so the tables say exactly
// what the published schema says.
import type { JsonSchema } from './json-schema.js';
import { HOST_PATTERN, NAME_PATTERN } from './names.js';
import { FULL_SHA_PATTERN, REF_PATTERN } from './ref-name.js';

export interface FieldRow {
  /** Dotted path; `[]` marks the items of an array, e.g. `commits[].sha`. */
  readonly name: string;
  readonly type: string;
  readonly required: boolean;
  readonly description: string;
  readonly constraints: string;
  readonly defaultValue: string;
}

/** One table per payload shape: one for a plain object, one per alternative of a union. */
export interface FieldTable {
  /** Which alternative, e.g. `action = "deploy"`; '' for a plain object. */
  readonly variant: string;
  readonly rows: readonly FieldRow[];
}

const KNOWN_PATTERNS = new Map<string, string>([
  [NAME_PATTERN.source, 'a [name](#names)'],
  [HOST_PATTERN.source, 'a [host name](#names)'],
  [REF_PATTERN.source, 'a [ref](#refs)'],
  [FULL_SHA_PATTERN.source, 'full commit id: 40 or 64 lower-case hex digits'],
]);

const SAFE_INTEGER = 9007199254740991;

export function fieldTables(schema: JsonSchema): FieldTable[] {
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives !== undefined && schema.properties === undefined) {
    return alternatives.map((alternative) => ({ variant: variantName(asSchema(alternative)), rows: fieldRows(asSchema(alternative)) }));
  }
  return [{ variant: '', rows: fieldRows(schema) }];
}

export function fieldRows(schema: JsonSchema, prefix = ''): FieldRow[] {
  const required = new Set(schema.required ?? []);
  const rows: FieldRow[] = [];
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const field = asSchema(child);
    rows.push({
      name: `${prefix}${name}`,
      type: typeName(field),
      required: required.has(name),
      description: field.description ?? '',
      constraints: constraints(field),
      defaultValue: field.default === undefined ? '' : JSON.stringify(field.default),
    });
    if (field.properties !== undefined) rows.push(...fieldRows(field, `${prefix}${name}.`));
    const items = field.items === undefined || Array.isArray(field.items) ? undefined : asSchema(field.items);
    if (items?.properties !== undefined) rows.push(...fieldRows(items, `${prefix}${name}[].`));
  }
  return rows;
}

export function typeName(schema: JsonSchema): string {
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum !== undefined) return `one of ${schema.enum.map((value) => JSON.stringify(value)).join(', ')}`;
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives !== undefined) return [...new Set(alternatives.map((a) => typeName(asSchema(a))))].join(' or ');
  switch (schema.type) {
    case 'array': {
      const items = schema.items === undefined || Array.isArray(schema.items) ? {} : asSchema(schema.items);
      return `array of ${typeName(items)}`;
    }
    case 'object':
      if (schema.properties === undefined && schema.additionalProperties !== undefined && schema.additionalProperties !== false) {
        const values = schema.additionalProperties === true ? {} : asSchema(schema.additionalProperties);
        return `object (map of string to ${typeName(values)})`;
      }
      return 'object';
    case 'string':
      if (schema.format === 'date-time') return 'string (time)';
      if (schema.format === 'uri') return 'string (URL)';
      return 'string';
    case undefined:
      return 'any JSON value';
    default:
      return String(schema.type);
  }
}

export function constraints(schema: JsonSchema): string {
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives !== undefined) {
    return alternatives.map((a) => constraints(asSchema(a))).filter((text) => text !== '').join('; or ');
  }
  const parts: string[] = [];
  if (schema.format === 'date-time') parts.push('ISO 8601 with a UTC offset, e.g. `2026-11-22T10:00:00.000Z`');
  else if (schema.pattern !== undefined) parts.push(KNOWN_PATTERNS.get(schema.pattern) ?? `matches \`${schema.pattern}\``);
  const patternSaysLength = schema.pattern !== undefined && KNOWN_PATTERNS.has(schema.pattern);
  if (!patternSaysLength) parts.push(...lengthLimits(schema.minLength, schema.maxLength, 'characters'));
  if (schema.exclusiveMinimum !== undefined) parts.push(`> ${String(schema.exclusiveMinimum)}`);
  if (schema.minimum !== undefined && schema.minimum !== -SAFE_INTEGER) parts.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined && schema.maximum !== SAFE_INTEGER) parts.push(`≤ ${schema.maximum}`);
  parts.push(...lengthLimits(schema.minItems, schema.maxItems, 'items'));
  const keys = schema.propertyNames === undefined ? undefined : asSchema(schema.propertyNames).pattern;
  if (keys !== undefined) parts.push(`keys match \`${keys}\``);
  return parts.join(', ');
}

function lengthLimits(min: number | undefined, max: number | undefined, unit: string): string[] {
  if (min !== undefined && min > 0 && max !== undefined) return [`${min} to ${max} ${unit}`];
  if (max !== undefined) return [`at most ${max} ${unit}`];
  if (min !== undefined && min > 0) return [`at least ${min} ${unit}`];
  return [];
}

function variantName(schema: JsonSchema): string {
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const constant = asSchema(child).const;
    if (constant !== undefined) return `${name} = ${JSON.stringify(constant)}`;
  }
  return '';
}

// JSON Schema allows `true`/`false` as schemas; zod never emits them where we look, so treat them as `{}`.
function asSchema(value: JsonSchema | boolean): JsonSchema {
  return typeof value === 'boolean' ? {} : value;
}
