// The API's deploy request (flat: hosts, batchSize...) and how it maps to the protocol's
// deploy.requested (targets.hosts, rollout.batchSize...), both ways for field names in errors; the
// ledger's deployments as the API shows them; and which release a rollback goes back to.
import { HOST_GLOB_PATTERN, HOST_GLOB_RULE, hostSchema, nameSchema, refSchema, type PayloadInputOf } from '@deploybus/protocol';
import { z } from 'zod';
import type { DeployAccepted, FieldMapper } from './bus-gateway.js';

export const deployBodySchema = z.strictObject({
  app: nameSchema,
  env: nameSchema,
  ref: refSchema,
  hosts: z.array(hostSchema).min(1).max(10_000).optional(),
  patterns: z.array(z.string().regex(HOST_GLOB_PATTERN, HOST_GLOB_RULE)).min(1).max(100).optional(),
  roles: z.array(nameSchema).min(1).max(100).optional(),
  batchSize: z.union([z.number().int().positive(), z.string().regex(/^(100|[1-9][0-9]?)%$/)], { error: 'must be a whole number above 0 or a percentage such as "25%"' }).optional(),
  canary: z.number().int().min(0).max(1000).optional(),
  maxUnavailable: z.number().int().positive().optional(),
  pauseMs: z.number().int().min(0).max(86_400_000).optional(),
  hostTimeoutMs: z.number().int().positive().max(86_400_000).optional(),
  rollbackOnFailure: z.boolean().optional(),
  force: z.boolean().optional(),
});

export type DeployBody = z.output<typeof deployBodySchema>;

const TARGET_FIELDS = new Set(['hosts', 'patterns', 'roles']);
const ROLLOUT_FIELDS = new Set(['batchSize', 'canary', 'maxUnavailable', 'pauseMs', 'hostTimeoutMs', 'rollbackOnFailure']);

/** `targets.hosts[1]` -> `hosts[1]`, `rollout.batchSize` -> `batchSize`. */
export const deployFieldName: FieldMapper = (field) => field.replace(/^(targets|rollout)\./, '');

export function toDeployRequest(body: DeployBody, requestedBy: string): PayloadInputOf<'deploy.requested'> {
  const targets: Record<string, unknown> = {};
  const rollout: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined) continue;
    if (TARGET_FIELDS.has(key)) targets[key] = value;
    if (ROLLOUT_FIELDS.has(key)) rollout[key] = value;
  }
  return {
    app: body.app,
    env: body.env,
    ref: body.ref,
    targets,
    rollout,
    requestedBy,
    ...(body.force === undefined ? {} : { force: body.force }),
  } as PayloadInputOf<'deploy.requested'>;
}

export interface AcceptedDeploy {
  readonly deploymentId: string;
  readonly app: string;
  readonly env: string;
  readonly ref: string;
  readonly sha?: string;
  readonly requestedBy: string;
  readonly position: number;
  readonly status: 'queued';
}

export function acceptedBody(queued: DeployAccepted): AcceptedDeploy {
  return {
    deploymentId: queued.deploymentId,
    app: queued.app,
    env: queued.env,
    ref: queued.ref,
    ...(queued.sha === undefined ? {} : { sha: queued.sha }),
    requestedBy: queued.requestedBy,
    position: queued.position,
    status: 'queued',
  };
}

/** A deployment as the ledger returns it (JSON: undefined fields are absent). */
export interface LedgerDeployment {
  readonly id: string;
  readonly app: string;
  readonly env: string;
  readonly ref: string;
  readonly sha?: string;
  readonly requestedBy: string;
  readonly state: string;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly reason?: string;
  readonly options?: unknown;
  readonly hosts?: readonly unknown[];
}

export interface ApiDeployment {
  readonly deploymentId: string;
  readonly app: string;
  readonly env: string;
  readonly ref: string;
  readonly sha: string | null;
  readonly state: string;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly durationMs: number | null;
  readonly reason: string | null;
}

export function toApiDeployment(d: LedgerDeployment): ApiDeployment {
  const durationMs = d.startedAt !== undefined && d.finishedAt !== undefined ? Math.max(0, Date.parse(d.finishedAt) - Date.parse(d.startedAt)) : null;
  return {
    deploymentId: d.id,
    app: d.app,
    env: d.env,
    ref: d.ref,
    sha: d.sha ?? null,
    state: d.state,
    requestedBy: d.requestedBy,
    requestedAt: d.createdAt,
    startedAt: d.startedAt ?? null,
    finishedAt: d.finishedAt ?? null,
    durationMs: Number.isNaN(durationMs) ? null : durationMs,
    reason: d.reason ?? null,
  };
}

/**
 * The deployment a rollback returns to: the last succeeded deployment before the current one (the
 * newest succeeded), skipping those of the same commit (going "back" to what already runs changes
 * nothing). `history` is newest first, as the ledger gives it.
 */
export function rollbackTarget(history: readonly LedgerDeployment[]): { current: LedgerDeployment; previous: LedgerDeployment } | { current: LedgerDeployment | undefined; previous: undefined } {
  const succeeded = history.filter((d) => d.state === 'succeeded');
  const current = succeeded[0];
  if (current === undefined) return { current: undefined, previous: undefined };
  const same = (d: LedgerDeployment): boolean => (d.sha !== undefined && current.sha !== undefined ? d.sha === current.sha : d.ref === current.ref);
  const previous = succeeded.slice(1).find((d) => !same(d));
  return previous === undefined ? { current, previous: undefined } : { current, previous };
}
