// The deploybus HTTP API, typed, in one place: every command talks to the server through this class.
// Answers are checked against loose schemas (extra fields pass, missing required ones do not), so a
// server of another version fails with a sentence instead of a crash deep in rendering. Errors become
// the typed errors of cli-errors.ts, one class per kind, each with its exit code.
import { z } from 'zod';
import {
  ApiBadAnswerError,
  ApiFailedError,
  ApiInputError,
  ApiNotFoundError,
  ApiRefusedError,
  ApiUnauthorizedError,
  ApiUnavailableError,
  ApiUnreachableError,
  type ApiError,
  type ApiErrorBody,
} from './cli-errors.js';
import { readSse } from './sse-reader.js';

export const DEFAULT_API_URL = 'http://127.0.0.1:8600';
const DEFAULT_TIMEOUT_MS = 30_000;

const optionalString = z.string().nullish().transform((v) => v ?? undefined);
const optionalNumber = z.number().nullish().transform((v) => v ?? undefined);

export const queuedDeploySchema = z.looseObject({
  deploymentId: z.string(),
  app: z.string(),
  env: z.string(),
  ref: z.string(),
  sha: optionalString,
  position: z.number().int().nonnegative(),
  status: z.string(),
});
export type QueuedDeploy = z.output<typeof queuedDeploySchema>;

/** One deployment as history, the queue and the deployment itself show it. Old ledger names (id, createdAt) are read too. */
const deploymentShape = {
  deploymentId: z.string().optional(),
  id: z.string().optional(),
  app: z.string(),
  env: z.string(),
  ref: z.string(),
  sha: optionalString,
  state: z.string(),
  requestedBy: optionalString,
  requestedAt: optionalString,
  createdAt: optionalString,
  startedAt: optionalString,
  finishedAt: optionalString,
  durationMs: optionalNumber,
  reason: optionalString,
};
const hasId = { message: 'deploymentId: required', path: ['deploymentId'] };

function normalizeDeployment<T extends { deploymentId?: string | undefined; id?: string | undefined; requestedAt: string | undefined; createdAt: string | undefined }>(d: T): T & { deploymentId: string } {
  return { ...d, deploymentId: d.deploymentId ?? d.id ?? '', requestedAt: d.requestedAt ?? d.createdAt };
}

export const deploymentSummarySchema = z
  .looseObject(deploymentShape)
  .refine((d) => d.deploymentId !== undefined || d.id !== undefined, hasId)
  .transform(normalizeDeployment);
export type DeploymentSummary = z.output<typeof deploymentSummarySchema>;

export const hostResultSchema = z.looseObject({
  host: z.string(),
  outcome: z.string(),
  release: optionalString,
  durationMs: optionalNumber,
  error: optionalString,
  at: optionalString,
});
export type HostResult = z.output<typeof hostResultSchema>;

export const deploymentDetailSchema = z
  .looseObject({ ...deploymentShape, hosts: z.array(hostResultSchema).default([]) })
  .refine((d) => d.deploymentId !== undefined || d.id !== undefined, hasId)
  .transform(normalizeDeployment);
export type DeploymentDetail = z.output<typeof deploymentDetailSchema>;

export const logLineSchema = z.looseObject({ host: z.string(), seq: z.number(), at: z.string(), stream: z.string(), line: z.string() });
export type LogLine = z.output<typeof logLineSchema>;

export const lockSchema = z.looseObject({ env: z.string(), app: optionalString, by: z.string(), reason: z.string(), at: optionalString, since: optionalString });
export type Lock = z.output<typeof lockSchema>;

export const rosterEntrySchema = z.looseObject({
  service: z.string(),
  host: z.string(),
  instance: optionalString,
  version: optionalString,
  state: z.string(),
  lastSeen: optionalString,
  apps: z.array(z.looseObject({ app: z.string(), env: z.string(), release: optionalString, ref: optionalString })).nullish(),
});
export type RosterEntry = z.output<typeof rosterEntrySchema>;

export const appEntrySchema = z.looseObject({ app: z.string(), envs: z.array(z.string()), hosts: z.array(z.string()) });
export type AppEntry = z.output<typeof appEntrySchema>;

export const matrixSchema = z.looseObject({
  app: z.string(),
  env: z.string(),
  commonRef: optionalString,
  lastDeployedRef: optionalString,
  hosts: z.array(
    z.looseObject({
      host: z.string(),
      ref: optionalString,
      release: optionalString,
      sha: optionalString,
      at: optionalString,
      drift: z.boolean().nullish(),
      differsFromCommon: z.boolean().nullish(),
    }),
  ),
});
export type ReleaseMatrix = z.output<typeof matrixSchema>;

export const cancelResultSchema = z.looseObject({ deploymentId: z.string(), result: z.string() });
export type CancelResult = z.output<typeof cancelResultSchema>;

