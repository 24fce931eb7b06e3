// The Jenkins edge (shared by jenkins-trigger and the notifier): its documented REST API over global fetch, with a timeout on every request.
// Basic auth with the user's API token; a CSRF crumb from /crumbIssuer/api/json when Jenkins has
// one (404 there means CSRF protection is off), sent in the header the issuer names, with the
// session cookie it was issued with. Errors are typed (errors.ts) and never hold the token.
import { z } from 'zod';
import { JenkinsAuthError, JenkinsNotFoundError, JenkinsRequestError, JenkinsUnavailableError } from './errors.js';
import { jobPath } from './job-path.js';

export interface SecretLike {
  reveal(): string;
}

export interface JenkinsClientOptions {
  /** Jenkins' root URL, e.g. "https://ci.example.com/jenkins" (no trailing slash needed). */
  readonly url: string;
  readonly user: string;
  readonly token: SecretLike;
  readonly requestTimeoutMs: number;
  /** Injected for tests; the global fetch otherwise. */
  readonly fetch?: typeof fetch;
}

export interface QueuedBuild {
  readonly queueId: number;
  /** The queue item's URL, always under the configured Jenkins URL. */
  readonly queueUrl: string;
}

export interface QueueItemState {
  readonly id: number;
  readonly cancelled: boolean;
  readonly why: string | undefined;
  /** Set once the item left the queue and a build runs. */
  readonly executable: { readonly number: number; readonly url: string } | undefined;
}

export type BuildResult = 'SUCCESS' | 'FAILURE' | 'UNSTABLE' | 'ABORTED' | 'NOT_BUILT';

export interface BuildInfo {
  readonly number: number;
  readonly url: string;
  readonly building: boolean;
  readonly result: BuildResult | undefined;
  readonly durationMs: number | undefined;
}

/** The crumb issuer's answer: the header to send and its value. */
interface Crumb {
  readonly field: string;
  readonly value: string;
  readonly cookie: string | undefined;
}

const crumbSchema = z.object({ crumb: z.string().min(1), crumbRequestField: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/) });
const queueItemSchema = z.object({
  id: z.number().int().nonnegative(),
  cancelled: z.boolean().optional(),
  why: z.string().nullable().optional(),
  executable: z.object({ number: z.number().int().positive(), url: z.string().min(1) }).nullable().optional(),
});
const buildResultSchema = z.enum(['SUCCESS', 'FAILURE', 'UNSTABLE', 'ABORTED', 'NOT_BUILT']);
const buildSchema = z.object({
  number: z.number().int().positive(),
  url: z.string().min(1),
  building: z.boolean(),
  result: buildResultSchema.nullable(),
  duration: z.number().nonnegative().optional(),
});

const jobBuildsSchema = z.object({
  builds: z.array(z.object({ number: z.number().int().positive(), url: z.string().min(1), queueId: z.number().int().nonnegative().optional() })).nullable().optional(),
});
/** How many of a job's newest builds are searched for a queue item's build. */
const BUILDS_SEARCHED = 100;

const QUEUE_ITEM_PATH = /\/queue\/item\/(\d+)\/?$/;

export class JenkinsClient {
  readonly url: string;
  readonly user: string;
  private readonly token: SecretLike;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;
  /** undefined: not asked yet; null: CSRF protection is off. */
  private crumb: Crumb | null | undefined;

