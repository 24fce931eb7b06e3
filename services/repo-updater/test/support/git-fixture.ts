// Real git repositories in temp dirs: an origin to mirror, and a way to read what a mirror holds.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const result = await execa('git', args, { cwd, env: { LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' } });
  return String(result.stdout).trim();
}

export interface Workspace {
  readonly root: string;
  /** The origin repository (a working repo with commits and tags). */
  readonly origin: string;
  commit(message: string): Promise<string>;
  tag(name: string): Promise<void>;
  head(): Promise<string>;
  remove(): Promise<void>;
}

export async function workspace(prefix = 'repo-updater-'): Promise<Workspace> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const origin = join(root, 'origin');
  await execa('git', ['init', '--quiet', '--initial-branch=main', origin]);
  await git(origin, 'config', 'user.email', 'ada@example.com');
  await git(origin, 'config', 'user.name', 'Ada');
  let n = 0;
  const commit = async (message: string): Promise<string> => {
    n += 1;
    await writeFile(join(origin, 'file.txt'), `${message} ${n}\n`);
    await git(origin, 'add', 'file.txt');
    await git(origin, 'commit', '--quiet', '-m', message);
    return git(origin, 'rev-parse', 'HEAD');
  };
  await commit('first');
  await git(origin, 'tag', 'v1.0.0');
  return {
    root,
    origin,
    commit,
    tag: async (name) => {
      await git(origin, 'tag', name);
    },
    head: () => git(origin, 'rev-parse', 'HEAD'),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

/** Tags a (bare) mirror holds, read with git itself. */
export async function mirrorTags(mirror: string): Promise<string[]> {
  return (await git(mirror, 'tag', '--list')).split('\n').filter((t) => t !== '');
}
