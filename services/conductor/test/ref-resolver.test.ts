// Ref resolution against a real git repository in a temp dir (over file://).
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitClient } from '@deploybus/git';
import { isFullSha, remoteRefResolver } from '../src/index.js';

let dir = '';
let tagged = '';
let head = '';

function git(...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' } }).trim();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conductor-refs-'));
  git('init', '-q', '-b', 'main');
  await writeFile(join(dir, 'a.txt'), 'one\n');
  git('add', 'a.txt');
  git('commit', '-q', '-m', 'one');
  tagged = git('rev-parse', 'HEAD');
  git('tag', '-a', '-m', 'release', 'v1.0.0');
  await writeFile(join(dir, 'a.txt'), 'two\n');
  git('commit', '-q', '-am', 'two');
  head = git('rev-parse', 'HEAD');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('remoteRefResolver', () => {
  it('resolves annotated tags to their commit, branches to their tip, full ids to themselves', async () => {
    const resolve = remoteRefResolver(new Map([['shop', `file://${dir}`]]), new GitClient());
    expect(await resolve('shop', 'v1.0.0')).toBe(tagged);
    expect(await resolve('shop', 'main')).toBe(head);
    expect(await resolve('shop', 'refs/heads/main')).toBe(head);
    expect(await resolve('shop', 'v9.9.9')).toBeUndefined();
    expect(await resolve('other', 'v1.0.0')).toBeUndefined();
    expect(await resolve('other', tagged)).toBe(tagged);
    expect(isFullSha('v1.0.0')).toBe(false);
  });
});
