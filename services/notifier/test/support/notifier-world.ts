// The conductor test world (real conductor daemon, fake agents, in-memory bus) plus the notifier daemon
// on the same bus, and a client that sends subscription.requested and waits for the answer.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMessageOfType, type PayloadInputOf, type PayloadOf } from '@deploybus/protocol';
import { startDaemon, type DaemonHandle } from '@deploybus/runtime';
import { notifierDaemon } from '../../src/index.js';
import { cleanups, world, type World, type WorldOptions } from '../../../conductor/test/support/conductor-world.js';

export const NOTIFIER_HOST = 'notify1';

export interface NotifierWorld extends World {
  notifier: DaemonHandle | undefined;
  startNotifier(overrides?: Record<string, unknown>, env?: Record<string, string>): Promise<DaemonHandle>;
  subscriptions(payload: Omit<PayloadInputOf<'subscription.requested'>, 'by'> & { by?: string }): Promise<PayloadOf<'subscription.state'>>;
}

/** Fast retries for tests: 2 attempts 10 ms apart, failing destinations probed every 100 ms. */
export const FAST_DELIVERY = { attempts: 2, backoffMs: 10, maxBackoffMs: 20, probeMs: 100, pollMs: 100, timeoutMs: 5_000 };

export async function notifierWorld(options: WorldOptions = {}): Promise<NotifierWorld> {
  const w = (await world(options)) as NotifierWorld;
  w.notifier = undefined;
  w.startNotifier = async (overrides = {}, env = {}) => {
    const file = join(w.dir, `notifier-${String(overrides['host'] ?? NOTIFIER_HOST)}.json`);
    const config = {
      logLevel: 'silent',
      host: NOTIFIER_HOST,
      bus: { url: w.url },
      store: { url: `sqlite:${join(w.dir, 'notifier.db')}` },
      destinations: { hosts: ['127.0.0.1'], cidrs: ['127.0.0.1/32'], ports: 'any', schemes: ['http'] },
      delivery: FAST_DELIVERY,
      ...overrides,
    };
    await writeFile(file, JSON.stringify(config));
    const handle = await startDaemon(notifierDaemon, { configFile: file, env });
    w.notifier = handle;
    cleanups.push(() => handle.stop());
    return handle;
  };
  w.subscriptions = async (payload) => {
    const message = w.client.message('subscription.requested', { by: 'ada', ...payload }, { expectReplies: true });
    // Any notifier may answer (a shared queue).
    const result = await w.client.request(message, { expect: ['notifier'], timeoutMs: 10_000, responderOf: () => 'notifier' });
    const reply = result.replies.get('notifier');
    if (reply === undefined || !isMessageOfType(reply, 'subscription.state')) throw new Error(`the notifier did not answer ${payload.action}`);
    return reply.payload;
  };
  return w;
}
