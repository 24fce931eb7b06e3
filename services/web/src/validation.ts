// Request bodies and query strings are checked with zod before anything is sent on the bus; the first
// problem becomes a 400 whose `field` names it (unknown fields included, so a typo is not silently ignored).
import type { Request } from 'express';
import { describeSchemaIssue } from '@deploybus/runtime';
import { z } from 'zod';
import { ApiError, InvalidFieldError } from './errors.js';

export function parseWith<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const { field, problem } = describeSchemaIssue(result.error, input, 'field');
  throw new InvalidFieldError(field, problem);
}

/** The JSON body as an object (an absent body is `{}`, so required fields are reported by name). */
export function bodyOf(req: Request): unknown {
  const body: unknown = req.body;
  // A body no parser took (text/plain, a missing Content-Type) would otherwise read as "app: is required".
  // A chunked body has no Content-Length: Transfer-Encoding says there is one.
  const sent = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (body === undefined && sent) {
    throw new ApiError(415, 'unsupported_media_type', `send the body as JSON with Content-Type: application/json (got ${req.headers['content-type'] ?? 'no Content-Type'})`);
  }
  if (body === undefined || body === null || (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0)) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new InvalidFieldError('', 'the body must be a JSON object');
  return body;
}

/**
 * The query string checked with a schema. Values arrive as strings (arrays when repeated, which a
 * single-valued parameter refuses); the field of an error is the parameter's name, since a client
 * cannot address an item inside a comma list.
 */
export function parseQuery<S extends z.ZodType>(schema: S, req: Request): z.output<S> {
  const query = { ...(req.query as Record<string, unknown>) };
  for (const [key, value] of Object.entries(query)) {
    if (Array.isArray(value) || (typeof value === 'object' && value !== null)) throw new InvalidFieldError(key, 'must be given once, as text');
  }
  try {
    return parseWith(schema, query);
  } catch (error) {
    if (error instanceof InvalidFieldError && error.field !== undefined) throw new InvalidFieldError(error.field.replace(/\[\d+\].*$/, ''), error.message.replace(/^[^:]*:\s*/, ''));
    throw error;
  }
}

/** A whole number from a query string, within bounds. */
export const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be a whole number from ${min} to ${max}`).max(max, `must be a whole number from ${min} to ${max}`));

/** One value (a path parameter) checked with a schema; errors name it. */
export function parseNamed<S extends z.ZodType>(name: string, schema: S, value: unknown): z.output<S> {
  return (parseWith(z.object({ [name]: schema }), { [name]: value }) as Record<string, z.output<S>>)[name] as z.output<S>;
}
