// GET /api/events: the ledger's event log as JSON pages ({events, cursor}), or, with
// `Accept: text/event-stream`, server-sent events live from the bus. A stream given `after` (or a
// numeric Last-Event-ID) first replays what the ledger holds after that point; live events arriving
// meanwhile are held back and sent after the replay, without the ones the replay already carried.
import { nameSchema } from '@deploybus/protocol';
import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { eventMatches, sseFrame, type EventFilter, type StreamEvent } from '../live-events.js';
import { parseQuery, queryInt } from '../validation.js';
import type { RouteContext } from './route-context.js';
import { deploymentIdSchema } from './deploys.js';

const TYPE_PATTERN = /^(\*|[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*(\.\*)?)$/;
const eventsQuery = z.strictObject({
  after: queryInt(0, Number.MAX_SAFE_INTEGER).optional(),
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

function wantsStream(req: Request): boolean {
  return (req.headers.accept ?? '').split(',').some((part) => part.trim().toLowerCase().startsWith('text/event-stream'));
}

export function eventRoutes(ctx: RouteContext): Router {
  const router = express.Router();

  const page = async (q: EventsQuery, after: number): Promise<EventPage> => {
    const { result } = await ctx.gateway.query<EventPage>('events', {
      after,
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
    if (!wantsStream(req)) {
      res.json(await page(q, q.after ?? 0));
      return;
    }
    if (ctx.live.listenerCount >= ctx.sseMaxClients) throw new ApiError(503, 'too_many_streams', `this server already serves ${ctx.sseMaxClients} live streams; try again later or page with JSON`);
    const lastEventId = req.headers['last-event-id'];
    const resumeFrom = typeof lastEventId === 'string' && /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : q.after;
    await stream(ctx, res, { deploymentId: q.deploymentId, app: q.app, env: q.env, types: q.types }, resumeFrom === undefined ? undefined : (after) => page({ ...q, limit: 1000 }, after), resumeFrom);
  });

  return router;
}

async function stream(ctx: RouteContext, res: Response, filter: EventFilter, replay: ((after: number) => Promise<EventPage>) | undefined, after: number | undefined): Promise<void> {
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
  if (replay !== undefined && after !== undefined) {
    try {
      let cursor = after;
      for (let i = 0; i < MAX_REPLAY_PAGES && !closed; i += 1) {
        const result = await replay(cursor);
        for (const row of result.events) {
          replayed.add(row.id);
          send({ id: row.id, type: row.type, time: row.time, payload: row.payload, seq: row.seq });
        }
        if (result.events.length === 0 || result.cursor <= cursor) break;
        cursor = result.cursor;
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