/** An event, from the replay (`GET /api/events`) or the live stream (`data:` of an SSE event). */
export const busEventSchema = z.looseObject({
  seq: optionalNumber,
  id: z.string(),
  type: z.string(),
  time: z.string(),
  deploymentId: optionalString,
  app: optionalString,
  env: optionalString,
  payload: z.unknown(),
});
export type BusEvent = z.output<typeof busEventSchema> & {
  /** The SSE `id:` (the ledger seq when the server knew it), for resuming with Last-Event-ID. */
  readonly streamId?: string | undefined;
};

export const eventPageSchema = z.looseObject({ events: z.array(busEventSchema), cursor: z.number() });
export type EventPage = z.output<typeof eventPageSchema>;

/** A callback subscription as the notifier shows it (never with its secret). */
export const subscriptionSchema = z.looseObject({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  app: optionalString,
  env: optionalString,
  description: optionalString,
  createdBy: optionalString,
  createdAt: optionalString,
  state: z.string(),
  cursor: optionalNumber,
  failures: optionalNumber,
  lastError: optionalString,
});
export type Subscription = z.output<typeof subscriptionSchema>;

/** The answer to a create: the subscription, and the secret only when the notifier made it. */
export const createdSubscriptionSchema = subscriptionSchema.extend({ secret: optionalString });
export type CreatedSubscription = z.output<typeof createdSubscriptionSchema>;

export const deletedSubscriptionSchema = z.looseObject({ id: z.string(), deleted: z.literal(true) });

export interface SubscriptionRequest {
  readonly url: string;
  readonly events: readonly string[];
  readonly app?: string | undefined;
  readonly env?: string | undefined;
  readonly secret?: string | undefined;
  readonly description?: string | undefined;
}

export interface DeployRequest {
  readonly app: string;
  readonly env: string;
  readonly ref: string;
  readonly hosts?: readonly string[] | undefined;
  readonly patterns?: readonly string[] | undefined;
  readonly batchSize?: number | string | undefined;
  readonly canary?: number | undefined;
  readonly force?: boolean | undefined;
}

export interface EventFilter {
  readonly deploymentId?: string | undefined;
  readonly app?: string | undefined;
  readonly env?: string | undefined;
  /** Exact types or prefixes with a star, e.g. "deploy.*". */
  readonly types?: readonly string[] | undefined;
  /** Replay from the ledger after this seq before going live (0: from the start). */
  readonly after?: number | undefined;
}

export interface StreamOptions {
  readonly signal?: AbortSignal | undefined;
  /** Resume after this event: the SSE `id:` last seen (a ledger seq, or a live event's message id). */
  readonly lastEventId?: string | undefined;
  /** The server could not replay what came before the live events (an unknown Last-Event-ID, the ledger unreachable). */
  readonly onReplayFailed?: ((problem: ApiErrorBody) => void) | undefined;
  /** A stream on which nothing (not even the server's 15 s keepalive) arrives this long is broken (default 45 s). */
  readonly idleMs?: number | undefined;
}

const STREAM_IDLE_MS = 45_000;

export interface ApiClientOptions {
  readonly baseUrl: string;
  readonly token?: string | undefined;
  /** Per request (the live stream's connect only). */
  readonly timeoutMs?: number | undefined;
  readonly userAgent?: string | undefined;
}

type Query = Record<string, string | number | boolean | undefined>;

export class DeploybusApi {
  readonly baseUrl: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #userAgent: string;

  constructor(options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#userAgent = options.userAgent ?? 'deploybus-cli';
  }

  deploy(request: DeployRequest): Promise<QueuedDeploy> {
    return this.#json('the deploy request', 'POST', '/api/deploys', { body: request }, queuedDeploySchema);
  }

  rollback(request: { app: string; env: string }): Promise<QueuedDeploy> {
    return this.#json('the rollback request', 'POST', '/api/rollback', { body: request }, queuedDeploySchema);
  }

  cancel(deploymentId: string): Promise<CancelResult> {
    return this.#json('the cancel request', 'POST', `/api/deploys/${encodeURIComponent(deploymentId)}/cancel`, {}, cancelResultSchema);
  }

  history(query: { app?: string | undefined; env?: string | undefined; offset?: number | undefined; limit?: number | undefined }): Promise<DeploymentSummary[]> {
    return this.#json('the history request', 'GET', '/api/deploys', { query }, z.array(deploymentSummarySchema));
  }

  deployment(deploymentId: string): Promise<DeploymentDetail> {
    return this.#json('the deployment request', 'GET', `/api/deploys/${encodeURIComponent(deploymentId)}`, {}, deploymentDetailSchema);
  }

