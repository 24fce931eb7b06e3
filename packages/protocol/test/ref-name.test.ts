// Ref-name rules: hostile refs refused, real ones accepted, and git itself agreeing on git's rules.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { checkGitRefFormat, createMessage, MAX_REF_BYTES, parseMessage, REF_PATTERN, refSchema, validateRefName } from '../src/index.js';

const run = promisify(execFile);

const hostile = [
  '--upload-pack=touch /tmp/x',
  '$(touch /tmp/x)',
  'ext::sh -c touch% /tmp/x',
  '../../etc',
  '-v',
  'a..b',
  'refs/heads/.x',
  'x.lock',
  'main\ntouch /tmp/x',
  'main\0',
  '`touch /tmp/x`',
  'main;touch',
  'a|b',
  'a&b',
  'a>b',
  'a<b',
  "it's",
  'say"hi"',
  'a%20b',
  'refs/heads/-x',
  'mаin', // Cyrillic "а"
  '@',
  'a@{1}',
  '',
  '/main',
  'main/',
  'a//b',
  'main.',
  'a~1',
  'a^',
  'a:b',
  'a?',
  'a*',
  'a[b',
  'a\\b',
  'refs/heads/x.lock/y',
  'a b',
  'a\tb',
  'a\u007fb',
  'x'.repeat(MAX_REF_BYTES + 1),
];

const valid = [
  'v1.4.1',
  'refs/heads/main',
  'refs/tags/release-2026.11',
  'feature/foo-bar',
  'HEAD',
  'v1.0.0+build.5',
  'user@feature',
  'x.lockx',
  'a.b.lock.c',
  '9fceb02d0ae598e95dc970b74767f19372d61af8',
  '9fceb02d0ae598e95dc970b74767f19372d61af89fceb02d0ae598e95dc970b7',
  'x'.repeat(MAX_REF_BYTES),
];

describe('validateRefName', () => {
  it.each(hostile)('refuses %j with a reason', (ref) => {
    const check = validateRefName(ref);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason).toMatch(/^must|^no /);
  });

  it.each(valid)('accepts %j', (ref) => {
    expect(validateRefName(ref)).toEqual({ ok: true });
  });

  it('names the rule that was broken', () => {
    expect(validateRefName('a..b')).toEqual({ ok: false, reason: 'must not contain ".."' });
    expect(validateRefName('x.lock')).toEqual({ ok: false, reason: 'no "/"-separated part may end with ".lock"' });
    expect(validateRefName('refs/heads/-x')).toEqual({ ok: false, reason: 'no "/"-separated part may begin with "-"' });
    expect(validateRefName('a$b')).toMatchObject({ ok: false, reason: expect.stringContaining('"$"') });
  });

  it('counts the length limit in bytes, not characters', () => {
    expect(validateRefName('é'.repeat(128)).ok).toBe(false);
  });
});

describe('REF_PATTERN', () => {
  it('agrees with validateRefName on every sample and on random strings', () => {
    const alphabet = ['a', 'Z', '0', '.', '/', '-', '_', '+', '@', '{', 'l', 'o', 'c', 'k', '$', ' ', '~', 'é', '\n'];
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const samples = [...hostile, ...valid];
    for (let i = 0; i < 5000; i++) {
      samples.push(Array.from({ length: 1 + random(12) }, () => alphabet[random(alphabet.length)]).join(''));
    }
    for (const ref of samples) {
      expect(REF_PATTERN.test(ref), JSON.stringify(ref)).toBe(validateRefName(ref).ok);
    }
  });
});

describe('refSchema', () => {
  it('puts the reason in the zod issue', () => {
    const result = refSchema.safeParse('a..b');
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe('must not contain ".."');
  });

  it('guards the ref field of messages', () => {
    const body = JSON.stringify(
      createMessage('deploy.requested', { app: 'shop', env: 'production', ref: 'v1.4.1', requestedBy: 'ada' }, { source: { service: 'cli', host: 'laptop' } }),
    ).replace('"v1.4.1"', '"--upload-pack=touch /tmp/x"');
    const result = parseMessage(body);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('INVALID_PAYLOAD');
      expect(result.error.field).toBe('payload.ref');
    }
  });
});

describe('checkGitRefFormat agrees with git check-ref-format --allow-onelevel', () => {
  // Leading-dash refs are left out: git would read them as options, which is why deploybus refuses them.
  const nulFree = (ref: string): boolean => !ref.includes('\0');
  const cases = [...hostile, ...valid, 'ü', 'a#b', 'a$b', 'a%b', 'a/-b', 'a/./b', '.', '..', 'a.lock/b', 'a/b.lock', '@{', 'a@b', 'a!b', 'a=b'].filter(
    (ref) => !ref.startsWith('-') && nulFree(ref),
  );

  it.each(cases)('%j', async (ref) => {
    const gitSays = await run('git', ['check-ref-format', '--allow-onelevel', ref]).then(
      () => true,
      () => false,
    );
    expect(checkGitRefFormat(ref).ok).toBe(gitSays);
    // deploybus is stricter than git, never looser.
    if (validateRefName(ref).ok) expect(gitSays).toBe(true);
  });
});
