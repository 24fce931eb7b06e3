// Pure pieces of the hook: git's stdin lines, names, and the hook script's quoting.
import { describe, expect, it } from 'vitest';
import { parseHookInput } from '@deploybus/git';
import { chooseRepoName, CliError, pusherFromEnv, renderHookScript, repoNameFromGitDir } from '../src/index.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

describe('parseHookInput', () => {
  it('reads "<old> <new> <ref>" lines', () => {
    expect(parseHookInput(`${A} ${B} refs/heads/main\n${B} ${A} refs/tags/v1.0.0\n`)).toEqual({
      updates: [
        { before: A, after: B, ref: 'refs/heads/main' },
        { before: B, after: A, ref: 'refs/tags/v1.0.0' },
      ],
      problems: [],
    });
  });

  it('skips hostile refs and malformed lines with a reason each, keeping the good lines', () => {
    const input = [`${A} ${B} --upload-pack=touch /tmp/x`, `${A} ${B} $(touch /tmp/x)`, `${A} ${B} ../../etc`, `${A} ${B} refs/heads/a\`id\``, 'garbage', `${A} nope refs/heads/x`, `${A} ${B} refs/heads/ok`].join('\n');
    const parsed = parseHookInput(input);
    expect(parsed.updates).toEqual([{ before: A, after: B, ref: 'refs/heads/ok' }]);
    expect(parsed.problems.map((p) => p.line)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const problem of parsed.problems) expect(problem.reason.length).toBeGreaterThan(5);
  });
});

describe('names', () => {
  it('takes the repository name from --repo, then config, then the directory without .git', () => {
    expect(repoNameFromGitDir('/srv/git/shop.git')).toBe('shop');
    expect(repoNameFromGitDir('/home/ada/shop/.git')).toBe('shop');
    expect(chooseRepoName('billing', 'other', '/srv/git/shop.git')).toEqual({ ok: true, name: 'billing' });
    expect(chooseRepoName(undefined, 'other', '/srv/git/shop.git')).toEqual({ ok: true, name: 'other' });
    expect(chooseRepoName(undefined, undefined, '/srv/git/shop.git')).toEqual({ ok: true, name: 'shop' });
    const bad = chooseRepoName(undefined, undefined, '/srv/git/my shop;rm.git');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.reason).toContain('--repo');
  });

  it('names the pusher from GitLab, GitHub or the system user', () => {
    expect(pusherFromEnv({ GL_USERNAME: 'ada', USER: 'git' })).toBe('ada');
    expect(pusherFromEnv({ GITHUB_USER: 'bob', USER: 'git' })).toBe('bob');
    expect(pusherFromEnv({ USER: 'git' })).toBe('git');
  });
});

describe('renderHookScript', () => {
  const base = { type: 'post-receive' as const, nodePath: '/usr/bin/node', cliPath: '/opt/deploybus/dist/main.js' };

  it('single-quotes every value', () => {
    const script = renderHookScript({ ...base, repo: 'shop', busUrl: 'amqp://u:p@mq:5672/%2F', spoolDir: '/var/spool/deploy bus' });
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain("DEPLOYBUS_BUS_URL='amqp://u:p@mq:5672/%2F'");
    expect(script).toContain("exec '/usr/bin/node' '/opt/deploybus/dist/main.js' hook post-receive --repo 'shop' --spool '/var/spool/deploy bus'");
  });

  it('refuses quotes, newlines, relative paths, bad names and bad bus URLs instead of escaping them', () => {
    const refused = (values: Partial<Parameters<typeof renderHookScript>[0]>): void => {
      expect(() => renderHookScript({ ...base, ...values })).toThrow(CliError);
    };
    refused({ cliPath: "/opt/x'; touch /tmp/x; '" });
    refused({ spoolDir: '/tmp/a\ntouch /tmp/x' });
    refused({ nodePath: 'node' });
    refused({ repo: "x'$(touch /tmp/x)'" });
    refused({ repo: '../../etc' });
    refused({ busUrl: "amqp://h/'$(id)'" });
    refused({ busUrl: 'ftp://nowhere' });
  });
});
