// The git edge against real repositories in temp dirs, and hostile inputs that must run nothing.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertRepoUrl, exportTree, GitClient, GitCommandError, GitInputError, redactCredentials } from '../src/index.js';

let root: string;
let origin: string;
const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.com', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.com' } }).trim();

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'deploybus-git-'));
  origin = join(root, 'origin');
  git(root, 'init', '--quiet', '--initial-branch=main', origin);
  for (const n of [1, 2, 3]) {
    writeFileSync(join(origin, 'file.txt'), `v${n}\n`);
    git(origin, 'add', 'file.txt');
    git(origin, 'commit', '--quiet', '-m', `change ${n}`);
  }
  git(origin, 'tag', 'v1.0.0');
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('GitClient', () => {
  const client = new GitClient();

  it('lists a remote\'s refs', async () => {
    const refs = await client.lsRemote(origin);
    expect(refs.get('refs/heads/main')).toBe(git(origin, 'rev-parse', 'main'));
    expect(refs.has('refs/tags/v1.0.0')).toBe(true);
  });

  it('mirrors, then fetches new tags into the mirror', async () => {
    const mirror = join(root, 'mirror.git');
    await client.ensureMirror(mirror, origin);
    await client.ensureMirror(mirror, origin); // idempotent
    git(origin, 'tag', 'v1.1.0');
    const state = await client.fetchMirror(mirror);
    expect(state.tags).toEqual(['v1.0.0', 'v1.1.0']);
    expect(state.head).toBe(git(origin, 'rev-parse', 'main'));
    expect(await client.resolveRef(mirror, 'v1.1.0')).toBe(git(origin, 'rev-parse', 'main'));
    expect(await client.resolveRef(mirror, 'v9.9.9')).toBeUndefined();
    expect(await client.resolveRef(mirror, 'f'.repeat(40))).toBeUndefined(); // a commit it does not hold
  });

  it('a mirror git cannot read is an error with git\'s words, not "no such ref"', async () => {
    const mirror = join(root, 'broken.git');
    await client.ensureMirror(mirror, origin);
    writeFileSync(join(mirror, 'HEAD'), 'garbage\n'); // no longer a repository git recognises
    await expect(client.resolveRef(mirror, 'v1.0.0')).rejects.toThrow(/rev-parse/);
  });

  it('never clones over something that is already at the mirror path', async () => {
    await expect(client.ensureMirror(origin, join(root, 'elsewhere.git'))).rejects.toThrow(/is not a bare mirror/);
    expect(git(origin, 'rev-parse', '--is-bare-repository')).toBe('false');
  });

  it('resolveInMirror clones into nothing, then resolves a ref (or nothing) in one step; a non-bare repository is refused', async () => {
    const mirror = join(root, 'resolve-mirror.git');
    const head = git(origin, 'rev-parse', 'main');
    expect(await client.resolveInMirror(mirror, origin, 'v1.0.0')).toBe(git(origin, 'rev-parse', 'v1.0.0^{commit}'));
    expect(git(mirror, 'rev-parse', '--is-bare-repository')).toBe('true');
    expect(await client.resolveInMirror(mirror, origin, 'main')).toBe(head);
    expect(await client.resolveInMirror(mirror, origin, 'v9.9.9')).toBeUndefined();
    // A working repository's .git has HEAD at its top like a mirror, but git calls it not bare.
    await expect(client.resolveInMirror(join(origin, '.git'), origin, 'v1.0.0')).rejects.toThrow(/is not a bare mirror/);
    await expect(client.resolveInMirror(origin, join(root, 'elsewhere.git'), 'v1.0.0')).rejects.toThrow(/is not a bare mirror/);
    await expect(client.resolveInMirror(mirror, origin, '--upload-pack=touch /tmp/x')).rejects.toBeInstanceOf(GitInputError);
  });

  it('asks git again when a mirror rev-parse comes back empty without an error, and says so when it keeps doing that', async () => {
    const mirror = join(root, 'empty-answer-mirror.git');
    await client.ensureMirror(mirror, origin);
    // A git in front of the real one that exits 0 printing nothing for its first `silent` runs.
    const bin = join(root, 'flaky-git-bin');
    mkdirSync(bin, { recursive: true });
    const counter = join(bin, 'runs');
    const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    writeFileSync(join(bin, 'git'), `#!/bin/sh\nn=$(cat '${counter}' 2>/dev/null || echo 0)\necho $((n + 1)) > '${counter}'\n[ "$n" -lt "$(cat '${counter}.silent')" ] && exit 0\nexec '${realGit}' "$@"\n`, { mode: 0o755 });
    const expected = git(origin, 'rev-parse', 'v1.0.0^{commit}');
    const path = process.env['PATH'];
    process.env['PATH'] = `${bin}:${path ?? ''}`;
    try {
      writeFileSync(`${counter}.silent`, '2');
      writeFileSync(counter, '0');
      expect(await client.resolveInMirror(mirror, origin, 'v1.0.0')).toBe(expected);
      expect(readFileSync(counter, 'utf8').trim()).toBe('3');
      writeFileSync(`${counter}.silent`, '3');
      writeFileSync(counter, '0');
      await expect(client.resolveInMirror(mirror, origin, 'v1.0.0')).rejects.toThrow(/not a bare mirror \(git printed "", 3 times\)/);
    } finally {
      process.env['PATH'] = path;
    }
  });

  it('counts any git exit but 0 as a failure, even one with nothing on stderr, and only a quiet rev-parse miss as "no such ref"', async () => {
    const mirror = join(root, 'strict-exit-mirror.git');
    await client.ensureMirror(mirror, origin);
    expect(await client.resolveRef(mirror, 'no-such-tag')).toBeUndefined(); // git's quiet exit 1: an answer
    // A git in front of the real one: `fetch` exits 1 without a word; `rev-parse --verify` is killed by a signal.
    const bin = join(root, 'failing-git-bin');
    mkdirSync(bin, { recursive: true });
    const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    writeFileSync(join(bin, 'git'), `#!/bin/sh\ncase "$1 $2" in\n  "fetch --prune") exit 1 ;;\n  "rev-parse --verify") kill -9 $$ ;;\nesac\nexec '${realGit}' "$@"\n`, { mode: 0o755 });
    const path = process.env['PATH'];
    process.env['PATH'] = `${bin}:${path ?? ''}`;
    try {
      await expect(client.fetchRefs(mirror)).rejects.toThrow(/^git fetch failed: git exited with 1, printing nothing on stderr$/);
      const killed = await client.resolveRef(mirror, 'v1.0.0').then(
        (sha) => `resolved to ${String(sha)}`,
        (error: unknown) => error,
      );
      expect(killed).toBeInstanceOf(GitCommandError);
      expect((killed as Error).message).toMatch(/^git rev-parse failed: git was killed by a signal, printing nothing on stderr$/);
    } finally {
      process.env['PATH'] = path;
    }
  });

  it('reads git\'s output to its end, even when the last of it arrives well after git exited', async () => {
    const mirror = join(root, 'late-output-mirror.git');
    await client.ensureMirror(mirror, origin);
    const expected = git(origin, 'rev-parse', 'v1.0.0^{commit}');
    // A git in front of the real one whose `rev-parse --verify` exits at once and leaves its answer to
    // a child that prints it 300 ms later: what a busy event loop sees when it reads a pipe late.
    // simple-git's default (done 50 ms after the exit) read nothing here, and the ref "did not exist".
    const bin = join(root, 'late-git-bin');
    mkdirSync(bin, { recursive: true });
    const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    writeFileSync(join(bin, 'git'), `#!/bin/sh\ncase "$1 $2" in\n  "rev-parse --verify") ( sleep 0.3; exec '${realGit}' "$@" ) & exit 0 ;;\nesac\nexec '${realGit}' "$@"\n`, { mode: 0o755 });
    const path = process.env['PATH'];
    process.env['PATH'] = `${bin}:${path ?? ''}`;
    try {
      expect(await client.resolveRef(mirror, 'v1.0.0')).toBe(expected);
    } finally {
      process.env['PATH'] = path;
    }
  });

  it('lets a clone that keeps making progress run past timeoutMs: the limit is for a git that goes silent', async () => {
    // About 1.1 MB that does not compress, over an "ssh" link of about 160 kB/s: some 7 s of steady progress
    // (git shows its first progress line up to 2 s in).
    const big = join(root, 'big-origin');
    git(root, 'init', '--quiet', '--initial-branch=main', big);
    writeFileSync(join(big, 'blob.bin'), randomBytes(1_100_000));
    git(big, 'add', 'blob.bin');
    git(big, 'commit', '--quiet', '-m', 'big');
    const throttle = join(root, 'throttle.js');
    writeFileSync(
      throttle,
      [
        'const send = (chunk) => { if (chunk.length === 0) { process.stdin.resume(); return; }',
        '  process.stdout.write(chunk.subarray(0, 8192), () => setTimeout(() => send(chunk.subarray(8192)), 50)); };',
        "process.stdin.on('data', (chunk) => { process.stdin.pause(); send(chunk); });",
      ].join('\n'),
    );
    const ssh = join(root, 'slow-ssh');
    // git runs `ssh [options] HOST COMMAND`; the command runs here, its answer through the slow link.
    writeFileSync(ssh, `#!/bin/sh\nwhile [ $# -gt 1 ]; do shift; done\nsh -c "$1" | '${process.execPath}' '${throttle}'\n`, { mode: 0o755 });
    const before = process.env['GIT_SSH_COMMAND'];
    process.env['GIT_SSH_COMMAND'] = ssh;
    try {
      // With --quiet, git printed nothing until it was done, and the 3 s "silent" limit killed every clone.
      await new GitClient({ allowedProtocols: ['ssh'], timeoutMs: 3_000 }).ensureMirror(join(root, 'big-mirror.git'), `ssh://slow.example.com${big}`);
    } finally {
      if (before === undefined) delete process.env['GIT_SSH_COMMAND'];
      else process.env['GIT_SSH_COMMAND'] = before;
    }
    expect(git(join(root, 'big-mirror.git'), 'rev-parse', 'main')).toBe(git(big, 'rev-parse', 'main'));
  }, 60_000);

  it('exportTree writes a commit\'s tree into a directory; a commit the repository lacks fails with git\'s words', async () => {
    const target = join(root, 'export-1');
    mkdirSync(target);
    await exportTree(origin, git(origin, 'rev-parse', 'main'), target);
    expect(readFileSync(join(target, 'file.txt'), 'utf8')).toBe('v3\n');
    const other = join(root, 'export-2');
    mkdirSync(other);
    const failure = await exportTree(origin, 'a'.repeat(40), other).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(GitCommandError);
    expect((failure as GitCommandError).message).toMatch(/not a tree object/);
    await expect(exportTree(origin, 'main', other)).rejects.toBeInstanceOf(GitInputError);
  });

  it('lists the commits a push brought, newest first', async () => {
    const [c3, c2, c1] = git(origin, 'rev-list', 'main').split('\n');
    const commits = await client.commitsBetween(origin, c1 ?? '', c3 ?? '');
    expect(commits.map((c) => c.subject)).toEqual(['change 3', 'change 2']);
    expect(commits[0]).toEqual({ sha: c3, author: 'Ada <ada@example.com>', subject: 'change 3' });
    expect(commits[1]?.sha).toBe(c2);
    expect(await client.commitsBetween(origin, c3 ?? '', '0'.repeat(40))).toEqual([]);
    expect((await client.commitsBetween(origin, '0'.repeat(40), c3 ?? '')).length).toBe(3);
  });

  it.each([
    ['--upload-pack=touch /tmp/x'],
    ['$(touch /tmp/x)'],
    ['ext::sh -c touch% /tmp/x'],
    ['../../etc'],
    ['-v'],
  ])('refuses the hostile ref %s and runs nothing', async (ref) => {
    const marker = '/tmp/x';
    const existed = existsSync(marker);
    await expect(client.resolveRef(origin, ref)).rejects.toBeInstanceOf(GitInputError);
    expect(existsSync(marker)).toBe(existed);
  });

  it.each([
    ['ext::sh -c touch% /tmp/x', /remote helpers/],
    ['--upload-pack=touch /tmp/x', /must not (start with "-"|contain spaces)/],
    ['fd::17', /remote helpers/],
    ['https://example.com/a b', /spaces/],
    ['ftp://example.com/repo.git', /transport "ftp"/],
  ])('refuses the hostile repository URL %s', async (url, reason) => {
    expect(() => assertRepoUrl(url)).toThrow(reason);
    await expect(client.lsRemote(url)).rejects.toBeInstanceOf(GitInputError);
  });

  it('accepts the ordinary forms of repository URL', () => {
    expect(assertRepoUrl('https://github.com/org/repo.git')).toBe('https');
    expect(assertRepoUrl('git@github.com:org/repo.git')).toBe('ssh');
    expect(assertRepoUrl('ssh://git@host:22/org/repo.git')).toBe('ssh');
    expect(assertRepoUrl('/srv/git/repo.git')).toBe('file');
    expect(() => assertRepoUrl('/srv/git/repo.git', ['https'])).toThrow(/not allowed here/);
  });
});

describe('credentials in URLs', () => {
  it('never appear in an error message, whether git refused or failed', async () => {
    const client = new GitClient();
    const failing = client.lsRemote('https://deploy:s3cr3t-token@127.0.0.1:1/org/repo.git');
    await expect(failing).rejects.toThrow(/git ls-remote failed/);
    const error = (await failing.then(
      () => new Error('expected a failure'),
      (e: unknown) => e as Error,
    ));
    expect(error.message).not.toContain('s3cr3t-token');
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain('s3cr3t-token');
    expect(() => assertRepoUrl('ftp://u:hunter2@example.com/r.git')).toThrow(/u:\*\*\*@example.com/);
    expect(redactCredentials('fatal: https://ghp_abc123@github.com/o/r.git not found')).toBe('fatal: https://***@github.com/o/r.git not found');
    expect(redactCredentials('ssh://git@host/r.git')).toBe('ssh://git@host/r.git');
  });
});
