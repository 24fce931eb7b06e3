// Runs a hook or action program: an argument list, never a shell; output read line by line for the
// live log; the last lines kept for the failure report; SIGTERM after its timeout, SIGKILL 5 s later.
// node:child_process rather than execa: a deploy runs its hooks while the agent waits, and execa
// doubled the agent's own CPU per program started (measured: ~3.3 ms against ~1.6 ms for `true`
// in a 60 MB process), for features (pipes between programs, buffering) hooks do not use.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface OutputLine {
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
  readonly at: string;
}

export interface RunCommandOptions {
  readonly argv: readonly string[];
  readonly cwd: string;
  /** Added to a minimal environment (PATH, HOME, LANG), not to the agent's own. */
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly onLine: (line: OutputLine) => void;
}

export interface CommandOutcome {
  readonly exitCode: number;
  readonly timedOut: boolean;
  /** A sentence when the program could not start or was killed. */
  readonly problem: string | undefined;
  readonly lastLines: readonly string[];
}

export type CommandRunner = (options: RunCommandOptions) => Promise<CommandOutcome>;

const KEEP_LINES = 20;

const MAX_LINE = 8192;
/** After a timeout: SIGTERM, then SIGKILL if the program is still there this much later. */
const KILL_GRACE_MS = 5_000;

export const runCommand: CommandRunner = (options) => {
  const [file, ...args] = options.argv;
  if (file === undefined) return Promise.resolve({ exitCode: -1, timedOut: false, problem: 'empty command', lastLines: [] });
  const lastLines: string[] = [];
  const keep = (stream: 'stdout' | 'stderr', text: string): void => {
    const line = text.length > MAX_LINE ? text.slice(0, MAX_LINE) : text;
    lastLines.push(line);
    if (lastLines.length > KEEP_LINES) lastLines.shift();
    options.onLine({ stream, text: line, at: new Date().toISOString() });
  };
  const base: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', LANG: process.env['LANG'] ?? 'C.UTF-8' };
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, { cwd: options.cwd, env: { ...base, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      resolve({ exitCode: -1, timedOut: false, problem: `could not run ${file} (${error instanceof Error ? error.message : String(error)})`, lastLines });
      return;
    }
    const splitLines = (stream: Readable | null, name: 'stdout' | 'stderr'): void => {
      if (stream === null) return;
      let pending = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        pending += chunk;
        let index = pending.indexOf('\n');
        while (index >= 0) {
          keep(name, pending.slice(0, index).replace(/\r$/, ''));
          pending = pending.slice(index + 1);
          index = pending.indexOf('\n');
        }
      });
      stream.on('end', () => {
        if (pending !== '') keep(name, pending);
        pending = '';
      });
    };
    splitLines(child.stdout, 'stdout');
    splitLines(child.stderr, 'stderr');
    let timedOut = false;
    let startError: NodeJS.ErrnoException | undefined;
    let forceKill: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      forceKill = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      forceKill.unref();
    }, options.timeoutMs);
    child.once('error', (error: NodeJS.ErrnoException) => {
      startError = error;
    });
    // 'close': the program has exited and its output is read to the end.
    child.once('close', (code: number | null) => {
      clearTimeout(timer);
      clearTimeout(forceKill);
      if (timedOut) resolve({ exitCode: code ?? -1, timedOut: true, problem: `killed after ${options.timeoutMs} ms`, lastLines });
      else if (startError !== undefined && (code === null || code < 0)) resolve({ exitCode: -1, timedOut: false, problem: `could not run ${file}${startError.code === undefined ? '' : ` (${startError.code})`}`, lastLines });
      else resolve({ exitCode: code ?? -1, timedOut: false, problem: undefined, lastLines });
    });
  });
};
