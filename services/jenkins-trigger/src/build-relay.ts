// The logic of jenkins-trigger: starts the mapped Jenkins jobs for a push, follows each queue item
// until Jenkins gives it a build number, and relays the build's outcome to the bus exactly once,
// whichever comes first: Jenkins' notification or the fallback poll. Dependencies (bus, Jenkins
// client, clock, sleep, state store) come in as parameters, so tests drive it with fakes.
import { randomUUID } from 'node:crypto';
import { backoffDelay, type Bus, type BusLogger } from '@deploybus/bus';
import type { Message, PayloadInputOf } from '@deploybus/protocol';
import type { TrackedBuild, BuildTracker, TrackerState } from './build-tracker.js';
import { JenkinsAuthError, JenkinsError, JenkinsNotFoundError } from '@deploybus/jenkins';
import type { BuildInfo, BuildResult, QueueItemState, QueuedBuild } from '@deploybus/jenkins';
import type { BuildNotification } from './jenkins-notification.js';
import { matchJobs, type JobMapping } from './job-matcher.js';
import type { NotificationOutcome } from './notify-server.js';

/** The part of JenkinsClient the relay uses. */
export interface JenkinsApi {
  readonly url: string;
  readonly user: string;
  triggerBuild(job: string, parameters: Readonly<Record<string, string>>): Promise<QueuedBuild>;
  queueItem(queueUrl: string): Promise<QueueItemState>;
  buildOfQueueItem(job: string, queueId: number): Promise<{ readonly number: number; readonly url: string } | undefined>;
  build(job: string, number: number): Promise<BuildInfo>;
  buildUrl(job: string, number: number): string;
}

