// Polling for repositories with no hook: `git ls-remote` on an interval, a commit.pushed (origin
// "poll") for each branch or tag whose sha changed. What was seen is kept in the state file, so a
// restart does not republish. The first poll of a repository with no memory records its refs without
// publishing: otherwise adding a repository (or losing the state file) would announce every branch and
// tag it ever had as just pushed. A failed ls-remote is logged and tried again next interval.
import type { Bus } from '@deploybus/bus';
import { validateRefName } from '@deploybus/protocol';
import type { Logger } from '@deploybus/runtime';
import { stableMessageId } from './message-ids.js';
import { diffRefs, watchedRefs, ZERO_SHA } from './ref-changes.js';
import type { StateStore } from './watcher-state.js';

export interface LsRemoteLike {
  lsRemote(url: string): Promise<Map<string, string>>;
}

export interface PolledRepo {
  readonly name: string;
  readonly url: string;
  readonly pollIntervalMs: number;
}

export interface PollResult {
  readonly published: number;
  /** True on a first poll: refs recorded, nothing published. */
  readonly firstPoll: boolean;
  readonly failed: boolean;
}

export interface RepoPollerDeps {
  readonly repos: readonly PolledRepo[];
  readonly git: LsRemoteLike;
  readonly bus: Bus;
  readonly store: StateStore;
  readonly logger: Logger;
}

export class RepoPoller {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<PollResult>>();
  private stopped = false;

  constructor(private readonly deps: RepoPollerDeps) {}

  start(): void {
    for (const repo of this.deps.repos) {
      const tick = (): void => {
        if (this.stopped) return;
        void this.pollOnce(repo).finally(() => {
          if (this.stopped) return;
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            tick();
          }, repo.pollIntervalMs);
          timer.unref();
          this.timers.add(timer);
        });
      };
      tick();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.running.values()]);
  }

  /** One poll of one repository; never throws. Overlapping calls for one repository share a run. */
  pollOnce(repo: PolledRepo): Promise<PollResult> {
    const existing = this.running.get(repo.name);
    if (existing) return existing;
    const run = this.poll(repo).finally(() => this.running.delete(repo.name));
    this.running.set(repo.name, run);
    return run;
  }

  private async poll(repo: PolledRepo): Promise<PollResult> {
    const { bus, store, logger } = this.deps;
    let refs: Map<string, string>;
    try {
      refs = await this.deps.git.lsRemote(repo.url);
    } catch (error) {
      logger.warn({ repo: repo.name, err: error instanceof Error ? error.message : String(error) }, 'ls-remote failed; trying again next interval');
      return { published: 0, firstPoll: false, failed: true };
    }
    const known = store.current.polled[repo.name];
    if (known === undefined) {
      const seen = watchedRefs(refs);
      await this.save(repo.name, seen);
      logger.info({ repo: repo.name, refs: Object.keys(seen).length }, 'first poll: refs recorded, nothing published');
      return { published: 0, firstPoll: true, failed: false };
    }
    const remembered = { ...known };
    let sequence = store.current.pollSequence[repo.name] ?? 0;
    let published = 0;
    let failed = false;
    for (const change of diffRefs(new Map(Object.entries(known)), refs)) {
      const check = validateRefName(change.ref);
      if (!check.ok) {
        logger.warn({ repo: repo.name, ref: change.ref.slice(0, 200), reason: check.reason }, 'ref refused; not published');
        record(remembered, change.ref, change.after);
        continue;
      }
      try {
        // The id names the change and its place among this repository's published changes, and each
        // change is written down (refs and count together) as soon as it is published: a crash mid-poll
        // republishes at most the change in flight, under the id consumers already saw, while a branch
        // moved A->B, back, and to B again is two changes A->B with two ids, both acted on.
        const id = stableMessageId(`poll\n${repo.name}\n${sequence}\n${change.ref}\n${change.before}\n${change.after}`);
        const message = bus.message('commit.pushed', { repo: repo.name, ref: change.ref, before: change.before, after: change.after, commits: [], pusher: 'unknown', origin: 'poll' }, { id });
        await bus.publish(message);
        published += 1;
        sequence += 1;
        record(remembered, change.ref, change.after);
        await this.save(repo.name, remembered, sequence);
      } catch (error) {
        // Left unrecorded, so the next poll publishes it.
        logger.warn({ repo: repo.name, ref: change.ref, err: error instanceof Error ? error.message : String(error) }, 'publish failed; retried next interval');
        failed = true;
        break;
      }
    }
    await this.save(repo.name, remembered, sequence);
    return { published, firstPoll: false, failed };
  }

  private async save(repo: string, refs: Record<string, string>, sequence?: number): Promise<void> {
    try {
      await this.deps.store.update((state) => {
        state.polled[repo] = refs;
        if (sequence !== undefined) state.pollSequence[repo] = sequence;
      });
    } catch (error) {
      this.deps.logger.error({ repo, file: this.deps.store.file, err: error instanceof Error ? error.message : String(error) }, 'could not write the state file');
    }
  }
}

function record(refs: Record<string, string>, ref: string, after: string): void {
  if (after === ZERO_SHA) delete refs[ref];
  else refs[ref] = after;
}
