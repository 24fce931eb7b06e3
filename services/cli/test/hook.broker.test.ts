// The installed hook publishing over the real RabbitMQ: a real `git push`, a real subscriber.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import type { Message } from '@deploybus/protocol';
import { DiskSpool } from '@deploybus/runtime';
import { join } from 'node:path';
import { AMQP_URL, requireRabbit, STOMP_URL } from '../../../packages/bus/test/support/rabbit-harness.js';
import { randomName, waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { cli, commit, gitPush, requireBuiltCli, sandbox, type Sandbox } from './hook-support.js';

let box: Sandbox | undefined;
let subscriber: Bus | undefined;

beforeAll(async () => {
  await requireRabbit();
  requireBuiltCli();
});

afterEach(async () => {
  await subscriber?.close();
  subscriber = undefined;
  box?.remove();
  box = undefined;
});

describe.each([
  ['stomp', STOMP_URL],
  ['amqp', AMQP_URL],
])('post-receive hook over %s', (_name, url) => {
  it('publishes one commit.pushed per pushed ref, which a subscriber receives', async () => {
    box = sandbox();
    const repo = randomName('shop').replace(/[^a-z0-9-]/g, '');
    subscriber = await connectBus(AMQP_URL, { service: 'test', host: 'test' });
    const received: Message[] = [];
    await subscriber.subscribe({ patterns: [`commit.pushed.${repo}`] }, (m) => void received.push(m));
    expect((await cli(['hook', 'install', box.bare, '--repo', repo, '--bus-url', url])).code).toBe(0);
    const sha = commit(box.work, 'over the real broker');
    // The broker may be busy with other tests: a generous budget here; the default stays short.
    const push = await gitPush(box.work, { DEPLOYBUS_HOOK_TIMEOUT_MS: '20000' }, 'origin', 'main', 'HEAD:refs/heads/feature');
    expect(push.stderr).toContain('published 2 commit.pushed event(s)');
    await waitFor('both events', () => received.length === 2);
    const refs = received.map((m) => (m.type === 'commit.pushed' ? `${m.payload.repo} ${m.payload.ref} ${m.payload.after} ${m.payload.commits[0]?.subject ?? ''}` : ''));
    expect(refs.sort()).toEqual([`${repo} refs/heads/feature ${sha} over the real broker`, `${repo} refs/heads/main ${sha} over the real broker`]);
    expect(await new DiskSpool(join(box.bare, 'deploybus-spool')).pending()).toBe(0);
  });
});
