// The gates a deploy request passes before it may run: the environment lock, the build gate, and the
// one-active-deploy-per-app-and-environment queue. Pure: the caller gathers the state (from the ledger
// and the build records) and carries out the decision.
import type { PayloadOf } from '@deploybus/protocol';

export type DeployRequest = PayloadOf<'deploy.requested'>;
export type RefusalCode = PayloadOf<'deploy.refused'>['code'];

/** An environment lock: who, why, since when. */
export interface EnvironmentLock {
  readonly env: string;
  readonly lockedBy: string;
  readonly reason: string;
  /** ISO time the lock was taken. */
  readonly since: string;
}

/** What the build records say about the commit the requested ref resolves to. */
export type BuildGateAnswer =
  | { readonly state: 'passed'; readonly sha: string }
  | { readonly state: 'failed' | 'running'; readonly sha: string }
  | { readonly state: 'unknown'; readonly sha?: string | undefined };

/** A deployment of the same app and environment that is running or waiting. */
export interface DeploymentRef {
  readonly deploymentId: string;
  readonly app: string;
  readonly env: string;
  readonly ref: string;
  readonly requestedBy: string;
}

export interface GateInput {
  readonly request: DeployRequest;
  /** Whether the requester may force (an admin); `force` from anyone else is refused. */
  readonly mayForce: boolean;
  readonly lock: EnvironmentLock | undefined;
  readonly build: BuildGateAnswer;
  readonly active: DeploymentRef | undefined;
  /** Waiting deployments, oldest first; entries of other apps or environments are ignored. */
  readonly queue: readonly DeploymentRef[];
  /** Whether a newer request replaces the older queued ones of its app and environment (default true). */
  readonly supersedeQueued?: boolean;
}

export type GateDecision =
  | { readonly kind: 'accepted'; readonly position: 0; readonly sha: string | undefined; readonly supersedes: readonly DeploymentRef[]; readonly forced: boolean }
  | { readonly kind: 'queued'; readonly position: number; readonly sha: string | undefined; readonly supersedes: readonly DeploymentRef[]; readonly forced: boolean }
  | { readonly kind: 'refused'; readonly code: RefusalCode; readonly reason: string };

/**
 * Decides one request. Order: force permission, lock, build gate, then the queue. `force` (by someone who
 * may) passes the lock and the build gate, never the queue: two rollouts of one app in one environment
 * never run at once. A newer request supersedes the QUEUED ones of its app and environment (returned
 * in `supersedes`, for the caller to cancel), never the running one.
 */
export function evaluateGates(input: GateInput): GateDecision {
  const { request } = input;
  if (request.force && !input.mayForce) {
    return refused('INVALID_REQUEST', `${request.requestedBy} may not force a deploy; only admins may skip the lock and build gates`);
  }
  const forced = request.force;
  if (input.lock !== undefined && !forced) {
    const lock = input.lock;
    return refused('LOCKED', `${request.env} is locked by ${lock.lockedBy} since ${lock.since}: ${JSON.stringify(lock.reason)}; an admin may force the deploy`);
  }
  const build = input.build;
  if (build.state !== 'passed' && !forced) {
    const what = build.sha === undefined ? request.ref : `${request.ref} (${build.sha.slice(0, 12)})`;
    const why = build.state === 'failed' ? 'its build failed' : build.state === 'running' ? 'its build has not finished' : 'it has no succeeded build';
    return refused('BUILD_NOT_PASSED', `${what} cannot be deployed: ${why}`);
  }
  const sha = build.sha;

  const sameTarget = input.queue.filter((q) => q.app === request.app && q.env === request.env);
  const supersedes = (input.supersedeQueued ?? true) ? sameTarget : [];
  const ahead = sameTarget.length - supersedes.length;
  const active = input.active !== undefined && input.active.app === request.app && input.active.env === request.env;
  const position = (active ? 1 : 0) + ahead;
  if (position === 0) return { kind: 'accepted', position: 0, sha, supersedes, forced };
  return { kind: 'queued', position, sha, supersedes, forced };
}

function refused(code: RefusalCode, reason: string): GateDecision {
  return { kind: 'refused', code, reason };
}
