// Gates: force permission, lock, build gate, and the one-active-deploy queue with superseding.
import { describe, expect, it } from 'vitest';
import { evaluateGates, type DeployRequest, type DeploymentRef, type GateInput } from '../src/index.js';

const SHA = '9fceb02d0ae598e95dc970b74767f19372d61af8';

function request(overrides: Partial<DeployRequest> = {}): DeployRequest {
  return {
    app: 'shop',
    env: 'production',
    ref: 'v1.4.1',
    targets: {},
    rollout: { canary: 0, batchSize: 1, pauseMs: 0, hostTimeoutMs: 600_000, rollbackOnFailure: true },
    requestedBy: 'ada',
    force: false,
    ...overrides,
  };
}

const deployment = (id: string, overrides: Partial<DeploymentRef> = {}): DeploymentRef => ({ deploymentId: id, app: 'shop', env: 'production', ref: 'v1.4.0', requestedBy: 'bob', ...overrides });

function input(overrides: Partial<GateInput> = {}): GateInput {
  return { request: request(), mayForce: false, lock: undefined, build: { state: 'passed', sha: SHA }, active: undefined, queue: [], ...overrides };
}

const lock = { env: 'production', lockedBy: 'bob', reason: 'incident 311', since: '2026-11-22T09:12:00.000Z' };

describe('evaluateGates', () => {
  it('accepts a request for a free, unlocked environment with a passed build, with its sha', () => {
    expect(evaluateGates(input())).toEqual({ kind: 'accepted', position: 0, sha: SHA, supersedes: [], forced: false });
  });

  it('refuses a locked environment with who, why and since', () => {
    const decision = evaluateGates(input({ lock }));
    expect(decision).toMatchObject({ kind: 'refused', code: 'LOCKED' });
    expect(decision.kind === 'refused' && decision.reason).toMatch(/bob.*2026-11-22T09:12.*incident 311/);
  });

  it('refuses a commit whose build did not pass, saying why', () => {
    for (const [build, why] of [
      [{ state: 'failed', sha: SHA }, 'failed'],
      [{ state: 'running', sha: SHA }, 'not finished'],
      [{ state: 'unknown' }, 'no succeeded build'],
    ] as const) {
      const decision = evaluateGates(input({ build }));
      expect(decision).toMatchObject({ kind: 'refused', code: 'BUILD_NOT_PASSED' });
      expect(decision.kind === 'refused' && decision.reason).toContain(why);
    }
  });

  it('lets an admin force past the lock and the build gate', () => {
    const decision = evaluateGates(input({ request: request({ force: true }), mayForce: true, lock, build: { state: 'failed', sha: SHA } }));
    expect(decision).toEqual({ kind: 'accepted', position: 0, sha: SHA, supersedes: [], forced: true });
  });

  it('refuses force from someone who may not force, even on an open environment', () => {
    expect(evaluateGates(input({ request: request({ force: true }), mayForce: false }))).toMatchObject({ kind: 'refused', code: 'INVALID_REQUEST' });
  });

  it('queues behind the running deploy of the same app and environment, even when forced', () => {
    expect(evaluateGates(input({ active: deployment('d-running') }))).toMatchObject({ kind: 'queued', position: 1, supersedes: [] });
    expect(evaluateGates(input({ request: request({ force: true }), mayForce: true, active: deployment('d-running') }))).toMatchObject({ kind: 'queued', position: 1 });
  });

  it('supersedes the older queued requests, never the running one', () => {
    const queue = [deployment('d-q1'), deployment('d-q2')];
    const decision = evaluateGates(input({ active: deployment('d-running'), queue }));
    expect(decision).toMatchObject({ kind: 'queued', position: 1 });
    expect(decision.kind !== 'refused' && decision.supersedes.map((d) => d.deploymentId)).toEqual(['d-q1', 'd-q2']);
  });

  it('starts at once when only superseded requests were waiting', () => {
    const decision = evaluateGates(input({ queue: [deployment('d-q1')] }));
    expect(decision).toMatchObject({ kind: 'accepted', position: 0 });
    expect(decision.kind !== 'refused' && decision.supersedes.map((d) => d.deploymentId)).toEqual(['d-q1']);
  });

  it('waits behind the queue when superseding is off', () => {
    const queue = [deployment('d-q1'), deployment('d-q2')];
    expect(evaluateGates(input({ active: deployment('d-running'), queue, supersedeQueued: false }))).toEqual({ kind: 'queued', position: 3, sha: SHA, supersedes: [], forced: false });
  });

  it('ignores deployments of other apps and environments', () => {
    const other = [deployment('d-api', { app: 'api' }), deployment('d-stage', { env: 'staging' })];
    expect(evaluateGates(input({ active: deployment('d-api-run', { app: 'api' }), queue: other }))).toEqual({ kind: 'accepted', position: 0, sha: SHA, supersedes: [], forced: false });
  });

  it('checks the lock before the build, so a locked environment says LOCKED', () => {
    expect(evaluateGates(input({ lock, build: { state: 'failed', sha: SHA } }))).toMatchObject({ code: 'LOCKED' });
  });
});
