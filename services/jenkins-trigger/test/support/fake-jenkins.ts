// A stand-in for Jenkins that follows its documented remote access API closely enough to test
// jenkins-trigger against: Basic auth with a user's API token, the crumb issuer
// (/crumbIssuer/api/json, crumbs tied to a session cookie), POST /job/NAME/buildWithParameters
// (folders as /job/A/job/B) answering 201 with the queue item in `Location`, queue items at
// /queue/item/N/api/json that gain `executable` when their build starts, builds at
// /job/NAME/N/api/json, a job's builds (newest first, with their queueId) at /job/NAME/api/json
// honouring `tree=builds[...]{0,N}`'s range, and the Notification plugin's JSON POSTed when a build
// starts or ends. As Jenkins does, a buildWithParameters with the same parameters as an item still
// waiting in the queue is folded into it: 201 with that item's Location.
// Tests steer it (start, finish, cancel, fail the next requests, refuse credentials) and read back
// every request it got.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeBuildResult = 'SUCCESS' | 'FAILURE' | 'UNSTABLE' | 'ABORTED' | 'NOT_BUILT';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  /** The user named in the Basic credentials (whether or not they were right). */
  readonly user: string | undefined;
  /** The Jenkins-Crumb header sent, if any. */
  readonly crumb: string | undefined;
  readonly body: string;
  readonly status: number;
}

export interface FakeJenkinsOptions {
  readonly user: string;
  readonly token: string;
  /** Full job names ("folder/job") that exist. */
  readonly jobs: readonly string[];
  /** CSRF protection on (default true): POSTs need a crumb from /crumbIssuer/api/json. */
  readonly crumbs?: boolean;
  /** Start queued builds by themselves after this many ms (default: only when the test says). */
  readonly autoStartMs?: number;
  /** Where to POST the Notification plugin's JSON (a full URL, query included); none by default. */
  readonly notifyUrl?: string;
  /** Phases notified (default all three, like the plugin's "All Events"). */
  readonly notifyPhases?: ReadonlyArray<'STARTED' | 'COMPLETED' | 'FINALIZED'>;
}

export interface FakeQueueItem {
  readonly id: number;
  readonly job: string;
  readonly parameters: ReadonlyMap<string, string>;
  readonly inQueueSince: number;
  cancelled: boolean;
  buildNumber: number | undefined;
  forgotten: boolean;
}

export interface FakeBuild {
  readonly job: string;
  readonly number: number;
  readonly queueId: number;
  readonly parameters: ReadonlyMap<string, string>;
  readonly timestamp: number;
  building: boolean;
  result: FakeBuildResult | undefined;
  duration: number;
}

interface Failure {
  readonly status: number;
  readonly kind: 'status' | 'malformed';
}

const CRUMB_FIELD = 'Jenkins-Crumb';

