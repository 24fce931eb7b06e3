// Runs a hook or action program: an argument list, never a shell; output read line by line for the
// live log; the last lines kept for the failure report; after its timeout SIGTERM to its process group
// (what it started too), SIGKILL 5 s later. It ends when the program exits, not when every process it
// left in the background (a server a restart hook started) has closed the output.
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
/** After a timeout: SIGTERM to the program's process group, then SIGKILL to what is still there this much later. */
const KILL_GRACE_MS = 5_000;
/** How long output is still read after the program exited, when something it started keeps it open. */
const STDIO_GRACE_MS = 250;

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
      // Its own process group: a timeout stops what the program started too (a `sleep` under `sh -c`).
      child = spawn(file, args, { cwd: options.cwd, env: { ...base, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (error) {
      resolve({ exitCode: -1, timedOut: false, problem: `could not run ${file} (${error instanceof Error ? error.message : String(error)})`, lastLines });
      return;
    }
    let done = false;
    const streams: Readable[] = [];
    const splitLines = (stream: Readable | null, name: 'stdout' | 'stderr'): void => {
      if (stream === null) return;
      streams.push(stream);
      let pending = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        if (done) return; // a background process the program left keeps writing: read and dropped, so it never blocks or gets SIGPIPE
        pending += chunk;
        let index = pending.indexOf('\n');
        while (index >= 0) {
          keep(name, pending.slice(0, index).replace(/\r$/, ''));
          pending = pending.slice(index + 1);
          index = pending.indexOf('\n');
        }
      });
      stream.on('end', () => {
        if (pending !== '' && !done) keep(name, pending);
        pending = '';
      });
    };
    splitLines(child.stdout, 'stdout');
    splitLines(child.stderr, 'stderr');
    let timedOut = false;
    let startError: NodeJS.ErrnoException | undefined;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let stdioGrace: NodeJS.Timeout | undefined;
    const signalGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        child.kill(signal); // the group is gone already
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      signalGroup('SIGTERM');
      // Whatever of the group outlives SIGTERM is killed later, even after the program itself has exited.
      setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS).unref();
    }, options.timeoutMs);
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(stdioGrace);
      // Output still open belongs to processes the program left running (a server a restart hook started):
      // it is drained without holding the agent up or alive.
      for (const stream of streams) (stream as Readable & { unref?: () => void }).unref?.();
      const code = exited?.code ?? null;
      const signal = exited?.signal ?? null;
      if (timedOut) resolve({ exitCode: code ?? -1, timedOut: true, problem: `killed after ${options.timeoutMs} ms`, lastLines });
      else if (startError !== undefined && (code === null || code < 0)) resolve({ exitCode: -1, timedOut: false, problem: `could not run ${file}${startError.code === undefined ? '' : ` (${startError.code})`}`, lastLines });
      else if (code === null && signal !== null) resolve({ exitCode: -1, timedOut: false, problem: `${file} was killed by ${signal}`, lastLines });
      else resolve({ exitCode: code ?? -1, timedOut: false, problem: undefined, lastLines });
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      startError = error;
      if (child.pid === undefined) finish(); // never started: no exit or close follows for certain
    });
    // The program has exited: its output is read to the end ('close'), or, when processes it started hold
    // the output open, for STDIO_GRACE_MS more. The deploy waits for the program, not for its background.
    child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
      exited = { code, signal };
      stdioGrace = setTimeout(finish, STDIO_GRACE_MS);
    });
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      exited ??= { code, signal };
      finish();
    });
  });
};
