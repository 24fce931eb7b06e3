// A stand-in for GitHub's REST API as documented for commit statuses and deployments: Bearer token
// (401 "Bad credentials" otherwise), Accept application/vnd.github+json, the API version header;
// POST /repos/{owner}/{repo}/statuses/{sha} {state, target_url?, description?, context?} -> 201;
// POST /repos/{owner}/{repo}/deployments {ref, environment, payload, ...} -> 201 {id, ...};
// GET  /repos/{owner}/{repo}/deployments?sha=&environment= -> the matching deployments, newest first;
// POST /repos/{owner}/{repo}/deployments/{id}/statuses {state, log_url?, description?, environment?} -> 201.
// Bad fields get 422 "Validation Failed", as GitHub answers.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CommitStatus {
  readonly repo: string;
  readonly sha: string;
  readonly state: string;
  readonly context: string;
  readonly description: string | undefined;
  readonly targetUrl: string | undefined;
}

export interface GitHubDeployment {
  readonly id: number;
  readonly repo: string;
  readonly sha: string;
  readonly environment: string;
  readonly payload: unknown;
  readonly statuses: Array<{ state: string; logUrl: string | undefined; description: string | undefined }>;
}

const STATUS_STATES = ['error', 'failure', 'pending', 'success'];
const DEPLOYMENT_STATES = ['error', 'failure', 'inactive', 'in_progress', 'queued', 'pending', 'success'];

export class FakeGitHub {
  readonly statuses: CommitStatus[] = [];
  readonly deployments: GitHubDeployment[] = [];
  readonly problems: string[] = [];
  #server: Server | undefined;

  constructor(private readonly token: string) {}

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.#handle(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#server = server;
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse, text: string): void {
    const json = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const invalid = (why: string): void => {
      this.problems.push(why);
      json(422, { message: 'Validation Failed', errors: [{ message: why }] });
    };
    if (req.headers.authorization !== `Bearer ${this.token}`) return json(401, { message: 'Bad credentials' });
    if (req.headers.accept !== 'application/vnd.github+json' || req.headers['x-github-api-version'] !== '2022-11-28' || req.headers['user-agent'] === undefined) {
      return invalid(`headers: accept ${String(req.headers.accept)}, version ${String(req.headers['x-github-api-version'])}`);
    }
    const url = new URL(req.url ?? '/', 'http://github.test');
    let body: Record<string, unknown> = {};
    if (req.method === 'POST') {
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return json(400, { message: 'Problems parsing JSON' });
      }
    }
    const optionalString = (key: string): string | undefined => (typeof body[key] === 'string' ? body[key] : undefined);
    let m = /^\/repos\/([^/]+\/[^/]+)\/statuses\/([0-9a-f]{40})$/.exec(url.pathname);
    if (m !== null && req.method === 'POST') {
      if (!STATUS_STATES.includes(String(body.state))) return invalid(`state ${String(body.state)}`);
      const description = optionalString('description');
      if (description !== undefined && description.length > 140) return invalid('description is too long (maximum is 140 characters)');
      this.statuses.push({ repo: m[1] ?? '', sha: m[2] ?? '', state: String(body.state), context: optionalString('context') ?? 'default', description, targetUrl: optionalString('target_url') });
      return json(201, { id: this.statuses.length, state: body.state, context: body.context ?? 'default' });
    }
    m = /^\/repos\/([^/]+\/[^/]+)\/deployments$/.exec(url.pathname);
    if (m !== null && req.method === 'GET') {
      const sha = url.searchParams.get('sha');
      const environment = url.searchParams.get('environment');
      const found = this.deployments.filter((d) => d.repo === m?.[1] && (sha === null || d.sha === sha) && (environment === null || d.environment === environment));
      return json(200, [...found].reverse().map((d) => ({ id: d.id, sha: d.sha, environment: d.environment, payload: d.payload })));
    }
    if (m !== null && req.method === 'POST') {
      if (typeof body.ref !== 'string' || body.ref === '') return invalid('ref is missing');
      const deployment: GitHubDeployment = { id: 1000 + this.deployments.length, repo: m[1] ?? '', sha: body.ref, environment: optionalString('environment') ?? 'production', payload: body.payload ?? {}, statuses: [] };
      this.deployments.push(deployment);
      return json(201, { id: deployment.id, sha: deployment.sha, environment: deployment.environment, payload: deployment.payload });
    }
    m = /^\/repos\/([^/]+\/[^/]+)\/deployments\/(\d+)\/statuses$/.exec(url.pathname);
    if (m !== null && req.method === 'POST') {
      const deployment = this.deployments.find((d) => d.repo === m?.[1] && d.id === Number(m?.[2]));
      if (deployment === undefined) return json(404, { message: 'Not Found' });
      if (!DEPLOYMENT_STATES.includes(String(body.state))) return invalid(`state ${String(body.state)}`);
      const description = optionalString('description');
      if (description !== undefined && description.length > 140) return invalid('description is too long (maximum is 140 characters)');
      deployment.statuses.push({ state: String(body.state), logUrl: optionalString('log_url'), description });
      return json(201, { id: deployment.statuses.length, state: body.state });
    }
    json(404, { message: 'Not Found' });
  }
}
