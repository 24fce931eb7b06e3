// With no Jenkins configured, the all-in-one still needs green builds for the chain to go on: this
// stand-in answers every pushed branch commit with build.started and build.succeeded. It says
// plainly in each event's URL and job name that it is not a real build.
import { workQueueName } from '@deploybus/protocol';
import type { Bus, Subscription } from '@deploybus/bus';

const ZERO_SHA = /^0+$/;

let number = 0;

export async function startStandInBuilder(bus: Bus): Promise<Subscription> {
  return bus.subscribe({ queue: workQueueName('stand-in-builder'), patterns: ['commit.pushed.*'] }, async (m) => {
    if (m.type !== 'commit.pushed' || ZERO_SHA.test(m.payload.after) || !m.payload.ref.startsWith('refs/heads/')) return;
    number += 1;
    const build = {
      repo: m.payload.repo,
      ref: m.payload.ref,
      sha: m.payload.after,
      job: `${m.payload.repo}-stand-in`,
      number,
      url: `http://stand-in-builder.invalid/${m.payload.repo}/${number}/`,
    };
    await bus.publish(bus.message('build.started', build, { correlationId: m.id }));
    await bus.publish(bus.message('build.succeeded', { ...build, durationMs: 0 }, { correlationId: m.id }));
  });
}

/** Publishes a stand-in build.succeeded for each tagged commit (the ledger keeps one build per commit). */
export async function announceBuiltTags(bus: Bus, repo: string, tags: ReadonlyArray<{ tag: string; sha: string }>): Promise<void> {
  for (const { tag, sha } of tags) {
    number += 1;
    const build = { repo, ref: `refs/tags/${tag}`, sha, job: `${repo}-stand-in`, number, url: `http://stand-in-builder.invalid/${repo}/${number}/` };
    await bus.publish(bus.message('build.succeeded', { ...build, durationMs: 0 }));
  }
}
