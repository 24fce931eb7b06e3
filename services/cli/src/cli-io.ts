// What the CLI gets from its process, passed in so tests can run it in-process with their own.
import type { Env } from '@deploybus/runtime';

export interface CliIo {
  readonly env: Env;
  readonly cwd: string;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly readStdin: () => Promise<string>;
  /** Absolute path of node and of this CLI's main.js, written into installed hooks. */
  readonly nodePath: string;
  readonly cliPath: string;
  /** stdout is a terminal: live commands draw a progress bar (default false: plain lines). */
  readonly stdoutIsTty?: boolean;
  /** The terminal's width (default 80). */
  readonly columns?: number;
  /** Aborted on Ctrl-C: live commands stop following and say how to go on. */
  readonly signal?: AbortSignal;
}

/** One JSON document on stdout (--json on a read or a command). */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

/** One JSON object per line on stdout (--json on a stream). */
export function printJsonLine(io: CliIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value)}\n`);
}
