// Where things are in a local repository: its git dir, whether it is bare, where its hooks live
// (core.hooksPath respected), and HEAD with its parent. For hooks and their installer. Argument
// arrays only; git's own GIT_* variables from a calling hook are not passed on, so `path` decides.
// execa is loaded on first use: importing this package (deploy-agent does, for its input checks) must not load it.
import { isAbsolute, join, resolve } from 'node:path';
import { GitCommandError } from './errors.js';

let execaModule: Promise<typeof import('execa')> | undefined;

export interface RepoLayout {
  /** Absolute git dir (`.../repo.git` when bare, `.../repo/.git` otherwise). */
  readonly gitDir: string;
  readonly bare: boolean;
  /** The working tree's top, when not bare. */
  readonly workTree: string | undefined;
  /** Absolute directory git runs this repository's hooks from. */
  readonly hooksDir: string;
}

export interface HeadInfo {
  /** The branch HEAD points at (`refs/heads/...`), undefined when detached. */
  readonly ref: string | undefined;
  readonly sha: string | undefined;
  readonly parent: string | undefined;
}

function gitEnv(): Record<string, string> {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' };
}

async function git(cwd: string, args: string[], operation: string): Promise<string> {
  const { execa } = await (execaModule ??= import('execa'));
  const result = await execa('git', args, { cwd, env: gitEnv(), extendEnv: false, reject: false, timeout: 30_000, stdin: 'ignore' });
  if (result.exitCode !== 0 || result.failed) throw new GitCommandError(operation, String(result.stderr || result.message));
  return String(result.stdout).trim();
}

async function gitMaybe(cwd: string, args: string[]): Promise<string | undefined> {
  const { execa } = await (execaModule ??= import('execa'));
  const result = await execa('git', args, { cwd, env: gitEnv(), extendEnv: false, reject: false, timeout: 30_000, stdin: 'ignore' });
  const out = String(result.stdout).trim();
  return result.exitCode === 0 && out !== '' ? out : undefined;
}

/** The layout of the repository at (or inside) `path`. Throws GitCommandError when it is not one. */
export async function repoLayout(path: string): Promise<RepoLayout> {
  const dir = resolve(path);
  const gitDir = await git(dir, ['rev-parse', '--absolute-git-dir'], 'rev-parse');
  const bare = (await git(dir, ['rev-parse', '--is-bare-repository'], 'rev-parse')) === 'true';
  // From inside `.git`, --show-toplevel fails; the top is then the git dir's parent.
  const workTree = bare ? undefined : ((await gitMaybe(dir, ['rev-parse', '--show-toplevel'])) ?? resolve(gitDir, '..'));
  const configured = await gitMaybe(dir, ['config', '--type=path', '--get', 'core.hooksPath']);
  let hooksDir = join(gitDir, 'hooks');
  // git runs hooks from the work tree's top (bare: the git dir), so a relative hooksPath is relative to that.
  if (configured !== undefined) hooksDir = isAbsolute(configured) ? configured : resolve(workTree ?? gitDir, configured);
  return { gitDir, bare, workTree, hooksDir };
}

/** HEAD's branch, commit and first parent. */
export async function headInfo(path: string): Promise<HeadInfo> {
  const ref = await gitMaybe(path, ['symbolic-ref', '--quiet', 'HEAD']);
  const sha = await gitMaybe(path, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']);
  const parent = sha === undefined ? undefined : await gitMaybe(path, ['rev-parse', '--verify', '--quiet', 'HEAD~1^{commit}']);
  return { ref, sha, parent };
}
