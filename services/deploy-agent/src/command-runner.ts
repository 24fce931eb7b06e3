// Runs a hook or action program with execa: an argument list, never a shell; output read line by
// line for the live log; the last lines kept for the failure report; killed after its timeout.
// execa is loaded on the first command, not at start: an idle agent does not carry it.

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

let execaModule: Promise<typeof import('execa')> | undefined;
const MAX_LINE = 8192;

export const runCommand: CommandRunner = async (options) => {
  const [file, ...args] = options.argv;
  if (file === undefined) return { exitCode: -1, timedOut: false, problem: 'empty command', lastLines: [] };
  const lastLines: string[] = [];
  const keep = (stream: 'stdout' | 'stderr', text: string): void => {
    const line = text.length > MAX_LINE ? text.slice(0, MAX_LINE) : text;
    lastLines.push(line);
    if (lastLines.length > KEEP_LINES) lastLines.shift();
    options.onLine({ stream, text: line, at: new Date().toISOString() });
  };
  const { execa } = await (execaModule ??= import('execa'));
  const base: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', LANG: process.env['LANG'] ?? 'C.UTF-8' };
  const child = execa(file, args, {
    cwd: options.cwd,
    env: { ...base, ...options.env },
    extendEnv: false,
    timeout: options.timeoutMs,
    reject: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
  });
  const readLines = async (stream: NodeJS.ReadableStream | null, name: 'stdout' | 'stderr'): Promise<void> => {
    if (stream === null) return;
    let pending = '';
    for await (const chunk of stream) {
      pending += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      let index = pending.indexOf('\n');
      while (index >= 0) {
        keep(name, pending.slice(0, index).replace(/\r$/, ''));
        pending = pending.slice(index + 1);
        index = pending.indexOf('\n');
      }
    }
    if (pending !== '') keep(name, pending);
  };
  const [result] = await Promise.all([child, readLines(child.stdout, 'stdout'), readLines(child.stderr, 'stderr')]);
  if (result.timedOut) return { exitCode: result.exitCode ?? -1, timedOut: true, problem: `killed after ${options.timeoutMs} ms`, lastLines };
  if (result.failed && result.exitCode === undefined) {
    const code = (result.cause as NodeJS.ErrnoException | undefined)?.code;
    return { exitCode: -1, timedOut: false, problem: `could not run ${file}${code === undefined ? '' : ` (${code})`}`, lastLines };
  }
  return { exitCode: result.exitCode ?? -1, timedOut: false, problem: undefined, lastLines };
};
