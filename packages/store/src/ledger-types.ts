// What goes into the ledger and what comes out. Times go in as Date or ISO string and come out as ISO strings.

export type TimeInput = Date | string;

export interface LedgerEventInput {
  /** The message id; an event already stored under it is not stored again. */
  readonly id: string;
  readonly type: string;
  readonly deploymentId?: string | undefined;
  readonly app?: string | undefined;
  readonly env?: string | undefined;
  readonly time: TimeInput;
  readonly payload: unknown;
}

export interface LedgerEvent {
  /** Position in the ledger; pass the last one seen to `eventsAfter` to continue. */
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly deploymentId: string | undefined;
  readonly app: string | undefined;
  readonly env: string | undefined;
  readonly time: string;
  readonly payload: unknown;
}

/** Narrows an event replay. `types` are exact types ("deploy.started") or a prefix with a star ("task.*", "*"). */
export interface EventFilter {
  readonly deploymentId?: string | undefined;
  readonly app?: string | undefined;
  readonly env?: string | undefined;
  readonly types?: readonly string[] | undefined;
}

export interface EventPage {
  readonly events: LedgerEvent[];
  /** The cursor to pass next time (the last event's seq, or the given cursor when there was nothing new). */
  readonly cursor: number;
}

export const DEPLOYMENT_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'superseded'] as const;
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number];
export type FinishedState = Exclude<DeploymentState, 'queued' | 'running'>;

export interface NewDeployment {
  readonly id: string;
  readonly app: string;
  readonly env: string;
  readonly ref: string;
  readonly sha?: string | undefined;
  readonly requestedBy: string;
  readonly createdAt: TimeInput;
  readonly options?: unknown;
}

export interface Deployment {
  readonly id: string;
  readonly app: string;
  readonly env: string;
  readonly ref: string;
  readonly sha: string | undefined;
  readonly requestedBy: string;
  readonly state: DeploymentState;
  readonly createdAt: string;
  readonly startedAt: string | undefined;
  readonly finishedAt: string | undefined;
  readonly options: unknown;
  readonly reason: string | undefined;
}

export interface HostResultInput {
  readonly host: string;
  readonly outcome: string;
  readonly release?: string | undefined;
  readonly durationMs?: number | undefined;
  readonly error?: string | undefined;
  readonly at: TimeInput;
}

export interface HostResult {
  readonly host: string;
  readonly outcome: string;
  readonly release: string | undefined;
  readonly durationMs: number | undefined;
  readonly error: string | undefined;
  readonly at: string;
}

export interface DeploymentWithHosts extends Deployment {
  readonly hosts: HostResult[];
}

export interface HistoryQuery {
  readonly app?: string | undefined;
  readonly env?: string | undefined;
  readonly limit: number;
  /** Skip this many of the newest first (at most 1,000,000). */
  readonly offset?: number | undefined;
  /** A deployment id: return only deployments created before that one (the next page). */
  readonly before?: string | undefined;
}

export interface LogLineInput {
  readonly seq: number;
  readonly line: string;
  readonly at: TimeInput;
  /** 'stdout', 'stderr' or 'agent'; 'stdout' when absent. */
  readonly stream?: string | undefined;
}

export interface LogLine {
  readonly host: string;
  readonly seq: number;
  readonly stream: string;
  readonly line: string;
  readonly at: string;
}

export interface LogQuery {
  readonly host?: string | undefined;
  readonly offset?: number | undefined;
  readonly limit?: number | undefined;
}

export interface ReleaseInput {
  readonly app: string;
  readonly env: string;
  readonly host: string;
  readonly release: string;
  readonly ref: string;
  readonly sha?: string | undefined;
  readonly at: TimeInput;
}

export interface Release {
  readonly app: string;
  readonly env: string;
  readonly host: string;
  readonly release: string;
  readonly ref: string;
  readonly sha: string | undefined;
  readonly at: string;
}

export interface MatrixHost extends Release {
  readonly differsFromCommon: boolean;
  /** False when nothing of this app and environment has succeeded yet. */
  readonly differsFromLastDeployed: boolean;
  /** Differs from the last deployed version, or (before any deployment succeeded) from the most common one: by ref, and by commit where both commits are known. */
  readonly drift: boolean;
}

export interface ReleaseMatrix {
  readonly app: string;
  readonly env: string;
  /** The ref most hosts run (ties: the one seen most recently). */
  readonly commonRef: string | undefined;
  /** The commit most hosts on commonRef run, where commits are known. */
  readonly commonSha: string | undefined;
  /** The ref of the last deployment of this app and environment that succeeded. */
  readonly lastDeployedRef: string | undefined;
  /** That deployment's commit. */
  readonly lastDeployedSha: string | undefined;
  readonly hosts: MatrixHost[];
}

export interface LockInput {
  /** Absent: the whole environment. */
  readonly app?: string | undefined;
  readonly env: string;
  readonly by: string;
  readonly reason: string;
  readonly at: TimeInput;
}

export interface Lock {
  readonly app: string | undefined;
  readonly env: string;
  readonly by: string;
  readonly reason: string;
  readonly at: string;
}

export interface LockResult {
  /** False when a lock was already there; `lock` is then that existing lock. */
  readonly acquired: boolean;
  readonly lock: Lock;
}

export type UnlockResult =
  | { readonly status: 'unlocked'; readonly lock: Lock }
  | { readonly status: 'not-locked' }
  | { readonly status: 'held-by-other'; readonly lock: Lock };

export interface BuildInput {
  readonly repo: string;
  readonly sha: string;
  readonly status: 'started' | 'succeeded' | 'failed' | 'aborted';
  readonly job: string;
  readonly number: number;
  readonly url?: string | undefined;
  readonly at: TimeInput;
}

export interface Lease {
  readonly key: string;
  readonly owner: string;
  readonly acquiredAt: string;
  readonly expiresAt: string;
}