export interface RetryOptions {
  readonly attempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export interface BuildRelayOptions {
  readonly bus: Pick<Bus, 'message' | 'publish'>;
  readonly jenkins: JenkinsApi;
  readonly tracker: BuildTracker;
  readonly logger: BusLogger;
  readonly jobs: readonly JobMapping[];
  readonly retry: RetryOptions;
  /** A build queued or running longer than this is reported failed. */
  readonly maxBuildMs: number;
  /** Persists the tracker's state (the state file); absent: memory only. */
  readonly save?: (state: TrackerState) => Promise<void>;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

type FailedResult = PayloadInputOf<'build.failed'>['result'];

const ZERO_SHA = /^0+$/;
const MAX_REASON = 2048;
const WARN_EVERY_MS = 60_000;

export class BuildRelay {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Publishes under way, by build and kind, so two callers never send the same event twice. */
  private readonly publishing = new Map<string, Promise<void>>();
  private readonly lastWarned = new Map<string, number>();
  private queuePolling = false;
  private buildPolling = false;

  constructor(private readonly options: BuildRelayOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** commit.pushed: start every mapped job. Never throws for Jenkins' faults; they become build.failed. */
  async onCommitPushed(message: Message<'commit.pushed'>): Promise<void> {
    const { repo, ref, after } = message.payload;
    const { logger } = this.options;
    if (ZERO_SHA.test(after)) {
      logger.debug({ repo, ref }, 'ref deleted; nothing to build');
      return;
    }
    const mappings = matchJobs(this.options.jobs, repo, ref);
    if (mappings.length === 0) {
      logger.debug({ repo, ref }, 'no job is mapped to this repository and ref');
      return;
    }
    for (const mapping of mappings) await this.startJob(mapping, message);
  }

  /** A notification from Jenkins (already authenticated and parsed). */
  async onNotification(notification: BuildNotification): Promise<NotificationOutcome> {
    const { tracker, logger } = this.options;
    const { job, number, phase } = notification;
    if (phase === 'QUEUED') return 'ignored';
    let build = tracker.byNumber(job, number);
    if (build === undefined && notification.queueId !== undefined) build = tracker.byQueueId(job, notification.queueId);
    if (build === undefined) {
      if (tracker.isFinished(job, number)) return 'duplicate';
      logger.info({ job, number, phase }, 'notification for a build this daemon did not start; ignored');
      return 'unknown';
    }
    if (build.number === undefined) {
      tracker.markStarted(build, number, this.options.jenkins.buildUrl(job, number), this.now());
      await this.persist();
    } else if (build.number !== number) {
      logger.info({ job, number, expected: build.number }, 'notification for another build of a queued item; ignored');
      return 'unknown';
    }
    if (phase === 'STARTED' || notification.result === undefined) {
      await this.publishStarted(build);
      return 'started';
    }
    const published = await this.finish(build, notification.result, notification.durationMs, `Jenkins reported ${notification.result}`);
    return published ? 'published' : 'duplicate';
  }

  /** Follows queue items until Jenkins gives them a build number (or cancels them). */
  async pollQueue(): Promise<void> {
    if (this.queuePolling) return;
    this.queuePolling = true;
    try {
      for (const build of this.options.tracker.queued()) await this.checkQueued(build);
    } finally {
      this.queuePolling = false;
    }
  }

  /** The fallback for lost notifications: asks Jenkins about every running build. */
  async pollBuilds(): Promise<void> {
    if (this.buildPolling) return;
    this.buildPolling = true;
    try {
      for (const build of this.options.tracker.running()) await this.checkRunning(build);
    } finally {
      this.buildPolling = false;
    }
  }

  /** Publishes what a crash may have left unsaid (build.requested / build.started of builds in flight). */
  async resume(): Promise<void> {
    const { tracker } = this.options;
    for (const build of [...tracker.queued(), ...tracker.running()]) {
      if (!build.requestedPublished) await this.publishRequested(build).catch((error: unknown) => this.warn(build, 'build.requested not published yet', error));
      if (build.number !== undefined) await this.publishStarted(build).catch((error: unknown) => this.warn(build, 'build.started not published yet', error));
    }
  }

  private async startJob(mapping: JobMapping, message: Message<'commit.pushed'>): Promise<void> {
    const { tracker, logger, jenkins } = this.options;
    const { repo, ref, after: sha } = message.payload;
    const job = mapping.job;
    const requestKey = `${message.id}:${job}`;
    const known = tracker.byRequestKey(requestKey);
    if (known !== undefined) {
      // A redelivery of a push already handled: never a second build.
      if (known !== 'finished' && !known.requestedPublished) await this.publishRequested(known);
      logger.debug({ job, repo, ref }, 'push already handled; not building again');
      return;
    }
    const parameters = { ...mapping.parameters, REPO: repo, REF: ref, SHA: sha };
    let queued: QueuedBuild;
    try {
      queued = await this.withRetry(`start ${job}`, () => jenkins.triggerBuild(job, parameters));
    } catch (error) {
      const reason = this.startFailureReason(error, job);
      await this.options.bus.publish(this.options.bus.message('build.failed', { repo, ref, sha, job, result: 'ERROR', reason: clip(reason) }));
      return;
    }
    const folded = tracker.byQueueId(job, queued.queueId);
    if (folded !== undefined) {
      // Jenkins folds a request into an item still waiting with the same parameters (the same push
      // seen twice: webhook and poller). That item's build is followed already; a second follower
      // would wait forever for an outcome the first one publishes.
      logger.info({ job, repo, ref, sha, queueUrl: queued.queueUrl }, 'Jenkins folded this request into a queued build already followed; not following it twice');
      return;
    }
    const build: TrackedBuild = {
      id: randomUUID(),
      requestKey,
      job,
      repo,
      ref,
      sha,
      queueId: queued.queueId,
      queueUrl: queued.queueUrl,
      requestedAt: this.now(),
      requestedPublished: false,
      startedPublished: false,
    };
    tracker.add(build);
    await this.persist();
    logger.info({ job, repo, ref, sha, queueUrl: queued.queueUrl }, 'build requested');
    await this.publishRequested(build);
  }

  private startFailureReason(error: unknown, job: string): string {
    const { logger, jenkins, retry } = this.options;
    if (error instanceof JenkinsAuthError) {
      logger.error({ user: error.user, url: jenkins.url, status: error.status, job }, `${error.message} at ${jenkins.url}: check jenkins.user and jenkins.token`);
      return error.message;
    }
    if (error instanceof JenkinsError && error.transient) {
      logger.error({ job, url: jenkins.url, attempts: retry.attempts, err: error.message }, 'Jenkins could not start the build; giving up');
      return `Jenkins could not be reached after ${retry.attempts} attempt${retry.attempts === 1 ? '' : 's'}: ${error.message}`;
    }
    const text = error instanceof Error ? error.message : String(error);
    logger.error({ job, url: jenkins.url, err: text }, 'Jenkins refused to start the build');
    return text;
  }

  private async withRetry<T>(what: string, action: () => Promise<T>): Promise<T> {
    const { attempts, initialDelayMs, maxDelayMs } = this.options.retry;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await action();
      } catch (error) {
        // 401/403/404 are answers, not outages: asking again would only repeat them.
        if (!(error instanceof JenkinsError) || !error.transient || attempt >= attempts) throw error;
        const delay = backoffDelay(attempt, { initialMs: initialDelayMs, maxMs: maxDelayMs });
        this.options.logger.warn({ attempt, of: attempts, delayMs: delay, err: error.message }, `${what}: Jenkins unavailable; trying again`);
        await this.sleep(delay);
      }
    }
  }

  /** The queued build is Jenkins build `started`: recorded, then build.started published. */
  private async startedAs(build: TrackedBuild, started: { readonly number: number; readonly url: string }): Promise<void> {
    const { jenkins, tracker } = this.options;
    tracker.markStarted(build, started.number, httpUrlOr(started.url, jenkins.buildUrl(build.job, started.number)), this.now());
    await this.persist();
    await this.publishStarted(build).catch((error: unknown) => this.warn(build, 'build.started not published yet', error));
  }

  private async checkQueued(build: TrackedBuild): Promise<void> {
    const { jenkins } = this.options;
    let item: QueueItemState;
    try {
      item = await jenkins.queueItem(build.queueUrl);
    } catch (error) {
      if (build.number !== undefined) return; // a notification got there first
      if (error instanceof JenkinsNotFoundError) {
        // Jenkins forgets a queue item minutes after its build started (the daemon was down, or cut
        // off, meanwhile): the build itself still names its queue item.
        const started = await jenkins.buildOfQueueItem(build.job, build.queueId).catch((lookup: unknown) => {
          this.warn(build, 'queue item is gone from Jenkins and its builds could not be listed', lookup);
          return undefined;
        });
        if (started !== undefined && build.number === undefined && this.isInFlight(build)) {
          await this.startedAs(build, started);
          return;
        }
        if (await this.givenUpUnstarted(build, `, and no build of ${build.job} names queue item ${build.queueId}`)) return;
        this.warn(build, 'queue item is gone from Jenkins and no build names it yet; waiting for a notification with its queue id', error);
        return;
      }
      if (await this.givenUpUnstarted(build, `; last problem: ${describe(error)}`)) return;
      this.warn(build, 'queue item not readable', error);
      return;
    }
    if (build.number !== undefined || !this.isInFlight(build)) return;
    if (item.executable) {
      await this.startedAs(build, item.executable);
      return;
    }
    if (item.cancelled) {
      await this.finish(build, 'ABORTED', undefined, `the queue item was cancelled in Jenkins before the build started${item.why ? ` (${item.why})` : ''}`);
      return;
    }
    await this.givenUpUnstarted(build, item.why ? `: ${item.why}` : '');
  }

  /** A build requested more than poll.maxBuildMs ago that never started is reported ERROR (true), with `detail` after the sentence. */
  private async givenUpUnstarted(build: TrackedBuild, detail: string): Promise<boolean> {
    if (this.now() - build.requestedAt <= this.options.maxBuildMs) return false;
    await this.finish(build, 'ERROR', undefined, `Jenkins did not start the build within ${this.options.maxBuildMs} ms (poll.maxBuildMs)${detail}`);
    return true;
  }

  private async checkRunning(build: TrackedBuild): Promise<void> {
    const number = build.number;
    if (number === undefined) return;
    let info: BuildInfo | undefined;
    let problem: unknown;
    try {
      info = await this.options.jenkins.build(build.job, number);
    } catch (error) {
      problem = error;
    }
    if (!this.isInFlight(build)) return;
    if (info && !info.building && info.result !== undefined) {
      await this.finish(build, info.result, info.durationMs, `Jenkins reported ${info.result}`);
      return;
    }
    const runningMs = this.now() - (build.startedAt ?? build.requestedAt);
    if (runningMs > this.options.maxBuildMs) {
      const last = problem === undefined ? '' : `; last problem: ${describe(problem)}`;
      await this.finish(build, 'ERROR', undefined, `build #${number} had no result after ${runningMs} ms (poll.maxBuildMs is ${this.options.maxBuildMs}); no longer followed${last}`);
      return;
    }
    if (problem !== undefined) this.warn(build, 'build not readable; asking again next poll', problem);
  }

  /** Publishes the build's outcome once; false if it was already published (or is being published). */
  private async finish(build: TrackedBuild, result: BuildResult | FailedResult, durationMs: number | undefined, reason: string): Promise<boolean> {
    const { tracker, bus, logger } = this.options;
    if (!tracker.claim(build)) return false;
    try {
      if (build.number !== undefined) await this.publishStarted(build);
      const base = { repo: build.repo, ref: build.ref, sha: build.sha, job: build.job };
      if (build.number !== undefined) {
        const where = { number: build.number, url: build.url ?? this.options.jenkins.buildUrl(build.job, build.number) };
        if (result === 'SUCCESS') await bus.publish(bus.message('build.succeeded', { ...base, ...where, ...(durationMs === undefined ? {} : { durationMs }) }));
        else await bus.publish(bus.message('build.failed', { ...base, ...where, result, reason: clip(reason) }));
      } else {
        // Without a build number there was no build: only failures end here.
        await bus.publish(bus.message('build.failed', { ...base, result: result === 'SUCCESS' ? 'ERROR' : result, reason: clip(reason) }));
      }
    } catch (error) {
      tracker.release(build);
      throw error;
    }
    tracker.complete(build, this.now());
    logger.info({ job: build.job, number: build.number, repo: build.repo, sha: build.sha, result }, 'build finished');
    await this.persist();
    return true;
  }

  /** build.requested once per build; concurrent callers wait for the same publish. */
  private publishRequested(build: TrackedBuild): Promise<void> {
    if (build.requestedPublished) return Promise.resolve();
    return this.once(`${build.id}:requested`, async () => {
      const { bus } = this.options;
      await bus.publish(bus.message('build.requested', { repo: build.repo, ref: build.ref, sha: build.sha, job: build.job, queueUrl: build.queueUrl }));
      build.requestedPublished = true;
      await this.persist();
    });
  }

  /** build.started once per build, always after build.requested; concurrent callers wait for the same publish. */
  private publishStarted(build: TrackedBuild): Promise<void> {
    const number = build.number;
    if (build.startedPublished || number === undefined) return Promise.resolve();
    return this.once(`${build.id}:started`, async () => {
      const { bus } = this.options;
      await this.publishRequested(build);
      await bus.publish(bus.message('build.started', { repo: build.repo, ref: build.ref, sha: build.sha, job: build.job, number, url: build.url ?? this.options.jenkins.buildUrl(build.job, number) }));
      build.startedPublished = true;
      this.options.logger.info({ job: build.job, number, repo: build.repo }, 'build started');
      await this.persist();
    });
  }

  /** Runs `action` unless a run under the same key is under way, in which case its promise is shared. */
  private once(key: string, action: () => Promise<void>): Promise<void> {
    let pending = this.publishing.get(key);
    if (pending === undefined) {
      pending = action();
      this.publishing.set(key, pending);
      const forget = (): void => void this.publishing.delete(key);
      pending.then(forget, forget);
    }
    return pending;
  }

  private isInFlight(build: TrackedBuild): boolean {
    return this.options.tracker.queued().includes(build) || this.options.tracker.running().includes(build);
  }

  private async persist(): Promise<void> {
    if (!this.options.save) return;
    try {
      await this.options.save(this.options.tracker.snapshot());
    } catch (error) {
      this.options.logger.error({ err: describe(error) }, 'state file not written; builds in flight would be forgotten by a restart');
    }
  }

  /** Logs a polling problem of a build at most once a minute per kind: a long outage is not a flood of lines. */
  private warn(build: TrackedBuild, what: string, error: unknown): void {
    const key = `${build.id}:${what}`;
    const now = this.now();
    const last = this.lastWarned.get(key);
    if (last !== undefined && now - last < WARN_EVERY_MS) return;
    this.lastWarned.set(key, now);
    if (this.lastWarned.size > 10_000) this.lastWarned.clear();
    this.options.logger.warn({ job: build.job, number: build.number, queueUrl: build.queueUrl, err: describe(error) }, what);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function clip(text: string): string {
  return text.length <= MAX_REASON ? text : `${text.slice(0, MAX_REASON - 1)}…`;
}

function httpUrlOr(candidate: string, fallback: string): string {
  try {
    const url = new URL(candidate);
    return url.protocol === 'http:' || url.protocol === 'https:' ? candidate : fallback;
  } catch {
    return fallback;
  }
}
