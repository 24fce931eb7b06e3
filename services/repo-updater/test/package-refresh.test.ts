import { describe, expect, it } from 'vitest';
import { PackageRefreshQueue, runRefreshCommand, type PackageEvent, type RefreshOutcome } from '../src/index.js';
import { deferred, MemoryLogger, settle } from './support/fakes.js';

const node = process.execPath;

describe('runRefreshCommand (the real process edge)', () => {
  it('reports success with exit code 0 and the output', async () => {
    const outcome = await runRefreshCommand([node, '-e', 'console.log("Reading package lists... Done")'], { timeoutMs: 10_000 });
    expect(outcome).toMatchObject({ ok: true, exitCode: 0 });
    expect(outcome.error).toBeUndefined();
    expect(outcome.output).toContain('Reading package lists');
  });

  it('reports a failing command with its exit code and last words', async () => {
    const outcome = await runRefreshCommand([node, '-e', 'console.error("E: could not lock"); process.exit(100)'], { timeoutMs: 10_000 });
    expect(outcome.ok).toBe(false);
    expect(outcome.exitCode).toBe(100);
    expect(outcome.error).toBe('exited with status 100: E: could not lock');
  });

  it('kills a command that runs past its timeout and says so', async () => {
    const outcome = await runRefreshCommand([node, '-e', 'setTimeout(() => {}, 60000)'], { timeoutMs: 200 });
    expect(outcome.ok).toBe(false);
    expect(outcome.exitCode).toBeUndefined();
    expect(outcome.error).toMatch(/^timed out after 200 ms and was killed \(SIGTERM\)/);
  });

  it('reports a command that does not exist', async () => {
    const outcome = await runRefreshCommand(['deploybus-no-such-command-7f3c'], { timeoutMs: 10_000 });
    expect(outcome).toMatchObject({ ok: false, exitCode: undefined, error: 'command not found: deploybus-no-such-command-7f3c' });
  });

  it('passes arguments as they are, never through a shell', async () => {
    const outcome = await runRefreshCommand([node, '-e', 'console.log(process.argv[1])', '$(echo injected); echo ;'], { timeoutMs: 10_000 });
    expect(outcome.output.trim()).toBe('$(echo injected); echo ;');
  });

  it('keeps only the end of long output', async () => {
    const outcome = await runRefreshCommand([node, '-e', 'console.log("x".repeat(10000) + "END")'], { timeoutMs: 10_000, maxOutputChars: 100 });
    expect(outcome.output.length).toBeLessThanOrEqual(101);
    expect(outcome.output.trim().endsWith('END')).toBe(true);
  });
});

describe('PackageRefreshQueue', () => {
  function queue(runCommand: () => Promise<RefreshOutcome>) {
    const reports: Array<{ outcome: RefreshOutcome; events: readonly PackageEvent[] }> = [];
    const logger = new MemoryLogger();
    const q = new PackageRefreshQueue({
      names: ['shop-*', 'nginx'],
      runCommand,
      logger,
      report: async (outcome, events) => {
        reports.push({ outcome, events });
      },
    });
    return { q, reports, logger };
  }

  it('ignores packages that do not match, running nothing', async () => {
    let runs = 0;
    const { q, reports } = queue(async () => {
      runs += 1;
      return { ok: true, exitCode: 0, durationMs: 1, output: '' };
    });
    expect(q.offer({ package: 'postgresql', version: '16' })).toBeUndefined();
    await q.idle();
    expect(runs).toBe(0);
    expect(reports).toHaveLength(0);
  });

  it('serializes refreshes and folds a burst into one more run, reporting every update covered', async () => {
    const gates = [deferred<RefreshOutcome>(), deferred<RefreshOutcome>()];
    let runs = 0;
    const { q, reports } = queue(() => {
      const gate = gates[runs];
      runs += 1;
      if (gate === undefined) throw new Error('too many runs');
      return gate.promise;
    });
    void q.offer({ package: 'shop-assets', version: '1.0', messageId: 'p0' });
    await settle();
    for (let i = 1; i <= 5; i += 1) void q.offer({ package: 'shop-assets', version: `1.${i}`, messageId: `p${i}` });
    void q.offer({ package: 'shop-assets', version: '1.5', messageId: 'p5-again' });
    void q.offer({ package: 'nginx', version: '1.25' });
    await settle();
    expect(runs).toBe(1);
    gates[0]?.resolve({ ok: true, exitCode: 0, durationMs: 5, output: '' });
    await settle();
    expect(runs).toBe(2);
    gates[1]?.resolve({ ok: true, exitCode: 0, durationMs: 5, output: '' });
    await q.idle();
    expect(runs).toBe(2);
    expect(reports).toHaveLength(2);
    expect(reports[1]?.events.map((e) => `${e.package}@${e.version}`)).toEqual(['shop-assets@1.1', 'shop-assets@1.2', 'shop-assets@1.3', 'shop-assets@1.4', 'shop-assets@1.5', 'nginx@1.25']);
  });

  it('reports a failed refresh and keeps going', async () => {
    let runs = 0;
    const { q, reports, logger } = queue(async () => {
      runs += 1;
      if (runs === 1) return { ok: false, exitCode: 100, error: 'exited with status 100', durationMs: 3, output: 'E: lock' };
      throw new Error('spawn EACCES');
    });
    await q.offer({ package: 'nginx', version: '1' });
    await q.offer({ package: 'nginx', version: '2' });
    expect(reports.map((r) => r.outcome)).toEqual([
      { ok: false, exitCode: 100, error: 'exited with status 100', durationMs: 3, output: 'E: lock' },
      { ok: false, exitCode: undefined, error: 'spawn EACCES', durationMs: 0, output: '' },
    ]);
    expect(logger.lines.filter((l) => l.msg === 'package refresh failed')).toHaveLength(2);
  });
});
