// GitHub for the deployed commit, through its REST API (api.github.com or GitHub Enterprise's /api/v3):
// - mode "status": a commit status (POST /repos/{owner}/{repo}/statuses/{sha}) per deploy started
//   (pending), succeeded (success), failed (failure), cancelled (error), under `context`;
// - mode "deployment": a GitHub deployment for the sha and environment (POST .../deployments, created at
//   deploy start, found again by the deploybus deployment id it carries in its payload, so a retry or a
//   restart never makes a second one) and its statuses (POST .../deployments/{id}/statuses: in_progress,
//   success, failure, error).
// Headers as GitHub documents them: a Bearer token, Accept application/vnd.github+json, the API version.
import { DeliveryError } from './errors.js';
import type { Destination } from './destination.js';
import { linkFor, type DeploymentFactsCache, type DeploymentSummary } from './deployment-facts.js';
import { expectSuccess, type HttpSender } from './http-sender.js';
import { USER_AGENT } from './webhook-destination.js';

export const GITHUB_EVENTS = ['deploy.started', 'deploy.succeeded', 'deploy.failed', 'deploy.cancelled'] as const;
export const GITHUB_API_VERSION = '2022-11-28';

export interface GitHubNotifierOptions {
  readonly name: string;
  /** "https://api.github.com", or GitHub Enterprise's "https://HOST/api/v3". */
  readonly apiUrl: string;
  readonly token: string;
  /** app -> "owner/repo"; events of other apps are left alone. */
  readonly repos: Readonly<Record<string, string>>;
  readonly env?: string | undefined;
  readonly mode: 'status' | 'deployment';
  /** Commit status context; "{env}" and "{app}" are filled in. */
  readonly context: string;
  readonly link?: string | undefined;
  readonly timeoutMs: number;
}

type Outcome = { status: 'pending' | 'success' | 'failure' | 'error'; deployment: 'in_progress' | 'success' | 'failure' | 'error'; description: string };

function outcomeOf(type: string, s: DeploymentSummary, payload: { reason?: unknown }): Outcome | undefined {
  const who = s.requestedBy ?? 'someone';
  switch (type) {
    case 'deploy.started':
      return { status: 'pending', deployment: 'in_progress', description: `deploying to ${s.env} (${who})` };
    case 'deploy.succeeded':
      return { status: 'success', deployment: 'success', description: `deployed to ${s.env} (${who})` };
    case 'deploy.failed':
      return { status: 'failure', deployment: 'failure', description: `deploy to ${s.env} failed: ${String(payload.reason ?? '')}` };
    case 'deploy.cancelled':
      return { status: 'error', deployment: 'error', description: `deploy to ${s.env} cancelled` };
    default:
      return undefined;
  }
}

/** GitHub refuses descriptions over 140 characters. */
const short = (text: string): string => (text.length <= 140 ? text : `${text.slice(0, 139)}…`);

export function githubDestination(o: GitHubNotifierOptions, deps: { sender: HttpSender; facts: DeploymentFactsCache }): Destination {
  const id = `github:${o.name}`;
  const api = o.apiUrl.replace(/\/+$/, '');
  const headers = { accept: 'application/vnd.github+json', authorization: `Bearer ${o.token}`, 'x-github-api-version': GITHUB_API_VERSION, 'user-agent': USER_AGENT, 'content-type': 'application/json' };
  const call = async (method: 'GET' | 'POST', path: string, body: unknown, signal: AbortSignal): Promise<unknown> => {
    const answer = expectSuccess(id, await deps.sender.send(id, { method, url: `${api}${path}`, headers, timeoutMs: o.timeoutMs, signal, ...(body === undefined ? {} : { body: JSON.stringify(body) }) }));
    try {
      return JSON.parse(answer.body) as unknown;
    } catch {
      return undefined;
    }
  };
  const repoPath = (repo: string): string => `/repos/${repo.split('/').map(encodeURIComponent).join('/')}`;

  /** The GitHub deployment for this deploybus deployment: found by its payload, else created. */
  const githubDeployment = async (repo: string, s: DeploymentSummary & { sha: string }, create: boolean, signal: AbortSignal): Promise<number | undefined> => {
    const query = `?sha=${encodeURIComponent(s.sha)}&environment=${encodeURIComponent(s.env)}&per_page=100`;
    const listed = await call('GET', `${repoPath(repo)}/deployments${query}`, undefined, signal);
    if (Array.isArray(listed)) {
      for (const d of listed as Array<{ id?: unknown; payload?: unknown }>) {
        const payload = typeof d.payload === 'string' ? safeJson(d.payload) : d.payload;
        if ((payload as { deploybusDeploymentId?: unknown } | null)?.deploybusDeploymentId === s.deploymentId && typeof d.id === 'number') return d.id;
      }
    }
    if (!create) return undefined;
    const created = (await call('POST', `${repoPath(repo)}/deployments`, {
      ref: s.sha,
      environment: s.env,
      description: short(`${s.app} ${s.ref ?? s.sha} by ${s.requestedBy ?? 'someone'}`),
      auto_merge: false,
      required_contexts: [],
      production_environment: s.env === 'production',
      payload: { deploybusDeploymentId: s.deploymentId, app: s.app },
    }, signal)) as { id?: unknown } | undefined;
    if (typeof created?.id !== 'number') throw new DeliveryError(id, 'GitHub created a deployment but its answer has no id', true);
    return created.id;
  };

  return {
    id,
    filter: { types: GITHUB_EVENTS, env: o.env },
    async deliver(event, _attempt, signal) {
      const summary = await deps.facts.summaryOf(event);
      const repo = summary === undefined ? undefined : o.repos[summary.app];
      if (summary === undefined || repo === undefined || summary.sha === undefined) return;
      const outcome = outcomeOf(event.type, summary, (event.payload ?? {}) as { reason?: unknown });
      if (outcome === undefined) return;
      const link = linkFor(o.link, summary);
      const s = { ...summary, sha: summary.sha };
      if (o.mode === 'status') {
        await call('POST', `${repoPath(repo)}/statuses/${encodeURIComponent(s.sha)}`, {
          state: outcome.status,
          description: short(outcome.description),
          context: o.context.replace(/\{env\}/g, s.env).replace(/\{app\}/g, s.app),
          ...(link === undefined ? {} : { target_url: link }),
        }, signal);
        return;
      }
      const deploymentId = await githubDeployment(repo, s, event.type === 'deploy.started' || event.type === 'deploy.succeeded' || event.type === 'deploy.failed', signal);
      if (deploymentId === undefined) return; // cancelled before it started: no GitHub deployment to mark
      await call('POST', `${repoPath(repo)}/deployments/${deploymentId}/statuses`, {
        state: outcome.deployment,
        description: short(outcome.description),
        environment: s.env,
        ...(link === undefined ? {} : { log_url: link }),
      }, signal);
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
