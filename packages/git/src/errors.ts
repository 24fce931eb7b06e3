// Typed errors at the git edge. Their messages never carry a password or token that stood in a URL.

/** Replaces the credentials in every URL in `text` (https://user:token@host -> https://user:***@host). */
export function redactCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/@\s:]+):([^/@\s]+)@/gi, '$1$2:***@').replace(/(https?:\/\/)([^/@\s:*]+)@/gi, '$1***@'); // https://TOKEN@host carries a token as the user
}

/** A repository URL, ref or path from outside was refused before it reached git. */
export class GitInputError extends Error {
  override readonly name = 'GitInputError';
  readonly code = 'GIT_INPUT_REFUSED';
  readonly value: string;
  constructor(
    readonly field: 'url' | 'ref' | 'path' | 'name',
    value: string,
    reason: string,
  ) {
    super(`${field} ${JSON.stringify(redactCredentials(value.slice(0, 200)))} refused: ${reason}`);
    this.value = redactCredentials(value);
  }
}

/** git ran and failed; `stderr` holds its last words. */
export class GitCommandError extends Error {
  override readonly name = 'GitCommandError';
  readonly code = 'GIT_FAILED';
  readonly stderr: string;
  /** No `cause`: simple-git's error repeats the command line, credentials included. */
  constructor(
    readonly operation: string,
    stderr: string,
  ) {
    const clean = redactCredentials(stderr);
    // git's fatal/error lines name the problem; its hints after them ("Please make sure you have the
    // correct access rights") do not, so they are shown only when there is nothing else.
    const lines = clean.split(/[\r\n]+/).map((line) => line.trim()).filter((line) => line !== ''); // \r: progress lines
    const errors = lines.filter((line) => /^(fatal|error):/i.test(line));
    super(`git ${operation} failed: ${(errors.length > 0 ? errors : lines).slice(-3).join(' / ') || 'no output'}`);
    this.stderr = clean;
  }
}
