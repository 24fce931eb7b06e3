import { describe, expect, it } from 'vitest';
import { parseNotification } from '../src/index.js';

describe('parseNotification', () => {
  it('reads the Notification plugin\'s JSON, taking the full job name (folders) from its URL', () => {
    const parsed = parseNotification({
      name: 'shop-ci',
      display_name: 'shop-ci',
      url: 'job/team/job/shop-ci/',
      build: {
        full_url: 'http://jenkins.example.com/job/team/job/shop-ci/18/',
        number: 18,
        queue_id: 7,
        phase: 'COMPLETED',
        status: 'UNSTABLE',
        url: 'job/team/job/shop-ci/18/',
        duration: 81000,
        scm: { url: 'https://git.example.com/shop.git', branch: 'origin/main', commit: 'c6d86dc654b12425e706bcf951adfe5a8627a517' },
        parameters: { REPO: 'shop', REF: 'refs/heads/main' },
        artifacts: {},
      },
    });
    expect(parsed).toEqual({ ok: true, value: { job: 'team/shop-ci', number: 18, phase: 'COMPLETED', result: 'UNSTABLE', queueId: 7, durationMs: 81000 } });
  });

  it('ignores the status of a STARTED notification (the plugin sends the previous build\'s)', () => {
    const parsed = parseNotification({ name: 'shop-ci', url: 'job/shop-ci/', build: { number: 3, phase: 'STARTED', status: 'FAILURE', full_url: 'http://j/job/shop-ci/3/' } });
    expect(parsed).toMatchObject({ ok: true, value: { job: 'shop-ci', phase: 'STARTED', result: undefined } });
  });

  it('reads a plain post-build step body', () => {
    expect(parseNotification({ job: 'team/shop-ci', number: 4, result: 'SUCCESS' })).toEqual({
      ok: true,
      value: { job: 'team/shop-ci', number: 4, phase: 'COMPLETED', result: 'SUCCESS', queueId: undefined, durationMs: undefined },
    });
  });

  it('refuses what is not a notification, naming the field', () => {
    expect(parseNotification([])).toEqual({ ok: false, problem: 'the body must be a JSON object' });
    expect(parseNotification({ job: 'x', number: -1, result: 'SUCCESS' })).toMatchObject({ ok: false, problem: expect.stringContaining('number') as unknown });
    expect(parseNotification({ job: 'x', number: 1, result: 'GREEN' })).toMatchObject({ ok: false, problem: expect.stringContaining('result') as unknown });
    expect(parseNotification({ name: 'x', build: { number: 1, phase: 'DONE' } })).toMatchObject({ ok: false, problem: expect.stringContaining('build.phase') as unknown });
  });
});