  /** `truncated`: fewer lines came back than asked because they did not fit in one answer (X-Deploybus-Truncated). */
  async logs(deploymentId: string, query: { host?: string | undefined; offset?: number | undefined; limit?: number | undefined; tail?: number | undefined }): Promise<{ lines: LogLine[]; truncated: boolean }> {
    let truncated = false;
    const lines = await this.#json('the logs request', 'GET', `/api/deploys/${encodeURIComponent(deploymentId)}/logs`, { query, onResponse: (r) => (truncated = r.headers.get('x-deploybus-truncated') === 'true') }, z.array(logLineSchema));
    return { lines, truncated };
  }

  queue(query: { app?: string | undefined; env?: string | undefined }): Promise<DeploymentSummary[]> {
    return this.#json('the queue request', 'GET', '/api/queue', { query }, z.array(deploymentSummarySchema));
  }

  locks(query: { env?: string | undefined; app?: string | undefined }): Promise<Lock[]> {
    return this.#json('the locks request', 'GET', '/api/locks', { query }, z.array(lockSchema));
  }

  lock(request: { env: string; app?: string | undefined; reason: string; force?: boolean | undefined }): Promise<unknown> {
    return this.#json('the lock request', 'POST', '/api/locks', { body: request }, z.unknown());
  }

  unlock(env: string, app: string | undefined, force = false): Promise<unknown> {
    return this.#json('the unlock request', 'DELETE', `/api/locks/${encodeURIComponent(env)}`, { query: { app, force: force ? 'true' : undefined } }, z.unknown());
  }

  matrix(query: { app: string; env: string }): Promise<ReleaseMatrix> {
    return this.#json('the release matrix request', 'GET', '/api/matrix', { query }, matrixSchema);
  }

  roster(): Promise<RosterEntry[]> {
    return this.#json('the roster request', 'GET', '/api/roster', {}, z.array(rosterEntrySchema));
  }

  apps(): Promise<AppEntry[]> {
    return this.#json('the apps request', 'GET', '/api/apps', {}, z.array(appEntrySchema));
  }

  subscriptions(): Promise<Subscription[]> {
    return this.#json('the subscriptions request', 'GET', '/api/subscriptions', {}, z.array(subscriptionSchema));
  }

  createSubscription(request: SubscriptionRequest): Promise<CreatedSubscription> {
    return this.#json('the subscription request', 'POST', '/api/subscriptions', { body: request }, createdSubscriptionSchema);
  }

  subscription(id: string): Promise<Subscription> {
    return this.#json('the subscription request', 'GET', `/api/subscriptions/${encodeURIComponent(id)}`, {}, subscriptionSchema);
  }

  deleteSubscription(id: string): Promise<z.output<typeof deletedSubscriptionSchema>> {
    return this.#json('the delete request', 'DELETE', `/api/subscriptions/${encodeURIComponent(id)}`, {}, deletedSubscriptionSchema);
  }

  enableSubscription(id: string): Promise<Subscription> {
    return this.#json('the enable request', 'POST', `/api/subscriptions/${encodeURIComponent(id)}/enable`, {}, subscriptionSchema);
  }

  events(filter: EventFilter & { limit?: number | undefined }): Promise<EventPage> {
    return this.#json('the events request', 'GET', '/api/events', { query: eventQuery(filter, filter.limit) }, eventPageSchema);
  }

