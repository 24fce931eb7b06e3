// state.query -> the ledger's answer. The wire schema of state.query is deliberately loose (strings and
// numbers) so that a bad query reaches the conductor and is answered with an error naming the field;
// the strict checks live here. Answers are bounded: at most `limit` rows (1..1000, default 50), and
// rows are dropped from the end (with `truncated`) until the reply fits well under MAX_BODY_BYTES.
import { hostSchema, MAX_BODY_BYTES, nameSchema, type PayloadOf } from '@deploybus/protocol';
import type { Ledger } from '@deploybus/store';
import { z } from 'zod';
import type { TagLister } from './repo-tags.js';

export const STATE_KINDS = ['history', 'deployment', 'releases', 'matrix', 'locks', 'queue', 'logs', 'events', 'tags'] as const;
export type StateKind = (typeof STATE_KINDS)[number];
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1000;
export const MAX_OFFSET = 100_000;
/** Room left in the body for the envelope and the reply's other fields. */
const RESULT_BUDGET = MAX_BODY_BYTES - 64 * 1024;

const count = (min: number, max: number): z.ZodNumber => z.number().int(`must be a whole number from ${min} to ${max}`).min(min, `must be a whole number from ${min} to ${max}`).max(max, `must be a whole number from ${min} to ${max}`);

const checkedQuery = z.strictObject({
  kind: z.enum(STATE_KINDS, `must be one of ${STATE_KINDS.join(', ')}`),
  app: nameSchema.optional(),
  env: nameSchema.optional(),
  deploymentId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{7,127}$/, 'must be a deployment id (8 to 128 letters, digits, "_", ".", ":", "-")').optional(),
  host: hostSchema.optional(),
  offset: count(0, MAX_OFFSET).optional(),
  limit: count(1, MAX_LIMIT).optional(),
  tail: count(1, MAX_LIMIT).optional(),
  after: count(0, Number.MAX_SAFE_INTEGER).optional(),
  types: z.array(z.string().regex(/^(\*|[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*(\.\*)?)$/, 'must be event types ("deploy.succeeded") or prefixes ("task.*")')).max(32).optional(),
  // A message id as the envelope allows it (8 to 128 characters); printable, so it can be quoted back.
  afterId: z.string().regex(/^[\x21-\x7e]{8,128}$/, 'must be an event id (a message id: 8 to 128 printable characters, no spaces)').optional(),
});

/** Where the answers come from: the ledger, and the apps' repositories for tags. */
export interface StateSources {
  readonly ledger: Ledger;
  readonly tags: TagLister;
}

export type StateQuery = z.output<typeof checkedQuery>;

export type StateAnswer =
  | { readonly ok: true; readonly kind: StateKind; readonly result: unknown; readonly truncated: boolean }
  | { readonly ok: false; readonly kind: string; readonly error: string };

/** Checks a state.query payload field by field; the error names the first bad field. */
export function checkStateQuery(payload: PayloadOf<'state.query'>): { ok: true; query: StateQuery } | { ok: false; error: string } {
  const parsed = checkedQuery.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'query';
    return { ok: false, error: `${field}: ${issue?.message ?? 'invalid'}` };
  }
  const q = parsed.data;
  const need = (field: keyof StateQuery): string | undefined => (q[field] === undefined ? `${field}: required for kind ${q.kind}` : undefined);
  const missing =
    q.kind === 'deployment' || q.kind === 'logs' ? need('deploymentId') : q.kind === 'matrix' ? (need('app') ?? need('env')) : q.kind === 'tags' ? need('app') : undefined;
  if (missing !== undefined) return { ok: false, error: missing };
  if (q.kind !== 'events') {
    if (q.after !== undefined) return { ok: false, error: `after: only for kind events, not ${q.kind}` };
    if (q.types !== undefined) return { ok: false, error: `types: only for kind events, not ${q.kind}` };
    if (q.afterId !== undefined) return { ok: false, error: `afterId: only for kind events, not ${q.kind}` };
  }
  if (q.after !== undefined && q.afterId !== undefined) return { ok: false, error: 'afterId: give after or afterId, not both' };
  if (q.tail !== undefined && q.kind !== 'logs') return { ok: false, error: `tail: only for kind logs, not ${q.kind}` };
  if (q.tail !== undefined && q.offset !== undefined) return { ok: false, error: 'tail: give tail or offset, not both' };
  return { ok: true, query: q };
}

