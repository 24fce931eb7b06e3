import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitClient } from '@deploybus/git';
import { describe, expect, it } from 'vitest';
import { compareVersions, remoteTagLister, tagsOf } from '../src/repo-tags.js';

describe('compareVersions', () => {
  it('orders numbers as numbers, pre-releases before their release, longer versions after', () => {
    const names = ['v1.10.0', 'v1.2.0', 'v1.9.2', 'v1.2.0-rc1', 'v1.2.0.1', 'v2.0.0', 'v0.9'];
    expect([...names].sort(compareVersions)).toEqual(['v0.9', 'v1.2.0-rc1', 'v1.2.0', 'v1.2.0.1', 'v1.9.2', 'v1.10.0', 'v2.0.0']);
  });

  it('is a total order on odd names', () => {
    const names = ['release-2026-11-01', 'release-2026-02-10', 'abc', '42', '', '007'];
    const sorted = [...names].sort(compareVersions);
    expect(sorted.indexOf('release-2026-02-10')).toBeLessThan(sorted.indexOf('release-2026-11-01'));
    for (const a of names) for (const b of names) expect(Math.sign(compareVersions(a, b)) + Math.sign(compareVersions(b, a))).toBe(0);
  });
});

describe('tagsOf', () => {
  it('keeps tags only, prefers the peeled commit of an annotated tag, newest first', () => {
    const refs = new Map([
      ['HEAD', 'a'.repeat(40)],
      ['refs/heads/main', 'a'.repeat(40)],
      ['refs/tags/v1.0.0', 'b'.repeat(40)],
      ['refs/tags/v1.1.0', 'c'.repeat(40)],
      ['refs/tags/v1.1.0^{}', 'd'.repeat(40)],
    ]);
    expect(tagsOf(refs)).toEqual([
      { name: 'v1.1.0', sha: 'd'.repeat(40) },
      { name: 'v1.0.0', sha: 'b'.repeat(40) },
    ]);
  });
});

describe('remoteTagLister', () => {
  it('lists a real repository\'s tags with the commits they name, and nothing for an app without a URL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deploybus-tags-'));
    try {
      const git = (...args: string[]): string => execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { encoding: 'utf8' }).trim();
      git('init', '-q', '-b', 'main');
      git('commit', '-q', '--allow-empty', '-m', 'one');
      git('tag', 'v1.9.0');
      const first = git('rev-parse', 'HEAD');
      git('commit', '-q', '--allow-empty', '-m', 'two');
      git('tag', '-a', '-m', 'annotated', 'v1.10.0');
      const second = git('rev-parse', 'HEAD');
      const list = remoteTagLister(new Map([['shop', dir]]), new GitClient());
      expect(await list('shop')).toEqual([
        { name: 'v1.10.0', sha: second },
        { name: 'v1.9.0', sha: first },
      ]);
      expect(await list('other')).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
