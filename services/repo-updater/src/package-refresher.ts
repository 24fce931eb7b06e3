// The process edge: runs the configured package refresh command (e.g. `apt-get update`) as an
// argument list, never through a shell, with a timeout. Nothing from a message reaches the command.
import { execa } from 'execa';

export interface RefreshOutcome {
  readonly ok: boolean;
  /** Absent when the command could not start or was killed (timeout, signal). */
  readonly exitCode: number | undefined;
  /** What went wrong, for people; absent on success. */
  readonly error?: string;
  readonly durationMs: number;
  /** stdout and stderr interleaved, cut to the last `maxOutputChars` characters. */
  readonly output: string;
}

export interface RefreshCommandOptions {
  readonly timeoutMs: number;
  /** Output kept for the log (default 4000 characters, the end of it). */
  readonly maxOutputChars?: number;
}

/** The refresh command as a function, so the logic can be tested with a fake. */
export type RefreshCommandRunner = () => Promise<RefreshOutcome>;

export async function runRefreshCommand(command: readonly string[], options: RefreshCommandOptions): Promise<RefreshOutcome> {
  const [file, ...args] = command;
  if (file === undefined) return { ok: false, exitCode: undefined, error: 'no refresh command configured', durationMs: 0, output: '' };
  const started = Date.now();
  const result = await execa(file, args, {
    timeout: options.timeoutMs,
    reject: false,
    all: true,
    stdin: 'ignore',
    shell: false,
    forceKillAfterDelay: 5_000,
    maxBuffer: 10_000_000,
  });
  const durationMs = Math.max(0, Math.round(Date.now() - started));
  const output = truncateEnd(String(result.all ?? ''), options.maxOutputChars ?? 4_000);
  if (!result.failed && result.exitCode === 0) return { ok: true, exitCode: 0, durationMs, output };
  let error: string;
  if (result.timedOut) error = `timed out after ${options.timeoutMs} ms and was killed (${result.signal ?? 'SIGTERM'})`;
  else if (result.code === 'ENOENT') error = `command not found: ${file}`;
  else if (result.exitCode !== undefined) error = `exited with status ${result.exitCode}`;
  else if (result.signal !== undefined) error = `killed by ${result.signal}`;
  else error = (result.shortMessage ?? 'failed').split('\n')[0] ?? 'failed';
  const lastLine = output.trim().split('\n').pop();
  if (lastLine !== undefined && lastLine !== '' && !result.timedOut) error += `: ${lastLine}`;
  return { ok: false, exitCode: result.exitCode, error: error.slice(0, 2_000), durationMs, output };
}

function truncateEnd(text: string, max: number): string {
  return text.length <= max ? text : `…${text.slice(text.length - max)}`;
}
