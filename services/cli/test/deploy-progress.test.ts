// What a person sees while following a deploy, and which event ends it with which exit code.
import { describe, expect, it } from 'vitest';
import { DeployProgress, exitCodeOf, finalStateOf } from '../src/deploy-progress.js';
import { EXIT } from '../src/cli-errors.js';
import { formatDuration, printable, progressBar, renderTable } from '../src/human-format.js';

const ID = 'demo-production-0001';
const base = { deploymentId: ID, app: 'demo', env: 'production' };
const SHA = 'a'.repeat(40);
let n = 0;
const ev = (type: string, payload: object): { id: string; type: string; payload: unknown } => ({ id: `m-${(n += 1)}`, type, payload });

describe('DeployProgress', () => {
  it('counts hosts done out of the targets, shows a line per host, and ends on deploy.succeeded', () => {
    const progress = new DeployProgress(ID, { verbose: false });
    expect(progress.apply(ev('deploy.started', { ...base, ref: 'v1.2.0', sha: SHA, requestedBy: 'ci', hosts: ['web1', 'web2'], batches: [['web1'], ['web2']] })).lines).toEqual([
      'started: v1.2.0 (aaaaaaaaaa) on 2 host(s) in 2 batches, asked by ci',
    ]);
    expect([progress.done, progress.total]).toEqual([0, 2]);
    expect(progress.apply(ev('deploy.batch', { ...base, index: 1, total: 2, hosts: ['web1'] })).lines).toEqual(['batch 1/2: web1']);
    // Steps are only shown with --verbose, but they are still this deployment's.
    expect(progress.apply(ev('task.started', { ...base, host: 'web1', step: 'checkout' }))).toEqual({ fresh: true, lines: [] });
    const hostResult = ev('deploy.host-result', { ...base, host: 'web1', outcome: 'succeeded', release: '20261122-v1.2.0', durationMs: 1500 });
    expect(progress.apply(hostResult).lines).toEqual(['web1  succeeded  20261122-v1.2.0  1.5 s']);
    expect(progress.apply(hostResult)).toEqual({ fresh: false, lines: [] }); // the same event again (replay and live overlap)
    expect(progress.done).toBe(1);
    progress.apply(ev('deploy.host-result', { ...base, host: 'web2', outcome: 'succeeded' }));
    const end = progress.apply(ev('deploy.succeeded', { ...base, ref: 'v1.2.0', durationMs: 4000, succeededHosts: ['web1', 'web2'], failedHosts: [] }));
    expect(end.lines).toEqual(['succeeded: v1.2.0, 2 host(s) deployed, in 4.0 s']);
    expect(end.outcome).toEqual({ state: 'succeeded', reason: undefined, succeededHosts: ['web1', 'web2'], failedHosts: [], durationMs: 4000 });
    expect(progress.done).toBe(2);
  });

  it('ignores other deployments\' events and payloads that do not fit', () => {
    const progress = new DeployProgress(ID, { verbose: true });
    expect(progress.apply(ev('deploy.host-result', { ...base, deploymentId: 'other-deployment-1', host: 'web1', outcome: 'failed' }))).toEqual({ fresh: false, lines: [] });
    expect(progress.apply(ev('deploy.failed', { ...base, reason: 'missing fields' })).outcome).toBeUndefined();
    expect(progress.apply(ev('presence.changed', { service: 'x' })).lines).toEqual([]);
    expect(progress.done).toBe(0);
  });

  it('shows steps and agent output with --verbose, and ends failed with the reason', () => {
    const progress = new DeployProgress(ID, { verbose: true });
    expect(progress.apply(ev('task.completed', { ...base, host: 'web1', step: 'health-check', ok: false, durationMs: 20, exitCode: 3 })).lines).toEqual(['web1  health-check FAILED (exit 3)  20 ms']);
    expect(progress.apply(ev('task.log', { ...base, host: 'web1', step: 'restart', seq: 0, lines: [{ stream: 'stdout', text: 'restarting', at: '2026-11-22T10:00:00.000Z' }] })).lines).toEqual(['web1  | restarting']);
    const end = progress.apply(ev('deploy.failed', { ...base, ref: 'v1.2.0', durationMs: 10, succeededHosts: [], failedHosts: ['web1'], reason: 'web1: health-check failed' }));
    expect(end.lines).toEqual(['failed: web1: health-check failed; 0 host(s) deployed, 1 not (web1)']);
    expect(end.outcome?.state).toBe('failed');
  });

  it('ends cancelled on deploy.cancelled', () => {
    const progress = new DeployProgress(ID, { verbose: false });
    const end = progress.apply(ev('deploy.cancelled', { ...base, cancelledBy: 'ada', reason: 'wrong tag' }));
    expect(end.lines).toEqual(['cancelled by ada: wrong tag']);
    expect(end.outcome?.state).toBe('cancelled');
  });
});

describe('outcomes and exit codes', () => {
  it('gives each outcome its own exit code, and reads finished ledger states', () => {
    expect([exitCodeOf('succeeded'), exitCodeOf('failed'), exitCodeOf('cancelled')]).toEqual([EXIT.ok, EXIT.failed, EXIT.cancelled]);
    expect(new Set([EXIT.ok, EXIT.failed, EXIT.refused, EXIT.cancelled, EXIT.usage, EXIT.unavailable, EXIT.unauthorized]).size).toBe(7);
    expect(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'superseded'].map(finalStateOf)).toEqual([undefined, undefined, 'succeeded', 'failed', 'cancelled', 'cancelled']);
  });
});

describe('human format', () => {
  it('draws a bar of hosts done, aligns columns, and keeps control characters out of the terminal', () => {
    expect(progressBar(1, 4, 80)).toBe(`[${'#'.repeat(10)}${'-'.repeat(30)}] 1/4 hosts`);
    expect(progressBar(0, 0, 20)).toBe(`[${'-'.repeat(10)}] 0/0 hosts`);
    expect(renderTable(['A', 'LONGER'], [['xyz', '1'], ['x', '22']])).toBe('A    LONGER\nxyz  1\nx    22\n');
    expect(printable('ok\u001b[2Jgone\u0007')).toBe('ok?[2Jgone?');
    expect([formatDuration(250), formatDuration(61_000), formatDuration(undefined)]).toEqual(['250 ms', '1m01s', '-']);
  });
});
