// Writes the tree of one commit of a (bare) repository into a directory: `git archive <sha> | tar -x`,
// two processes piped by execa, no shell. deploy-agent builds release directories with it, so a
// release is made from the local mirror, never from a fresh clone.
import { execa } from 'execa';
import { GitCommandError, GitInputError } from './errors.js';

const FULL_SHA = /^[0-9a-f]{40}$|^[0-9a-f]{64}$/;

export interface ExportTreeOptions {
  /** Kills both processes after this long (default 5 minutes). */
  readonly timeoutMs?: number;
}

/** Extracts the tree of commit `sha` (a full hex id: resolve refs first) from `repoPath` into the existing, empty `targetDir`. */
export async function exportTree(repoPath: string, sha: string, targetDir: string, options: ExportTreeOptions = {}): Promise<void> {
  if (!FULL_SHA.test(sha)) throw new GitInputError('ref', sha, 'must be a full hex commit id');
  const timeout = options.timeoutMs ?? 300_000;
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' };
  try {
    await execa('git', ['archive', '--format=tar', sha], { cwd: repoPath, env, extendEnv: false, timeout }).pipe(
      'tar',
      ['-x', '--no-same-owner', '-f', '-', '-C', targetDir],
      { env, extendEnv: false, timeout },
    );
  } catch (error) {
    const stderr = typeof error === 'object' && error !== null && 'stderr' in error ? String((error as { stderr: unknown }).stderr) : '';
    throw new GitCommandError('archive', stderr || (error instanceof Error ? error.message : String(error)));
  }
}
