// Reads the conductor's ordered event log over the bus (state.query kind "events"; any conductor answers
// from the shared ledger), and single deployments (kind "deployment") for the notifiers that need to
// know who asked and which commit. This is the notifier's only view of deploybus' state.
import type { Bus } from '@deploybus/bus';
import { isMessageOfType } from '@deploybus/protocol';
import { z } from 'zod';
import { EventLogUnavailableError } from './errors.js';

export interface LogEvent {
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly time: string;
  readonly deploymentId?: string | undefined;
  readonly app?: string | undefined;
  readonly env?: string | undefined;
  readonly payload: unknown;
}

export interface EventFilter {
  readonly types?: readonly string[] | undefined;
  readonly app?: string | undefined;
  readonly env?: string | undefined;
}

export interface EventPage {
  readonly events: readonly LogEvent[];
  /** Pass as the next `after`. */
  readonly cursor: number;
}

export interface DeploymentFacts {
  readonly id: string;
  readonly app: string;
  readonly env: string;
  readonly ref: string;
  readonly sha: string | undefined;
  readonly requestedBy: string;
  readonly startedAt: string | undefined;
}

export interface EventLog {
  /** Events after `cursor` matching `filter`, oldest first. */
  after(cursor: number, filter: EventFilter, limit: number): Promise<EventPage>;
  deployment(id: string): Promise<DeploymentFacts | undefined>;
}

const nullish = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? undefined);
const eventSchema = z.object({
  seq: z.number().int().nonnegative(),
  id: z.string(),
  type: z.string(),
  time: z.string(),
  deploymentId: nullish(z.string()),
  app: nullish(z.string()),
  env: nullish(z.string()),
  payload: z.unknown(),
});
const pageSchema = z.object({ events: z.array(eventSchema), cursor: z.number().int().nonnegative() });
const deploymentSchema = z.object({
  id: z.string(),
  app: z.string(),
  env: z.string(),
  ref: z.string(),
  sha: nullish(z.string()),
  requestedBy: z.string(),
  startedAt: nullish(z.string()),
});

/** Any conductor may answer (shared queue), so replies are counted under one responder name. */
const RESPONDER = 'conductor';

export class BusEventLog implements EventLog {
  constructor(
    private readonly bus: Bus,
    private readonly timeoutMs: number,
  ) {}

  async after(cursor: number, filter: EventFilter, limit: number): Promise<EventPage> {
    const result = await this.#ask({
      kind: 'events',
      after: cursor,
      limit,
      ...(filter.types === undefined || filter.types.length === 0 ? {} : { types: [...filter.types] }),
      ...(filter.app === undefined ? {} : { app: filter.app }),
      ...(filter.env === undefined ? {} : { env: filter.env }),
    });
    const page = pageSchema.safeParse(result);
    if (!page.success) throw new EventLogUnavailableError(`the conductor's answer is not an event page (${page.error.issues[0]?.path.join('.') ?? ''}: ${page.error.issues[0]?.message ?? ''})`);
    return page.data;
  }

  async deployment(id: string): Promise<DeploymentFacts | undefined> {
    const result = await this.#ask({ kind: 'deployment', deploymentId: id });
    if (result === null || result === undefined) return undefined;
    const parsed = deploymentSchema.safeParse(result);
    return parsed.success ? parsed.data : undefined;
  }

  async #ask(query: { kind: string; after?: number; limit?: number; types?: string[]; app?: string; env?: string; deploymentId?: string }): Promise<unknown> {
    const message = this.bus.message('state.query', query, { expectReplies: true });
    let answer;
    try {
      answer = await this.bus.request(message, { expect: [RESPONDER], timeoutMs: this.timeoutMs, responderOf: () => RESPONDER });
    } catch (error) {
      throw new EventLogUnavailableError(`could not ask a conductor: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const reply = answer.replies.get(RESPONDER);
    if (reply === undefined) throw new EventLogUnavailableError(`no conductor answered within ${this.timeoutMs} ms`);
    if (!isMessageOfType(reply, 'state.reply')) throw new EventLogUnavailableError(`a conductor answered with ${reply.type}`);
    if (reply.payload.error !== undefined) throw new EventLogUnavailableError(`the conductor refused the query: ${reply.payload.error}`);
    return reply.payload.result;
  }
}