  constructor(options: JenkinsClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.user = options.user;
    this.token = options.token;
    this.timeoutMs = options.requestTimeoutMs;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** POST /job/NAME/buildWithParameters. Jenkins answers 201 with the queue item in `Location`. */
  async triggerBuild(job: string, parameters: Readonly<Record<string, string>>): Promise<QueuedBuild> {
    const url = `${this.url}${jobPath(job)}/buildWithParameters`;
    const body = new URLSearchParams(parameters).toString();
    let response = await this.post(url, body);
    if (response.status === 403 && (await isCrumbRefusal(response))) {
      // The crumb expired, or belongs to a session Jenkins forgot: one fresh crumb, one more try.
      this.crumb = undefined;
      response = await this.post(url, body);
      if (response.status === 403 && (await isCrumbRefusal(response))) {
        throw new JenkinsRequestError(`Jenkins refused the CSRF crumb for POST ${url} (HTTP 403) even after a fresh one was fetched`, url, 403);
      }
    }
    this.check(response, 'POST', url, `job ${job}`);
    if (response.status !== 201 && response.status !== 200 && response.status !== 303 && response.status !== 302) {
      throw new JenkinsRequestError(`Jenkins answered POST ${url} with HTTP ${response.status}, not 201`, url, response.status);
    }
    const location = response.headers.get('location');
    const id = location === null ? undefined : QUEUE_ITEM_PATH.exec(safePathname(location, this.url))?.[1];
    if (id === undefined) {
      throw new JenkinsRequestError(`Jenkins answered POST ${url} without a queue item in its Location header`, url, response.status);
    }
    // Rebuilt under the configured URL, so credentials only ever go to the Jenkins we were given.
    return { queueId: Number(id), queueUrl: this.queueUrl(Number(id)) };
  }

  /** GET {queueUrl}api/json: the queue item, with `executable` once its build started. */
  async queueItem(queueUrl: string): Promise<QueueItemState> {
    if (!queueUrl.startsWith(`${this.url}/`)) throw new JenkinsRequestError(`queue item ${queueUrl} is not under ${this.url}`, queueUrl, undefined);
    const url = `${queueUrl.replace(/\/?$/, '/')}api/json`;
    const item = await this.getJson(url, queueItemSchema, `queue item ${queueUrl}`);
    return {
      id: item.id,
      cancelled: item.cancelled === true,
      why: item.why ?? undefined,
      executable: item.executable ? { number: item.executable.number, url: item.executable.url } : undefined,
    };
  }

  /**
   * The build a queue item became, found among the job's newest builds by its `queueId`
   * (GET /job/NAME/api/json?tree=builds[number,url,queueId]{0,100}); undefined when none of them is it.
   * Jenkins forgets a queue item a few minutes after it left the queue; its build still names it.
   */
  async buildOfQueueItem(job: string, queueId: number): Promise<{ readonly number: number; readonly url: string } | undefined> {
    const url = `${this.url}${jobPath(job)}/api/json?tree=${encodeURIComponent(`builds[number,url,queueId]{0,${BUILDS_SEARCHED}}`)}`;
    const answer = await this.getJson(url, jobBuildsSchema, `job ${job}`);
    const build = (answer.builds ?? []).find((candidate) => candidate.queueId === queueId);
    return build === undefined ? undefined : { number: build.number, url: build.url };
  }

  /** GET /job/NAME/N/api/json. */
  async build(job: string, number: number): Promise<BuildInfo> {
    const url = `${this.buildUrl(job, number)}api/json`;
    const build = await this.getJson(url, buildSchema, `build ${job} #${number}`);
    return {
      number: build.number,
      url: build.url,
      building: build.building,
      result: build.result ?? undefined,
      durationMs: build.building || build.duration === undefined ? undefined : Math.round(build.duration),
    };
  }

  queueUrl(id: number): string {
    return `${this.url}/queue/item/${id}/`;
  }

  buildUrl(job: string, number: number): string {
    return `${this.url}${jobPath(job)}/${number}/`;
  }

  private async post(url: string, body: string): Promise<Response> {
    const crumb = await this.currentCrumb();
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (crumb) {
      headers[crumb.field] = crumb.value;
      if (crumb.cookie) headers['cookie'] = crumb.cookie;
    }
    return this.send('POST', url, headers, body);
  }

  private async currentCrumb(): Promise<Crumb | null> {
    if (this.crumb !== undefined) return this.crumb;
    const url = `${this.url}/crumbIssuer/api/json`;
    const response = await this.send('GET', url, {});
    if (response.status === 404) {
      await response.body?.cancel();
      this.crumb = null;
      return null;
    }
    this.check(response, 'GET', url, 'the crumb issuer');
    const parsed = crumbSchema.safeParse(await readJson(response, 'GET', url));
    if (!parsed.success) throw new JenkinsUnavailableError(`Jenkins answered GET ${url} with JSON that is not a crumb`, url, response.status);
    // Jenkins ties a crumb to the web session unless the request uses an API token; send the session back.
    const cookies = response.headers.getSetCookie().map((line) => line.split(';')[0]?.trim() ?? '').filter((pair) => pair.includes('='));
    this.crumb = { field: parsed.data.crumbRequestField, value: parsed.data.crumb, cookie: cookies.length > 0 ? cookies.join('; ') : undefined };
    return this.crumb;
  }

  private async getJson<T>(url: string, schema: z.ZodType<T>, what: string): Promise<T> {
    const response = await this.send('GET', url, {});
    this.check(response, 'GET', url, what);
    const parsed = schema.safeParse(await readJson(response, 'GET', url));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new JenkinsUnavailableError(`Jenkins answered GET ${url} with JSON that does not describe ${what} (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'})`, url, response.status);
    }
    return parsed.data;
  }

  /** Throws the typed error for a failed status; returns for 2xx and 3xx. */
  private check(response: Response, method: string, url: string, what: string): void {
    const status = response.status;
    if (status < 400) return;
    void response.body?.cancel().catch(() => undefined);
    if (status === 401 || status === 403) throw new JenkinsAuthError(this.user, url, status);
    if (status === 404) throw new JenkinsNotFoundError(`Jenkins has no ${what} (HTTP 404 for ${method} ${url})`, url, status);
    if (status >= 500) throw new JenkinsUnavailableError(`Jenkins answered ${method} ${url} with HTTP ${status}`, url, status);
    throw new JenkinsRequestError(`Jenkins refused ${method} ${url} with HTTP ${status}`, url, status);
  }

  private async send(method: 'GET' | 'POST', url: string, headers: Record<string, string>, body?: string): Promise<Response> {
    const authorization = `Basic ${Buffer.from(`${this.user}:${this.token.reveal()}`).toString('base64')}`;
    try {
      return await this.fetch(url, {
        method,
        headers: { accept: 'application/json', ...headers, authorization },
        ...(body === undefined ? {} : { body }),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new JenkinsUnavailableError(`${method} ${url} failed: ${describeFetchError(error, this.timeoutMs)}`, url, undefined, { cause: error });
    }
  }
}

async function readJson(response: Response, method: string, url: string): Promise<unknown> {
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw new JenkinsUnavailableError(`${method} ${url}: the answer broke off (${error instanceof Error ? error.message : String(error)})`, url, response.status, { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new JenkinsUnavailableError(`Jenkins answered ${method} ${url} with malformed JSON`, url, response.status, { cause: error });
  }
}

/** Jenkins' 403 for a missing or stale crumb says so in its body ("No valid crumb was included in the request"). */
async function isCrumbRefusal(response: Response): Promise<boolean> {
  const text = await response
    .clone()
    .text()
    .catch(() => '');
  return /crumb/i.test(text);
}

function safePathname(location: string, base: string): string {
  try {
    return new URL(location, `${base}/`).pathname;
  } catch {
    return '';
  }
}

const FETCH_ERROR_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_SOCKET: 'the connection closed',
};

function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `no answer within ${timeoutMs} ms`;
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return `${FETCH_ERROR_TEXT[cause.code] ?? 'no answer'} (${cause.code})`;
  if (cause && typeof cause.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}
