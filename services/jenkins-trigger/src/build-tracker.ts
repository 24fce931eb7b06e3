// The builds this daemon started and still follows, and the ones it already reported, so a build's
// outcome is published once whether it comes by notification, by polling, or after a restart.
// Plain state with no I/O: the relay persists `snapshot()` through a StateFile.
import { z } from 'zod';

export interface TrackedBuild {
  /** This daemon's id for the build request. */
  readonly id: string;
  /** The commit.pushed message id and the job: a redelivered message finds its build here. */
  readonly requestKey: string;
  readonly job: string;
  readonly repo: string;
  readonly ref: string;
  readonly sha: string;
  readonly queueId: number;
  readonly queueUrl: string;
  readonly requestedAt: number;
  number?: number;
  url?: string;
  startedAt?: number;
  requestedPublished: boolean;
  startedPublished: boolean;
}

export interface FinishedBuild {
  readonly requestKey: string;
  readonly job: string;
  readonly number: number | undefined;
  readonly finishedAt: number;
}

export interface TrackerState {
  readonly version: 1;
  readonly inFlight: readonly TrackedBuild[];
  readonly finished: readonly FinishedBuild[];
}

export const trackerStateSchema = z.object({
  version: z.literal(1),
  inFlight: z.array(
    z.object({
      id: z.string().min(1),
      requestKey: z.string().min(1),
      job: z.string().min(1),
      repo: z.string().min(1),
      ref: z.string().min(1),
      sha: z.string().min(1),
      queueId: z.number().int().nonnegative(),
      queueUrl: z.string().min(1),
      requestedAt: z.number(),
      number: z.number().int().positive().optional(),
      url: z.string().min(1).optional(),
      startedAt: z.number().optional(),
      requestedPublished: z.boolean(),
      startedPublished: z.boolean(),
    }),
  ),
  finished: z.array(
    z.object({
      requestKey: z.string().min(1),
      job: z.string().min(1),
      number: z.number().int().positive().optional(),
      finishedAt: z.number(),
    }),
  ),
});

export interface BuildTrackerOptions {
  /** Finished builds remembered (oldest forgotten first); enough to outlast any notification retry. */
  readonly maxFinished?: number;
}

const buildKey = (job: string, number: number): string => `${job}#${number}`;

export class BuildTracker {
  private readonly inFlight = new Map<string, TrackedBuild>();
  /** Builds whose outcome is being published right now: claimed synchronously, so two callers never both publish. */
  private readonly finishing = new Set<string>();
  private finished: FinishedBuild[] = [];
  private readonly finishedByBuild = new Set<string>();
  private readonly finishedByRequest = new Set<string>();
  private readonly maxFinished: number;

  constructor(state?: TrackerState, options: BuildTrackerOptions = {}) {
    this.maxFinished = options.maxFinished ?? 5_000;
    for (const build of state?.inFlight ?? []) this.inFlight.set(build.id, { ...build });
    for (const done of state?.finished ?? []) this.remember(done);
  }

  add(build: TrackedBuild): void {
    this.inFlight.set(build.id, build);
  }

  /** A build already requested for this message and job: in flight, or 'finished'. */
  byRequestKey(requestKey: string): TrackedBuild | 'finished' | undefined {
    if (this.finishedByRequest.has(requestKey)) return 'finished';
    for (const build of this.inFlight.values()) if (build.requestKey === requestKey) return build;
    return undefined;
  }

  byNumber(job: string, number: number): TrackedBuild | undefined {
    for (const build of this.inFlight.values()) if (build.job === job && build.number === number) return build;
    return undefined;
  }

  /** A build still waiting in Jenkins' queue, by its queue item id. */
  byQueueId(job: string, queueId: number): TrackedBuild | undefined {
    for (const build of this.inFlight.values()) if (build.job === job && build.queueId === queueId && build.number === undefined) return build;
    return undefined;
  }

  isFinished(job: string, number: number): boolean {
    return this.finishedByBuild.has(buildKey(job, number));
  }

  /** Builds without a build number yet. */
  queued(): TrackedBuild[] {
    return [...this.inFlight.values()].filter((build) => build.number === undefined && !this.finishing.has(build.id));
  }

  /** Builds with a number and no outcome yet. */
  running(): TrackedBuild[] {
    return [...this.inFlight.values()].filter((build) => build.number !== undefined && !this.finishing.has(build.id));
  }

  get size(): number {
    return this.inFlight.size;
  }

  /** Records the build number; false if the build already had one. */
  markStarted(build: TrackedBuild, number: number, url: string, now: number): boolean {
    if (build.number !== undefined) return false;
    build.number = number;
    build.url = url;
    build.startedAt = now;
    return true;
  }

  /** Takes the right to publish the build's outcome; false if someone already has it or it is done. */
  claim(build: TrackedBuild): boolean {
    if (this.finishing.has(build.id) || !this.inFlight.has(build.id)) return false;
    if (build.number !== undefined && this.isFinished(build.job, build.number)) return false;
    this.finishing.add(build.id);
    return true;
  }

  /** Gives a claim back (publishing failed); the build stays in flight. */
  release(build: TrackedBuild): void {
    this.finishing.delete(build.id);
  }

  /** The outcome was published: the build is finished for good. */
  complete(build: TrackedBuild, now: number): void {
    this.finishing.delete(build.id);
    this.inFlight.delete(build.id);
    this.remember({ requestKey: build.requestKey, job: build.job, number: build.number, finishedAt: now });
  }

  snapshot(): TrackerState {
    return {
      version: 1,
      inFlight: [...this.inFlight.values()].map((build) => ({ ...build })),
      finished: [...this.finished],
    };
  }

  private remember(done: FinishedBuild): void {
    this.finished.push(done);
    this.finishedByRequest.add(done.requestKey);
    if (done.number !== undefined) this.finishedByBuild.add(buildKey(done.job, done.number));
    if (this.finished.length > this.maxFinished) {
      const dropped = this.finished.slice(0, this.finished.length - this.maxFinished);
      this.finished = this.finished.slice(-this.maxFinished);
      for (const old of dropped) {
        this.finishedByRequest.delete(old.requestKey);
        if (old.number !== undefined) this.finishedByBuild.delete(buildKey(old.job, old.number));
      }
    }
  }
}
