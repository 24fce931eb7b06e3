// The health check after a restart: an HTTP URL answering 2xx, a TCP port accepting a connection,
// or a command exiting 0, tried up to 1 + retries times with a pause between tries.
import { createConnection } from 'node:net';
import type { HealthCheckConfig } from './config.js';
import type { CommandRunner, OutputLine } from './command-runner.js';

export interface HealthOutcome {
  readonly ok: boolean;
  readonly tries: number;
  /** The last failure, for people. */
  readonly problem: string | undefined;
  readonly exitCode: number | undefined;
  readonly lastLines: readonly string[];
}

export interface HealthCheckOptions {
  readonly check: HealthCheckConfig;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly runCommand: CommandRunner;
  readonly onLine: (line: OutputLine) => void;
  readonly sleep?: (ms: number) => Promise<void>;
}

type Probe = { ok: true } | { ok: false; problem: string; exitCode?: number; lastLines?: readonly string[] };

export async function runHealthCheck(options: HealthCheckOptions): Promise<HealthOutcome> {
  const { check } = options;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let last: Probe = { ok: false, problem: 'not tried' };
  const attempts = 1 + check.retries;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    last = await probe(options);
    if (last.ok) return { ok: true, tries: attempt, problem: undefined, exitCode: undefined, lastLines: [] };
    options.onLine({ stream: 'stderr', text: `health check ${attempt}/${attempts} failed: ${last.problem}`, at: new Date().toISOString() });
    if (attempt < attempts) await sleep(check.intervalMs);
  }
  const failed = last as Exclude<Probe, { ok: true }>;
  return { ok: false, tries: attempts, problem: `health check failed after ${attempts} tries: ${failed.problem}`, exitCode: failed.exitCode, lastLines: failed.lastLines ?? [failed.problem] };
}

async function probe(options: HealthCheckOptions): Promise<Probe> {
  const { check } = options;
  if ('http' in check) {
    try {
      const response = await fetch(check.http, { signal: AbortSignal.timeout(check.timeoutMs), redirect: 'manual' });
      await response.body?.cancel();
      return response.status >= 200 && response.status < 300 ? { ok: true } : { ok: false, problem: `${check.http} answered HTTP ${response.status}` };
    } catch (error) {
      return { ok: false, problem: `${check.http} did not answer (${error instanceof Error ? error.message : String(error)})` };
    }
  }
  if ('tcp' in check) {
    const { host, port } = check.tcp;
    return new Promise<Probe>((resolve) => {
      const socket = createConnection({ host, port });
      const done = (probeResult: Probe): void => {
        socket.destroy();
        resolve(probeResult);
      };
      socket.setTimeout(check.timeoutMs, () => done({ ok: false, problem: `${host}:${port} did not accept within ${check.timeoutMs} ms` }));
      socket.once('connect', () => done({ ok: true }));
      socket.once('error', (error: NodeJS.ErrnoException) => done({ ok: false, problem: `${host}:${port} refused (${error.code ?? error.message})` }));
    });
  }
  const outcome = await options.runCommand({ argv: check.command, cwd: options.cwd, env: options.env, timeoutMs: check.timeoutMs, onLine: options.onLine });
  if (outcome.exitCode === 0 && outcome.problem === undefined) return { ok: true };
  return { ok: false, problem: outcome.problem ?? `${check.command[0] ?? ''} exited with ${outcome.exitCode}`, exitCode: outcome.exitCode, lastLines: outcome.lastLines };
}
