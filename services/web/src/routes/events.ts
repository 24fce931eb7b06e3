// GET /api/events: the ledger's event log as JSON pages ({events, cursor}), or, with
// `Accept: text/event-stream`, server-sent events live from the bus. A stream given `after` or
// `afterId` (or a Last-Event-ID: a seq, or the message id a live event was sent with) first replays
// what the ledger holds after that point; live events arriving meanwhile are held back and sent after
// the replay, without the ones the replay already carried.
import { nameSchema } from '@deploybus/protocol';
import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { ApiError, InvalidFieldError } from '../errors.js';
import { eventMatches, sseFrame, type EventFilter, type StreamEvent } from '../live-events.js';
import { parseQuery, queryInt } from '../validation.js';
import type { RouteContext } from './route-context.js';
import { deploymentIdSchema } from './deploys.js';

const TYPE_PATTERN = /^(\*|[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*(\.\*)?)$/;
/** A message id as the envelope allows it: 8 to 128 printable characters without spaces. */
const EVENT_ID = /^[\x21-\x7e]{8,128}$/;
const eventsQuery = z.strictObject({
  after: queryInt(0, Number.MAX_SAFE_INTEGER).optional(),
  afterId: z.string().regex(EVENT_ID, 'must be an event id (8 to 128 printable characters, no spaces)').optional(),
  limit: queryInt(1, 1000).optional(),
  deploymentId: deploymentIdSchema.optional(),
  app: nameSchema.optional(),
  env: nameSchema.optional(),
  types: z
    .string()
    .max(2048)
    .transform((s) => s.split(',').map((t) => t.trim()).filter((t) => t !== ''))
    .pipe(z.array(z.string().regex(TYPE_PATTERN, 'must be comma-separated event types ("deploy.succeeded") or prefixes ("task.*")')).max(32))
    .optional(),
});
type EventsQuery = z.output<typeof eventsQuery>;

interface LedgerEventRow {
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly time: string;
  readonly deploymentId?: string;
  readonly app?: string;
  readonly env?: string;
  readonly payload: unknown;
}
interface EventPage {
  readonly events: LedgerEventRow[];
  readonly cursor: number;
}

/** Replay of at most this many pages before the stream goes live; a client further behind pages with JSON first. */
const MAX_REPLAY_PAGES = 20;
/** Live events held back while a replay runs, at most. */
const MAX_HELD_EVENTS = 10_000;
/** A client whose socket holds this much unsent data is too slow and is disconnected. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/**
 * The conductor publishes an event before it records it, so a client may reconnect with the id of an
 * event the ledger does not hold yet: its place is asked for again this often, this far apart.
 */
const RESOLVE_ATTEMPTS = 12;
const RESOLVE_PAUSE_MS = 250;

/** Where a replay starts: after a seq, or after the event with a message id (its seq looked up by the conductor). */
type ReplayFrom = { readonly after: number } | { readonly afterId: string };

function wantsStream(req: Request): boolean {
  return (req.headers.accept ?? '').split(',').some((part) => part.trim().toLowerCase().startsWith('text/event-stream'));
}

export function eventRoutes(ctx: RouteContext): Router {
  const router = express.Router();

  const page = async (q: EventsQuery, from: ReplayFrom): Promise<EventPage> => {
    const { result } = await ctx.gateway.query<EventPage>('events', {
      ...from,
      ...(q.limit === undefined ? {} : { limit: q.limit }),
      ...(q.deploymentId === undefined ? {} : { deploymentId: q.deploymentId }),
      ...(q.app === undefined ? {} : { app: q.app }),
      ...(q.env === undefined ? {} : { env: q.env }),
      ...(q.types === undefined ? {} : { types: q.types }),
    });
    return result;
  };

  router.get('/api/events', async (req, res) => {
    const q = parseQuery(eventsQuery, req);
    if (q.after !== undefined && q.afterId !== undefined) throw new InvalidFieldError('afterId', 'give after or afterId, not both');
    const fromQuery: ReplayFrom | undefined = q.afterId !== undefined ? { afterId: q.afterId } : q.after !== undefined ? { after: q.after } : undefined;
    if (!wantsStream(req)) {
      res.json(await page(q, fromQuery ?? { after: 0 }));
      return;
    }
    if (ctx.live.listenerCount >= ctx.sseMaxClients) throw new ApiError(503, 'too_many_streams', `this server already serves ${ctx.sseMaxClients} live streams; try again later or page with JSON`);
    // A reconnecting client's Last-Event-ID wins over the query (browsers reconnect to the same URL, after=0 and all).
    const from = resumePoint(req.headers['last-event-id']) ?? fromQuery;
    await stream(ctx, res, { deploymentId: q.deploymentId, app: q.app, env: q.env, types: q.types }, (f) => page({ ...q, limit: q.limit ?? 1000 }, f), from);
  });

  return router;
}

/** Last-Event-ID: a ledger seq (replayed events), or the message id of a live event the ledger records. */
function resumePoint(header: string | string[] | undefined): ReplayFrom | undefined {
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header[0] ?? '' : header;
  if (value === '') return undefined;
  if (/^\d{1,15}$/.test(value)) return { after: Number(value) };
  if (EVENT_ID.test(value)) return { afterId: value };
  throw new InvalidFieldError('Last-Event-ID', 'must be an event seq or an event id, as the stream sent it');
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function stream(ctx: RouteContext, res: Response, filter: EventFilter, replay: (from: ReplayFrom) => Promise<EventPage>, from: ReplayFrom | undefined): Promise<void> {
  res.status(200).set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  res.flushHeaders();
  res.write('retry: 3000\n\n');

  let closed = false;
  let held: StreamEvent[] | undefined = [];
  const send = (event: StreamEvent): void => {
    if (closed) return;
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      ctx.logger.warn({ buffered: res.writableLength }, 'event stream client too slow; disconnected (it may reconnect and catch up)');
      close();
      res.destroy();
      return;
    }
    res.write(sseFrame(event));
  };
  const stopListening = ctx.live.listen((event) => {
    if (!eventMatches(event, filter)) return;
    if (held === undefined) return send(event);
    held.push(event);
    if (held.length > MAX_HELD_EVENTS) {
      // The replay is slower than the live traffic: rather than hold without bound, let the client reconnect.
      ctx.logger.warn({ held: held.length }, 'event stream replay fell too far behind live events; disconnected');
      close();
      res.destroy();
    }
  });
  const heartbeat = setInterval(() => {
    if (!closed) res.write(`: keepalive ${new Date().toISOString()}\n\n`);
  }, ctx.sseHeartbeatMs);
  heartbeat.unref();
  const close = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    stopListening();
  };
  // The response's close, not the request's: a request emits 'close' once its body was read, which a
  // GET with a body (parsed by a body parser) would do long before the client goes.
  res.on('close', close);

  const replayed = new Set<string>();
  if (from !== undefined) {
    try {
      let result = await firstPage(replay, from, () => closed);
      let cursor = 'after' in from ? from.after : 0;
      let caughtUp = false;
      for (let i = 0; i < MAX_REPLAY_PAGES && !closed; i += 1) {
        if (i > 0) result = await replay({ after: cursor });
        for (const row of result.events) {
          replayed.add(row.id);
          send({ id: row.id, type: row.type, time: row.time, payload: row.payload, seq: row.seq });
        }
        if (result.events.length === 0 || (i > 0 && result.cursor <= cursor)) {
          caughtUp = true;
          break;
        }
        cursor = result.cursor;
      }
      if (!caughtUp && !closed) {
        // Further behind than one replay goes: going live silently would skip the events in between.
        const body = { code: 'replay_too_long', message: `more than ${MAX_REPLAY_PAGES} pages of events to replay; the replay stopped after seq ${cursor}: read the rest with GET /api/events?after=${cursor}, then reconnect with Last-Event-ID` };
        res.write(`event: replay-failed\ndata: ${JSON.stringify(body)}\n\n`);
      }
    } catch (error) {
      // The stream still goes live; the client is told the replay failed and why.
      const body = error instanceof ApiError ? error.toBody().error : { code: 'internal', message: 'the replay from the ledger failed' };
      if (!(error instanceof ApiError)) ctx.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'event replay failed');
      if (!closed) res.write(`event: replay-failed\ndata: ${JSON.stringify(body)}\n\n`);
    }
  }
  const pending = held;
  held = undefined;
  for (const event of pending) if (!replayed.has(event.id)) send(event);
}

/**
 * The replay's first page. An event id the ledger does not hold may just not be recorded yet (the
 * conductor publishes first, then records): it is asked for again for a few seconds before the client
 * is told, with the conductor's error naming afterId.
 */
async function firstPage(replay: (from: ReplayFrom) => Promise<EventPage>, from: ReplayFrom, closed: () => boolean): Promise<EventPage> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await replay(from);
    } catch (error) {
      const unknownId = 'afterId' in from && error instanceof InvalidFieldError && error.field === 'afterId';
      if (!unknownId || attempt >= RESOLVE_ATTEMPTS || closed()) throw error;
      await pause(RESOLVE_PAUSE_MS);
    }
  }
}
