// Writes the tree of one commit of a (bare) repository into a directory: `git archive <sha> | tar -x`,
// no shell. The two processes are joined by an operating-system pipe (tar's stdin is handed to git as
// its stdout), so not one byte of the archive passes through this process: the same work as the
// shell's `git archive | tar -x`. execa's `.pipe()` copies the stream through Node (and buffered the
// whole archive as text), which made a release several times slower than the shell under load; it
// cannot hand one child's pipe to another, so node:child_process does it here.
// deploy-agent builds release directories with it, so a release is made from the local mirror.
import { spawn, type ChildProcess } from 'node:child_process';
import { GitCommandError, GitInputError } from './errors.js';

const FULL_SHA = /^[0-9a-f]{40}$|^[0-9a-f]{64}$/;
const STDERR_KEEP = 4096;

export interface ExportTreeOptions {
  /** Kills both processes after this long (default 5 minutes). */
  readonly timeoutMs?: number;
}

interface Ended {
  readonly name: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error: Error | undefined;
  readonly stderr: string;
}

/** Resolves when the process has exited and its stderr is read (never rejects). */
function ended(name: string, child: ChildProcess): Promise<Ended> {
  return new Promise((resolve) => {
    let stderr = '';
    let error: Error | undefined;
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    });
    child.once('error', (e) => {
      error = e;
    });
    child.once('close', (code, signal) => resolve({ name, code, signal, error, stderr: stderr.trim() }));
  });
}

/** Extracts the tree of commit `sha` (a full hex id: resolve refs first) from `repoPath` into the existing, empty `targetDir`. */
export async function exportTree(repoPath: string, sha: string, targetDir: string, options: ExportTreeOptions = {}): Promise<void> {
  if (!FULL_SHA.test(sha)) throw new GitInputError('ref', sha, 'must be a full hex commit id');
  const timeoutMs = options.timeoutMs ?? 300_000;
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' };
  const tar = spawn('tar', ['-x', '--no-same-owner', '-f', '-', '-C', targetDir], { env, stdio: ['pipe', 'ignore', 'pipe'] });
  const tarEnded = ended('tar', tar);
  let gitEnded: Promise<Ended>;
  if (tar.stdin === null || tar.pid === undefined) {
    gitEnded = Promise.resolve({ name: 'git archive', code: null, signal: null, error: new Error('not started: tar could not start'), stderr: '' });
  } else {
    const git = spawn('git', ['archive', '--format=tar', sha], { cwd: repoPath, env, stdio: ['ignore', tar.stdin, 'pipe'] });
    gitEnded = ended('git archive', git);
    const timer = setTimeout(() => {
      git.kill('SIGKILL');
      tar.kill('SIGKILL');
    }, timeoutMs);
    void Promise.all([gitEnded, tarEnded]).finally(() => clearTimeout(timer));
  }
  // Our copy of the pipe's write end is closed (destroyed, not ended: a shutdown would cut git's end
  // of the same socket too), so tar sees the end of the archive when git exits, and git gets EPIPE if tar dies.
  tar.stdin?.destroy();
  const results = await Promise.all([gitEnded, tarEnded]);
  const failed = results.filter((r) => r.error !== undefined || r.code !== 0);
  if (failed.length === 0) return;
  const describe = (r: Ended): string =>
    r.stderr || (r.error !== undefined ? `${r.name}: ${r.error.message}` : `${r.name} ${r.signal === 'SIGKILL' ? `killed after ${timeoutMs} ms` : `exited with ${r.code ?? r.signal ?? '?'}`}`);
  throw new GitCommandError('archive', failed.map(describe).join('\n'));
}
