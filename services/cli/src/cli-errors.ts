// Typed errors of the CLI: each carries the exit code the process ends with and a sentence for people.

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 64, // EX_USAGE
  config: 78, // EX_CONFIG
} as const;

export type CliErrorCode = 'INVALID_INPUT' | 'NOT_A_REPOSITORY' | 'HOOK_EXISTS' | 'WRITE_FAILED' | 'CONFIG_INVALID';

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly code: CliErrorCode,
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