export class FakeJenkins {
  readonly requests: RecordedRequest[] = [];
  readonly queue = new Map<number, FakeQueueItem>();
  readonly builds: FakeBuild[] = [];
  /** Notifications it sent, with the answer each got. */
  readonly notificationsSent: Array<{ readonly body: unknown; readonly status: number | string }> = [];
  crumbsEnabled: boolean;
  notifyUrl: string | undefined;
  private readonly jobs: Set<string>;
  private readonly nextNumber = new Map<string, number>();
  private nextQueueId = 1;
  private failures: Failure[] = [];
  private refusing = false;
  /** crumb -> session id it belongs to. */
  private readonly crumbs = new Map<string, string>();
  private server: Server | undefined;
  private baseUrl = '';
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: FakeJenkinsOptions) {
    this.jobs = new Set(options.jobs);
    this.crumbsEnabled = options.crumbs ?? true;
    this.notifyUrl = options.notifyUrl;
  }

  /** Jenkins' root URL, e.g. "http://127.0.0.1:41234". */
  get url(): string {
    if (this.baseUrl === '') throw new Error('FakeJenkins is not listening; call listen() first');
    return this.baseUrl;
  }

  async listen(port = 0): Promise<void> {
    const server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        response.statusCode = 500;
        response.end(String(error));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Stops listening: from now on, connections are refused (a Jenkins that is down). */
  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** The next `count` requests get HTTP `status` (500 by default) whatever they ask. */
  failNext(count: number, status = 500): void {
    for (let i = 0; i < count; i += 1) this.failures.push({ status, kind: 'status' });
  }

  /** The next `count` requests get 200 with a body that is not JSON. */
  malformedNext(count: number): void {
    for (let i = 0; i < count; i += 1) this.failures.push({ status: 200, kind: 'malformed' });
  }

  /** While on, every request is answered 401 as if the API token had been revoked. */
  refuseCredentials(on = true): void {
    this.refusing = on;
  }

  /** Forgets every crumb issued (a restarted Jenkins, an expired session): the next POST gets 403. */
  expireCrumbs(): void {
    this.crumbs.clear();
  }

  /** Starts the build of a queue item (the oldest waiting one by default); returns it. */
  startQueued(id?: number): FakeBuild {
    const item = id === undefined ? [...this.queue.values()].find((candidate) => candidate.buildNumber === undefined && !candidate.cancelled) : this.queue.get(id);
    if (!item || item.buildNumber !== undefined || item.cancelled) throw new Error(`no waiting queue item${id === undefined ? '' : ` ${id}`}`);
    const number = this.nextNumber.get(item.job) ?? 1;
    this.nextNumber.set(item.job, number + 1);
    item.buildNumber = number;
    const build: FakeBuild = { job: item.job, number, queueId: item.id, parameters: item.parameters, timestamp: Date.now(), building: true, result: undefined, duration: 0 };
    this.builds.push(build);
    this.notify(build, 'STARTED');
    return build;
  }

  /** Cancels a waiting queue item, as "Cancel" in the UI or POST /queue/cancelItem does. */
  cancelQueued(id: number): void {
    const item = this.queue.get(id);
    if (!item || item.buildNumber !== undefined) throw new Error(`queue item ${id} is not waiting`);
    item.cancelled = true;
  }

  /** Jenkins drops queue items a while after they left the queue: their api/json answers 404 from then on. */
  forgetQueueItem(id: number): void {
    const item = this.queue.get(id);
    if (item) item.forgotten = true;
  }

  /** Ends a running build with a result; sends the notifications when a notify URL is set. */
  finishBuild(job: string, number: number, result: FakeBuildResult, durationMs = 1234): FakeBuild {
    const build = this.build(job, number);
    if (!build?.building) throw new Error(`build ${job} #${number} is not running`);
    build.building = false;
    build.result = result;
    build.duration = durationMs;
    this.notify(build, 'COMPLETED');
    this.notify(build, 'FINALIZED');
    return build;
  }

  build(job: string, number: number): FakeBuild | undefined {
    return this.builds.find((build) => build.job === job && build.number === number);
  }

  /** Queue items created by POST buildWithParameters, oldest first. */
  triggered(): FakeQueueItem[] {
    return [...this.queue.values()];
  }

  /** Resolves once every notification sent so far got its answer. */
  async notificationsSettled(): Promise<void> {
    await Promise.all([...this.pendingNotifications]);
  }

  private readonly pendingNotifications = new Set<Promise<void>>();

  private notify(build: FakeBuild, phase: 'STARTED' | 'COMPLETED' | 'FINALIZED'): void {
    const target = this.notifyUrl;
    if (target === undefined || !(this.options.notifyPhases ?? ['STARTED', 'COMPLETED', 'FINALIZED']).includes(phase)) return;
    const jobUrl = jobUrlPath(build.job);
    const body = {
      name: build.job.split('/').pop() ?? build.job,
      display_name: build.job.split('/').pop() ?? build.job,
      url: jobUrl,
      build: {
        full_url: `${this.url}/${jobUrl}${build.number}/`,
        number: build.number,
        queue_id: build.queueId,
        timestamp: build.timestamp,
        duration: phase === 'STARTED' ? 0 : build.duration,
        phase,
        // On STARTED the plugin reports the previous build's status; give something misleading on purpose.
        status: phase === 'STARTED' ? 'FAILURE' : build.result,
        url: `${jobUrl}${build.number}/`,
        scm: {},
        parameters: Object.fromEntries(build.parameters),
        log: '',
        notes: '',
        artifacts: {},
      },
    };
    const sent = fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(
      async (response) => {
        await response.body?.cancel();
        this.notificationsSent.push({ body, status: response.status });
      },
      (error: unknown) => {
        this.notificationsSent.push({ body, status: error instanceof Error ? error.message : String(error) });
      },
    );
    this.pendingNotifications.add(sent);
    void sent.finally(() => this.pendingNotifications.delete(sent));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.url);
    const body = await readBody(request);
    const credentials = basicCredentials(request.headers.authorization);
    const crumbHeader = request.headers[CRUMB_FIELD.toLowerCase()];
    const record = (status: number): void => {
      this.requests.push({
        method: request.method ?? '',
        path: url.pathname,
        query: url.search,
        user: credentials?.user,
        crumb: typeof crumbHeader === 'string' ? crumbHeader : undefined,
        body,
        status,
      });
    };
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}): void => {
      record(status);
      const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
      response.writeHead(status, { 'content-type': typeof payload === 'string' ? 'text/html;charset=utf-8' : 'application/json;charset=utf-8', ...headers });
      response.end(text);
    };

    const failure = this.failures.shift();
    if (failure) {
      if (failure.kind === 'malformed') {
        record(200);
        response.writeHead(200, { 'content-type': 'application/json;charset=utf-8' });
        response.end('{"_class":"hudson.model.Queue$WaitingItem","id":');
      } else send(failure.status, `<html><body><h2>HTTP ERROR ${failure.status}</h2></body></html>`);
      return;
    }

    if (this.refusing || !credentials || credentials.user !== this.options.user || credentials.password !== this.options.token) {
      const who = credentials?.user ?? 'anonymous';
      send(401, `<html><body>Invalid password/token for user: ${escapeHtml(who)}</body></html>`, { 'www-authenticate': 'Basic realm="Jenkins"' });
      return;
    }

    const path = url.pathname;
    if (request.method === 'GET' && path === '/crumbIssuer/api/json') {
      if (!this.crumbsEnabled) {
        send(404, '<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>');
        return;
      }
      const session = sessionOf(request.headers.cookie) ?? randomBytes(8).toString('hex');
      const crumb = randomBytes(16).toString('hex');
      this.crumbs.set(crumb, session);
      send(200, { _class: 'hudson.security.csrf.DefaultCrumbIssuer', crumb, crumbRequestField: CRUMB_FIELD }, { 'set-cookie': `JSESSIONID.fake=${session}; Path=/; HttpOnly` });
      return;
    }

    if (request.method === 'POST' && this.crumbsEnabled) {
      const crumb = typeof crumbHeader === 'string' ? crumbHeader : undefined;
      const session = crumb === undefined ? undefined : this.crumbs.get(crumb);
      if (session === undefined || session !== sessionOf(request.headers.cookie)) {
        send(403, '<html><head><title>Error 403 No valid crumb was included in the request</title></head><body><h2>HTTP ERROR 403 No valid crumb was included in the request</h2></body></html>');
        return;
      }
    }

    const queueMatch = /^\/queue\/item\/(\d+)\/api\/json$/.exec(path);
    if (request.method === 'GET' && queueMatch) {
      const item = this.queue.get(Number(queueMatch[1]));
      if (!item || item.forgotten) {
        send(404, '<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>');
        return;
      }
      send(200, this.queueItemJson(item));
      return;
    }

    const jobRoute = parseJobPath(path);
    if (jobRoute) {
      if (!this.jobs.has(jobRoute.job)) {
        send(404, '<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>');
        return;
      }
      if (request.method === 'POST' && jobRoute.rest === 'buildWithParameters') {
        // Parameters come as a form body or the query string; the body wins, as in Stapler.
        const parameters = new Map<string, string>([...url.searchParams, ...new URLSearchParams(body)]);
        const waiting = [...this.queue.values()].find((candidate) => candidate.job === jobRoute.job && candidate.buildNumber === undefined && !candidate.cancelled && sameParameters(candidate.parameters, parameters));
        if (waiting !== undefined) {
          send(201, '', { location: `${this.url}/queue/item/${waiting.id}/` });
          return;
        }
        const item: FakeQueueItem = { id: this.nextQueueId, job: jobRoute.job, parameters, inQueueSince: Date.now(), cancelled: false, buildNumber: undefined, forgotten: false };
        this.nextQueueId += 1;
        this.queue.set(item.id, item);
        if (this.options.autoStartMs !== undefined) {
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            if (item.buildNumber === undefined && !item.cancelled) this.startQueued(item.id);
          }, this.options.autoStartMs);
          this.timers.add(timer);
        }
        send(201, '', { location: `${this.url}/queue/item/${item.id}/` });
        return;
      }
      if (request.method === 'GET' && jobRoute.rest === 'api/json') {
        // tree=builds[number,url,queueId]{0,100}: the newest builds first, within the range.
        const range = /\{(\d+),(\d+)\}$/.exec(url.searchParams.get('tree') ?? '');
        const builds = this.builds.filter((build) => build.job === jobRoute.job).sort((a, b) => b.number - a.number);
        const shown = range ? builds.slice(Number(range[1]), Number(range[2])) : builds.slice(0, 100);
        send(200, { _class: 'hudson.model.FreeStyleProject', builds: shown.map((build) => ({ _class: 'hudson.model.FreeStyleBuild', number: build.number, queueId: build.queueId, url: `${this.url}/${jobUrlPath(build.job)}${build.number}/` })) });
        return;
      }
      const buildMatch = /^(\d+)\/api\/json$/.exec(jobRoute.rest);
      if (request.method === 'GET' && buildMatch) {
        const build = this.build(jobRoute.job, Number(buildMatch[1]));
        if (!build) {
          send(404, '<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>');
          return;
        }
        send(200, this.buildJson(build));
        return;
      }
    }
    send(404, '<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>');
  }

  private queueItemJson(item: FakeQueueItem): unknown {
    const parametersAction = { _class: 'hudson.model.ParametersAction', parameters: [...item.parameters].map(([name, value]) => ({ _class: 'hudson.model.StringParameterValue', name, value })) };
    const task = { _class: 'hudson.model.FreeStyleProject', name: item.job.split('/').pop(), url: `${this.url}/${jobUrlPath(item.job)}`, color: 'blue' };
    const common = {
      actions: [parametersAction],
      blocked: false,
      buildable: false,
      id: item.id,
      inQueueSince: item.inQueueSince,
      params: [...item.parameters].map(([name, value]) => `\n${name}=${value}`).join(''),
      stuck: false,
      task,
      url: `queue/item/${item.id}/`,
      why: null as string | null,
    };
    if (item.cancelled) return { _class: 'hudson.model.Queue$LeftItem', ...common, cancelled: true, executable: null };
    if (item.buildNumber !== undefined) {
      return {
        _class: 'hudson.model.Queue$LeftItem',
        ...common,
        cancelled: false,
        executable: { _class: 'hudson.model.FreeStyleBuild', number: item.buildNumber, url: `${this.url}/${jobUrlPath(item.job)}${item.buildNumber}/` },
      };
    }
    return { _class: 'hudson.model.Queue$WaitingItem', ...common, buildable: true, why: 'Waiting for next available executor', executable: null };
  }

  private buildJson(build: FakeBuild): unknown {
    return {
      _class: 'hudson.model.FreeStyleBuild',
      actions: [{ _class: 'hudson.model.ParametersAction', parameters: [...build.parameters].map(([name, value]) => ({ _class: 'hudson.model.StringParameterValue', name, value })) }, { _class: 'hudson.model.CauseAction' }],
      building: build.building,
      description: null,
      displayName: `#${build.number}`,
      duration: build.duration,
      estimatedDuration: 1234,
      fullDisplayName: `${build.job.split('/').join(' » ')} #${build.number}`,
      id: String(build.number),
      number: build.number,
      queueId: build.queueId,
      result: build.result ?? null,
      timestamp: build.timestamp,
      url: `${this.url}/${jobUrlPath(build.job)}${build.number}/`,
    };
  }
}

/** "a/b" -> "job/a/job/b/" (Jenkins' relative job URL). */
function jobUrlPath(job: string): string {
  return job
    .split('/')
    .map((segment) => `job/${encodeURIComponent(segment)}/`)
    .join('');
}

/** "/job/a/job/b/42/api/json" -> { job: "a/b", rest: "42/api/json" }. */
function sameParameters(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  return a.size === b.size && [...a].every(([name, value]) => b.get(name) === value);
}

function parseJobPath(path: string): { job: string; rest: string } | undefined {
  const parts = path.split('/').slice(1);
  const names: string[] = [];
  let i = 0;
  while (parts[i] === 'job' && parts[i + 1] !== undefined && parts[i + 1] !== '') {
    names.push(decodeURIComponent(parts[i + 1] ?? ''));
    i += 2;
  }
  if (names.length === 0) return undefined;
  return { job: names.join('/'), rest: parts.slice(i).join('/') };
}

function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function sessionOf(cookie: string | undefined): string | undefined {
  return /(?:^|;\s*)JSESSIONID\.fake=([^;]+)/.exec(cookie ?? '')?.[1];
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