  /**
   * Connects to the live event stream (SSE), filtered by the server, and resolves once the server has
   * answered (so it is subscribed: what happens after this resolves is in the stream). The events then
   * come from the returned generator until the server closes the stream or `signal` aborts. Throws the
   * typed errors for a failed connect. `lastEventId` resumes after a dropped connection.
   */
  async openStream(filter: EventFilter, options: StreamOptions = {}): Promise<AsyncGenerator<BusEvent, void, undefined>> {
    const connect = new AbortController();
    const timer = setTimeout(() => connect.abort(new Error(`no answer within ${Math.round(this.#timeoutMs / 1000)} s`)), this.#timeoutMs);
    const signals = [connect.signal, ...(options.signal ? [options.signal] : [])];
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
    let response: Response;
    try {
      response = await this.#fetch('GET', '/api/events', { query: eventQuery(filter, undefined), headers, signal: AbortSignal.any(signals) });
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) throw await this.#errorOf(response);
    const body = response.body;
    if (!(response.headers.get('content-type') ?? '').includes('text/event-stream') || body === null) {
      await body?.cancel().catch(() => undefined);
      throw new ApiBadAnswerError('the event stream request', `content type ${JSON.stringify(response.headers.get('content-type'))}, not text/event-stream`);
    }
    return this.#events(body, options.signal, options.onReplayFailed, options.idleMs ?? STREAM_IDLE_MS);
  }

  async *#events(body: ReadableStream<Uint8Array>, signal: AbortSignal | undefined, onReplayFailed: ((problem: ApiErrorBody) => void) | undefined, idleMs: number): AsyncGenerator<BusEvent, void, undefined> {
    try {
      for await (const sse of readSse(body, signal, idleMs)) {
        let data: unknown;
        try {
          data = JSON.parse(sse.data);
        } catch {
          continue; // not an event of ours
        }
        if (sse.event === 'replay-failed') {
          const problem = replayProblem.safeParse(data);
          onReplayFailed?.(problem.success ? { code: problem.data.code, message: oneLine(problem.data.message), field: problem.data.field ?? undefined } : { code: 'replay_failed', message: 'the server could not replay the events missed' });
          continue;
        }
        const parsed = busEventSchema.safeParse(data);
        if (!parsed.success) continue;
        yield { ...parsed.data, streamId: sse.id };
      }
    } catch (error) {
      if (signal?.aborted) return;
      throw new ApiUnreachableError(this.#baseUrl(), `the event stream broke: ${reasonOf(error)}`, { cause: error });
    }
  }

  async #json<S extends z.ZodType>(what: string, method: string, path: string, request: { query?: Query; body?: unknown; onResponse?: (response: Response) => void }, schema: S): Promise<z.output<S>> {
    const response = await this.#fetch(method, path, { query: request.query, body: request.body, signal: AbortSignal.timeout(this.#timeoutMs) });
    if (!response.ok) throw await this.#errorOf(response);
    request.onResponse?.(response);
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new ApiUnreachableError(this.#baseUrl(), `the answer broke off: ${reasonOf(error)}`, { cause: error });
    }
    let data: unknown = undefined;
    if (text !== '') {
      try {
        data = JSON.parse(text);
      } catch (error) {
        throw new ApiBadAnswerError(what, 'not JSON', { cause: error });
      }
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ApiBadAnswerError(what, `${issue?.path.join('.') || 'the answer'}: ${issue?.message ?? 'unexpected'}`);
    }
    return parsed.data;
  }

  async #fetch(method: string, path: string, request: { query?: Query | undefined; body?: unknown; headers?: Record<string, string>; signal: AbortSignal }): Promise<Response> {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [key, value] of Object.entries(request.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.#userAgent, ...request.headers };
    if (this.#token !== undefined) headers['authorization'] = `Bearer ${this.#token}`;
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(url, { method, headers, signal: request.signal, redirect: 'manual', ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }) });
    } catch (error) {
      throw new ApiUnreachableError(this.#baseUrl(), reasonOf(error), { cause: error });
    }
  }

  async #errorOf(response: Response): Promise<ApiError> {
    const body = await errorBody(response);
    switch (response.status) {
      case 400:
      case 422:
        return new ApiInputError(response.status, body);
      case 401:
      case 403:
        return new ApiUnauthorizedError(response.status, body, this.#token !== undefined);
      case 404:
        return new ApiNotFoundError(response.status, body);
      case 409:
        return new ApiRefusedError(response.status, body);
      case 503:
      case 504:
        return new ApiUnavailableError(response.status, body);
      default:
        return new ApiFailedError(response.status, body);
    }
  }

  /** The base URL without credentials, for messages. */
  #baseUrl(): string {
    try {
      const url = new URL(this.baseUrl);
      url.username = '';
      url.password = '';
      return url.toString().replace(/\/$/, '');
    } catch {
      return this.baseUrl;
    }
  }
}

/** `event: replay-failed`'s data: the API's error body without the envelope. */
const replayProblem = z.looseObject({ code: z.string(), message: z.string(), field: z.string().nullish() });

const errorEnvelope = z.object({ error: z.object({ code: z.string(), message: z.string(), field: z.string().nullish() }) });

async function errorBody(response: Response): Promise<ApiErrorBody> {
  const text = await response.text().catch(() => '');
  try {
    const parsed = errorEnvelope.safeParse(JSON.parse(text));
    if (parsed.success) return { code: parsed.data.error.code, message: oneLine(parsed.data.error.message), field: parsed.data.error.field ?? undefined };
  } catch {
    // not JSON: a proxy's page, say
  }
  const excerpt = oneLine(text.replace(/<[^>]*>/g, ' ')).slice(0, 200);
  return { code: `http_${response.status}`, message: excerpt || response.statusText || `HTTP ${response.status}` };
}

function eventQuery(filter: EventFilter, limit: number | undefined): Query {
  return {
    deploymentId: filter.deploymentId,
    app: filter.app,
    env: filter.env,
    types: filter.types && filter.types.length > 0 ? filter.types.join(',') : undefined,
    after: filter.after,
    limit,
  };
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** fetch's "fetch failed" hides the reason in `cause` (ECONNREFUSED, ENOTFOUND ...): bring it out. */
export function reasonOf(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'no answer in time';
    const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
    if (cause && typeof cause.code === 'string') return cause.code;
    if (cause && typeof cause.message === 'string') return cause.message;
    return error.message;
  }
  return String(error);
}
