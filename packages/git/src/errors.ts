// Typed errors at the git edge.

/** A repository URL, ref or path from outside was refused before it reached git. */
export class GitInputError extends Error {
  override readonly name = 'GitInputError';
  readonly code = 'GIT_INPUT_REFUSED';
  constructor(
    readonly field: 'url' | 'ref' | 'path' | 'name',
    readonly value: string,
    reason: string,
  ) {
    super(`${field} ${JSON.stringify(value.slice(0, 200))} refused: ${reason}`);
  }
}

/** git ran and failed; `stderr` holds its last words. */
export class GitCommandError extends Error {
  override readonly name = 'GitCommandError';
  readonly code = 'GIT_FAILED';
  constructor(
    readonly operation: string,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(`git ${operation} failed: ${stderr.trim().split('\n').slice(-3).join(' / ') || 'no output'}`, options);
  }
}
