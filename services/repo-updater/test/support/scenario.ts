// The two-server scenario, run over the memory bus and over RabbitMQ (STOMP and AMQP servers side
// by side): both servers mirror the origin at start, then fetch a new tag after build.succeeded.
import { join } from 'node:path';
import { expect } from 'vitest';
import { mirrorPath } from '@deploybus/git';
import { waitFor } from '../../../../packages/bus/test/support/wait-for.js';
import { mirrorTags, workspace } from './git-fixture.js';
import { observe, repoUpdates, startServer, type Server } from './servers.js';

export interface ScenarioOptions {
  /** Bus URL of each simulated server; the observer and publisher use the first. */
  readonly busUrls: readonly [string, string];
  readonly repo: string;
  /** A second repository carried by the second server only. */
  readonly otherRepo: string;
}

export async function twoServersFetchOnBuild(options: ScenarioOptions): Promise<void> {
  const ws = await workspace();
  const [urlA, urlB] = options.busUrls;
  const observer = await observe(urlA, [`repo.updated.${options.repo}.*`, `repo.updated.${options.otherRepo}.*`]);
  const servers: Server[] = [];
  try {
    const repos = [
      { name: options.repo, url: ws.origin },
      { name: options.otherRepo, url: ws.origin, hosts: ['!web1*'] },
    ];
    const config = { repos, fetch: { retries: 1, initialDelayMs: 10, timeoutMs: 30_000 } };
    servers.push(await startServer({ root: ws.root, host: 'web1', busUrl: urlA, config }));
    servers.push(await startServer({ root: ws.root, host: 'web2', busUrl: urlB, config }));
    const [web1, web2] = servers as [Server, Server];

    // At start each server clones its mirrors and reports their state.
    await waitFor('initial repo.updated from web1 and web2', () => {
      const hosts = repoUpdates(observer.messages).filter((m) => m.payload.repo === options.repo).map((m) => m.payload.host);
      return hosts.includes('web1') && hosts.includes('web2');
    });
    for (const m of repoUpdates(observer.messages)) {
      expect(m.payload.error).toBeUndefined();
      expect(m.payload.tags).toEqual(['v1.0.0']);
    }

    // A green build of a new tag: every server carrying the repository fetches it.
    const head = await ws.commit('second');
    await ws.tag('v1.1.0');
    const build = observer.bus.message('build.succeeded', {
      repo: options.repo,
      ref: 'refs/tags/v1.1.0',
      sha: head,
      job: 'shop-ci',
      number: 7,
      url: 'http://jenkins.example.com/job/shop-ci/7/',
    });
    await observer.bus.publish(build);
    await waitFor('repo.updated with v1.1.0 from web1 and web2', () => {
      const hosts = repoUpdates(observer.messages)
        .filter((m) => m.correlationId === build.id && m.payload.tags.includes('v1.1.0'))
        .map((m) => m.payload.host);
      return hosts.includes('web1') && hosts.includes('web2');
    });
    for (const server of [web1, web2]) {
      const update = repoUpdates(observer.messages).find((m) => m.correlationId === build.id && m.payload.host === server.host);
      expect(update?.payload).toMatchObject({ repo: options.repo, host: server.host, head, tags: ['v1.0.0', 'v1.1.0'] });
      expect(update?.source).toEqual({ service: 'repo-updater', host: server.host });
      // The mirror itself holds the tag, as git sees it.
      expect(await mirrorTags(mirrorPath(server.mirrorsDir, options.repo))).toEqual(['v1.0.0', 'v1.1.0']);
    }

    // The second repository lives on web2 only.
    await waitFor(`${options.otherRepo} mirrored on web2`, () => repoUpdates(observer.messages).some((m) => m.payload.repo === options.otherRepo && m.payload.host === 'web2'));
    expect(repoUpdates(observer.messages).some((m) => m.payload.repo === options.otherRepo && m.payload.host === 'web1')).toBe(false);
    expect(await mirrorTags(mirrorPath(web2.mirrorsDir, options.otherRepo))).toContain('v1.0.0');
    await expect(mirrorTags(join(web1.mirrorsDir, `${options.otherRepo}.git`))).rejects.toThrow();
  } finally {
    for (const server of servers) await server.handle.stop();
    await observer.bus.close();
    await ws.remove();
  }
}
