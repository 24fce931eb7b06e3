import { describe, it } from 'vitest';
import { randomName } from '../../../packages/bus/test/support/wait-for.js';
import { twoServersFetchOnBuild } from './support/scenario.js';

describe('repo-updater on the memory bus with real git', () => {
  it('two servers mirror the origin at start and both fetch a new tag after build.succeeded', async () => {
    const url = `memory://${randomName('repo-updater')}`;
    await twoServersFetchOnBuild({ busUrls: [url, url], repo: randomName('shop'), otherRepo: randomName('api') });
  });
});
