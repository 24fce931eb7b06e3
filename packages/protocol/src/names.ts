// Names that travel in messages and end up in routing keys, queue names and file paths.
// They are checked here, once, so no daemon has to remember to.
import { z } from 'zod';

/**
 * App, environment, repository and service names: a letter or digit, then letters, digits, `_`, `-`, `.`,
 * at most 64, and never `..` (names become path components). The `..` rule is inside the pattern so the
 * generated JSON Schema carries it too.
 */
export const NAME_PATTERN = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Host names as RFC 1123 allows them (labels of letters, digits and `-`, joined by dots). */
export const HOST_PATTERN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export const nameSchema = z
  .string()
  .regex(NAME_PATTERN, 'must start with a letter or digit, hold only letters, digits, "_", "-" and "." (at most 64), and not contain ".."');

export const hostSchema = z.string().regex(HOST_PATTERN, 'must be a host name (letters, digits, "-", dot-separated labels)');

/**
 * One routing-key segment for a name. Routing keys use `.` as the separator and `*`/`#` as wildcards,
 * so every other character becomes `_`. The mapping is many-to-one (`a.b` and `a_b` share a segment);
 * receivers that care still check the payload.
 */
export function routingSegment(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9_-]/g, '_');
  return cleaned.length === 0 ? '_' : cleaned;
}
