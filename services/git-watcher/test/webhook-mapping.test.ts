// Pure parts of the webhook path: signature checks and the mapping of real provider payloads.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commitPushed, imagePushed } from '@deploybus/protocol';
import { callbackAllowed, githubSignature, mapDockerhub, mapGithub, mapGitlab, tokensMatch, verifyGithubSignature } from '../src/index.js';
import { githubExamples } from './watcher-support.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

describe('GitHub signature (X-Hub-Signature-256)', () => {
  const body = Buffer.from('{"zen":"Anything added dilutes everything else."}');
  const good = githubSignature('s3cret', body);

  it('accepts the HMAC-SHA256 of the raw body under the secret', () => {
    expect(verifyGithubSignature('s3cret', body, good)).toBe(true);
  });

  it('refuses a wrong secret, a changed body, a missing header, a wrong length and non-hex, without throwing', () => {
    expect(verifyGithubSignature('other', body, good)).toBe(false);
    expect(verifyGithubSignature('s3cret', Buffer.concat([body, Buffer.from(' ')]), good)).toBe(false);
    expect(verifyGithubSignature('s3cret', body, undefined)).toBe(false);
    expect(verifyGithubSignature('s3cret', body, '')).toBe(false);
    expect(verifyGithubSignature('s3cret', body, good.slice(0, -2))).toBe(false);
    expect(verifyGithubSignature('s3cret', body, `${good}00`)).toBe(false);
    expect(verifyGithubSignature('s3cret', body, `sha256=${'z'.repeat(64)}`)).toBe(false);
    expect(verifyGithubSignature('s3cret', body, good.replace('sha256=', 'sha1='))).toBe(false);
  });

  it('compares tokens in constant time whatever their lengths', () => {
    expect(tokensMatch('abc', 'abc')).toBe(true);
    expect(tokensMatch('abc', 'abd')).toBe(false);
    expect(tokensMatch('abc', 'abcd')).toBe(false);
    expect(tokensMatch('abc', undefined)).toBe(false);
    expect(tokensMatch('abc', '')).toBe(false);
  });
});

describe('GitHub payloads (@octokit/webhooks-examples)', () => {
  it('maps every push example to a valid commit.pushed: repo, ref, shas, commits, pusher', () => {
    const pushes = githubExamples('push');
    expect(pushes.length).toBeGreaterThan(1);
    for (const example of pushes) {
      const outcome = mapGithub('push', example);
      expect(outcome.kind).toBe('publish');
      if (outcome.kind !== 'publish') continue;
      const event = outcome.events[0];
      expect(event?.type).toBe('commit.pushed');
      if (event?.type !== 'commit.pushed') continue;
      expect(commitPushed.payload.safeParse(event.payload).success).toBe(true);
      expect(event.payload).toMatchObject({ repo: 'Hello-World', ref: example['ref'], before: example['before'], after: example['after'], pusher: 'Codertocat', origin: 'github' });
    }
  });

  it('maps the commits as id, "name <email>" and the first line of the message', () => {
    const example = githubExamples('push').find((e) => (e['commits'] as unknown[]).length > 0);
    const outcome = mapGithub('push', example);
    if (outcome.kind !== 'publish' || outcome.events[0]?.type !== 'commit.pushed') throw new Error(`expected a publish, got ${outcome.kind}`);
    expect(outcome.events[0].payload.commits).toEqual([{ sha: '6113728f27ae82c7b1a177c8d03f9e96e0adf246', author: 'Codertocat <21031067+Codertocat@users.noreply.github.com>', subject: 'Initial commit' }]);
  });

  it('still publishes a deleted ref (after = zeros) with no commits', () => {
    const deleted = githubExamples('push').find((e) => e['deleted'] === true);
    const outcome = mapGithub('push', deleted);
    if (outcome.kind !== 'publish' || outcome.events[0]?.type !== 'commit.pushed') throw new Error(`expected a publish, got ${outcome.kind}`);
    expect(outcome.events[0].payload.after).toBe('0000000000000000000000000000000000000000');
    expect(outcome.events[0].payload.commits).toEqual([]);
  });

  it('answers ping and ignores other events with a reason', () => {
    for (const ping of githubExamples('ping')) expect(mapGithub('ping', ping).kind).toBe('ping');
    const other = mapGithub('issues', {});
    expect(other).toMatchObject({ kind: 'ignore' });
    expect(other.kind === 'ignore' && other.reason).toContain('issues');
  });

  it('refuses hostile repository names and refs, naming the field', () => {
    const base = githubExamples('push')[0] ?? {};
    const hostileRepo = mapGithub('push', { ...base, repository: { name: '../../etc' } });
    expect(hostileRepo).toMatchObject({ kind: 'invalid' });
    expect(hostileRepo.kind === 'invalid' && hostileRepo.reason).toContain('repo');
    for (const ref of ['--upload-pack=touch /tmp/x', 'refs/heads/$(touch /tmp/x)', '../../etc']) {
      const outcome = mapGithub('push', { ...base, ref });
      expect(outcome).toMatchObject({ kind: 'invalid' });
      expect(outcome.kind === 'invalid' && outcome.reason).toContain('ref');
    }
    expect(mapGithub('push', { ...base, after: 'not-a-sha' })).toMatchObject({ kind: 'invalid' });
    expect(mapGithub('push', { zen: 'no push fields' })).toMatchObject({ kind: 'invalid' });
  });
});