/** Answers a state.query from the ledger or the app's repository (checking it first). */
export async function answerStateQuery(sources: StateSources, payload: PayloadOf<'state.query'>): Promise<StateAnswer> {
  const { ledger } = sources;
  const checked = checkStateQuery(payload);
  if (!checked.ok) return { ok: false, kind: payload.kind.slice(0, 64), error: checked.error };
  const q = checked.query;
  const offset = q.offset ?? 0;
  const limit = q.limit ?? DEFAULT_LIMIT;
  const page = <T>(rows: readonly T[]): T[] => rows.slice(offset, offset + limit);
  const bounded = (result: unknown, keep?: 'start' | 'end'): StateAnswer => ({ ok: true, kind: q.kind, ...fitResult(result, RESULT_BUDGET, keep) });
  switch (q.kind) {
    case 'history':
      // The ledger skips the offset itself: reading past it asked for more rows than one ledger query
      // returns (10,000), and an offset near that failed the query instead of answering it.
      return bounded(await ledger.history({ app: q.app, env: q.env, limit, offset }));
    case 'deployment':
      return bounded((await ledger.deployment(q.deploymentId ?? '')) ?? null);
    case 'releases':
      return bounded(page((await ledger.releases({ app: q.app, env: q.env })).filter((r) => q.host === undefined || r.host.toLowerCase() === q.host.toLowerCase())));
    case 'matrix':
      return bounded(await ledger.matrix(q.app ?? '', q.env ?? ''));
    case 'locks':
      return bounded(page((await ledger.locks()).filter((l) => (q.env === undefined || l.env === q.env) && (q.app === undefined || l.app === undefined || l.app === q.app))));
    case 'queue':
      // Running first (the ledger orders unfinished oldest first; a running one is older than its queue).
      return bounded(page((await ledger.unfinished()).filter((d) => (q.app === undefined || d.app === q.app) && (q.env === undefined || d.env === q.env))));
    case 'logs':
      // A tail too big for one answer keeps its newest lines, the ones asked for.
      if (q.tail !== undefined) return bounded(await ledger.tail(q.deploymentId ?? '', q.tail, q.host), 'end');
      return bounded(await ledger.logs(q.deploymentId ?? '', { host: q.host, offset, limit }));
    case 'events': {
      // afterId: a live event carries only its message id; its place in the log is looked up here. An id
      // the ledger does not hold is an error, not "from the start": the client would get everything again.
      let after = q.after ?? 0;
      if (q.afterId !== undefined) {
        const seq = await ledger.seqOfEvent(q.afterId);
        if (seq === undefined) return { ok: false, kind: q.kind, error: `afterId: the event log holds no event ${q.afterId} (not recorded yet, never recorded, or pruned); resume with after (a seq) instead` };
        after = seq;
      }
      // Trimmed events keep the cursor honest: it becomes the last event actually returned.
      const page = await ledger.eventsAfter(after, limit, { deploymentId: q.deploymentId, app: q.app, env: q.env, types: q.types });
      const fitted = fitResult(page.events);
      const events = fitted.result as typeof page.events;
      const cursor = fitted.truncated ? (events.at(-1)?.seq ?? after) : page.cursor;
      return { ok: true, kind: q.kind, result: { events, cursor }, truncated: fitted.truncated };
    }
    case 'tags': {
      const tags = await sources.tags(q.app ?? '');
      if (tags === undefined) return { ok: false, kind: q.kind, error: `app: ${q.app ?? ''} has no repository URL in the conductor's config (apps.${q.app ?? ''}.repoUrl)` };
      return bounded(page(tags));
    }
  }
}

/**
 * Drops rows from the end of the result (a list, or an object's `hosts`) until its JSON fits the
 * budget; `keep: 'end'` drops them from the start instead (a tail keeps its newest lines).
 */
export function fitResult(result: unknown, budget = RESULT_BUDGET, keep: 'start' | 'end' = 'start'): { result: unknown; truncated: boolean } {
  if (size(result) <= budget) return { result, truncated: false };
  if (Array.isArray(result)) {
    if (keep === 'end') return { result: (shrink([...result].reverse(), (rows) => rows, budget) as unknown[]).reverse(), truncated: true };
    return { result: shrink(result, (rows) => rows, budget), truncated: true };
  }
  if (typeof result === 'object' && result !== null && Array.isArray((result as { hosts?: unknown }).hosts)) {
    const object = result as { hosts: unknown[] };
    return { result: shrink(object.hosts, (hosts) => ({ ...object, hosts }), budget), truncated: true };
  }
  return { result: null, truncated: true };
}

function shrink<T>(rows: readonly T[], wrap: (rows: T[]) => unknown, budget: number): unknown {
  // The largest prefix that fits, by bisection.
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (size(wrap(rows.slice(0, mid))) <= budget) lo = mid;
    else hi = mid - 1;
  }
  return wrap(rows.slice(0, lo));
}

function size(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');
}