describe('GitLab payloads (from GitLab\'s webhook documentation)', () => {
  it('maps a push hook', () => {
    const outcome = mapGitlab('Push Hook', fixture('gitlab-push.json'));
    if (outcome.kind !== 'publish' || outcome.events[0]?.type !== 'commit.pushed') throw new Error(`expected a publish, got ${outcome.kind}`);
    expect(outcome.events[0].payload).toEqual({
      repo: 'diaspora',
      ref: 'refs/heads/master',
      before: '95790bf891e76fee5e1747ab589903a6a1f80f22',
      after: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
      commits: [
        { sha: 'b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327', author: 'Jordi Mallach <jordi@softcatala.org>', subject: 'Update Catalan translation to e38cb41.' },
        { sha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7', author: 'GitLab dev user <gitlabdev@dv6700.(none)>', subject: 'fixed readme' },
      ],
      pusher: 'jsmith',
      origin: 'gitlab',
    });
  });

  it('names the repository by its URL slug, not the project\'s display name', () => {
    const body = fixture('gitlab-push.json') as { project: Record<string, unknown> };
    const renamed = { ...body, project: { ...body.project, name: 'Shop Frontend', path_with_namespace: 'acme/web/shop' } };
    const outcome = mapGitlab('Push Hook', renamed);
    if (outcome.kind !== 'publish') throw new Error(`expected a publish, got ${outcome.kind}: ${'reason' in outcome ? outcome.reason : ''}`);
    expect(outcome.events[0]?.payload).toMatchObject({ repo: 'shop' });
  });

  it('maps a tag push hook (new tag: before = zeros)', () => {
    const outcome = mapGitlab('Tag Push Hook', fixture('gitlab-tag-push.json'));
    if (outcome.kind !== 'publish' || outcome.events[0]?.type !== 'commit.pushed') throw new Error(`expected a publish, got ${outcome.kind}`);
    expect(outcome.events[0].payload).toMatchObject({ repo: 'example', ref: 'refs/tags/v1.0.0', before: '0000000000000000000000000000000000000000', commits: [] });
  });

  it('ignores other GitLab events', () => {
    expect(mapGitlab('Merge Request Hook', { object_kind: 'merge_request' })).toMatchObject({ kind: 'ignore' });
  });
});

describe('Docker Hub payloads (from Docker\'s webhook documentation)', () => {
  it('maps an image push to image.pushed and returns the callback URL', () => {
    const { outcome, callbackUrl } = mapDockerhub(fixture('dockerhub-push.json'));
    if (outcome.kind !== 'publish' || outcome.events[0]?.type !== 'image.pushed') throw new Error(`expected a publish, got ${outcome.kind}`);
    expect(outcome.events[0].payload).toEqual({ repository: 'svendowideit/testhook', tag: 'latest', pusher: 'trustedbuilder', origin: 'dockerhub' });
    expect(imagePushed.payload.safeParse(outcome.events[0].payload).success).toBe(true);
    expect(callbackUrl).toBe('https://registry.hub.docker.com/u/svendowideit/testhook/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/');
  });

  it('refuses a hostile tag or repository', () => {
    const body = fixture('dockerhub-push.json') as { push_data: Record<string, unknown>; repository: Record<string, unknown> };
    expect(mapDockerhub({ ...body, push_data: { ...body.push_data, tag: '$(touch /tmp/x)' } }).outcome).toMatchObject({ kind: 'invalid' });
    expect(mapDockerhub({ ...body, repository: { ...body.repository, repo_name: '../../etc' } }).outcome).toMatchObject({ kind: 'invalid' });
  });

  it('calls back only Docker Hub\'s host over https, or an allowed host', () => {
    expect(callbackAllowed('https://registry.hub.docker.com/u/a/b/hook/x/', [])).toBe(true);
    expect(callbackAllowed('http://registry.hub.docker.com/u/a/b/hook/x/', [])).toBe(false);
    expect(callbackAllowed('https://registry.hub.docker.com.evil.example/x', [])).toBe(false);
    expect(callbackAllowed('https://user:pw@registry.hub.docker.com/x', [])).toBe(false);
    expect(callbackAllowed('http://169.254.169.254/latest/meta-data', [])).toBe(false);
    expect(callbackAllowed('http://127.0.0.1:9999/cb', ['127.0.0.1:9999'])).toBe(true);
    expect(callbackAllowed('http://127.0.0.1:9998/cb', ['127.0.0.1:9999'])).toBe(false);
    expect(callbackAllowed('not a url', ['127.0.0.1:9999'])).toBe(false);
  });
});
