// The mirrors this server carries, kept fresh one fetch per repository at a time. Events for a
// repository that arrive while it is being fetched are folded into exactly one more fetch. A failed
// fetch is retried with backoff, then reported with the mirror's state as it is; it never throws.
// Pure logic: git and sleeping are injected (GitClient satisfies MirrorGit).
import { setTimeout as delay } from 'node:timers/promises';
import { backoffDelay, type BusLogger } from '@deploybus/bus';
import type { MirrorState } from '@deploybus/git';
import { validateRefName } from '@deploybus/protocol';
import { CoalescingRunner } from './coalescing-runner.js';

/** The git operations a mirror needs. */
export interface MirrorGit {
  ensureMirror(path: string, url: string): Promise<void>;
  fetchMirror(path: string): Promise<MirrorState>;
  mirrorState(path: string): Promise<MirrorState>;
}

export interface MirroredRepo {
  readonly name: string;
  /** Only ever the configured URL, never one from a message. */
  readonly url: string;
  readonly path: string;
}

/** Why a fetch was asked for: `start` at daemon start, else the message type and its id. */
export interface MirrorTrigger {
  readonly reason: 'start' | 'build.succeeded' | 'commit.pushed';
  readonly messageId?: string;
  /** The green build that asked for the fetch: repo.updated names it, so agents can prepare its release. */
  readonly build?: { readonly ref: string; readonly sha: string };
}

export interface MirrorReport {
  readonly repo: string;
  readonly head: string | undefined;
  /** Tags the mirror holds, the ones deploybus accepts as refs (others are logged and left out). */
  readonly tags: readonly string[];
  /** Why the fetch failed after every try; absent on success. */
  readonly error?: string;
  /** Fetch attempts made (1 when the first one worked). */
  readonly attempts: number;
}

export type SleepFunction = (ms: number, signal: AbortSignal) => Promise<void>;

export interface MirrorSetOptions {
  readonly repos: readonly MirroredRepo[];
  readonly git: MirrorGit;
  /** Tries after the first failed one. */
  readonly retries: number;
  readonly initialDelayMs: number;
  /** Cap on one backoff pause (default 60 s, at least initialDelayMs). */
  readonly maxDelayMs?: number;
  /** Called once per fetch run, with every trigger the run covers. A throw is logged. */
  readonly report: (report: MirrorReport, triggers: readonly MirrorTrigger[]) => Promise<void>;
  readonly logger: BusLogger;
  readonly sleep?: SleepFunction;
  readonly random?: () => number;
}

const MAX_TAGS = 10_000;
const MAX_ERROR_CHARS = 2_000;

export class MirrorSet {
  private readonly repos: ReadonlyMap<string, MirroredRepo>;
  private readonly runner: CoalescingRunner<string, MirrorTrigger>;
  private readonly stopping = new AbortController();
  private readonly sleep: SleepFunction;

  constructor(private readonly options: MirrorSetOptions) {
    this.repos = new Map(options.repos.map((repo) => [repo.name, repo]));
    this.sleep = options.sleep ?? sleepUnlessAborted;
    this.runner = new CoalescingRunner(
      (name, triggers) => this.sync(name, triggers),
      (name, error) => options.logger.error({ repo: name, err: error instanceof Error ? error.message : String(error) }, 'mirror update failed unexpectedly'),
    );
  }

  /** Names of the repositories carried here. */
  names(): string[] {
    return [...this.repos.keys()];
  }

  carries(name: string): boolean {
    return this.repos.has(name);
  }

  /**
   * Fetches `name` (coalesced with any fetch already waiting) and reports. Resolves when a fetch that
   * started after the call has been reported; undefined when the repository is not carried here.
   */
  update(name: string, trigger: MirrorTrigger): Promise<void> | undefined {
    if (!this.repos.has(name)) return undefined;
    return this.runner.request(name, trigger);
  }

  /** Makes sure every mirror exists and is fresh, in parallel, each reported as usual. */
  updateAll(trigger: MirrorTrigger): Promise<void> {
    return Promise.all(this.names().map((name) => this.runner.request(name, trigger))).then(() => undefined);
  }

  /** Resolves once nothing is fetching or waiting. */
  idle(): Promise<void> {
    return this.runner.idle();
  }

  /** Takes no new requests, cuts backoff pauses short, and waits for running fetches to report. */
  async close(): Promise<void> {
    this.stopping.abort();
    await this.runner.close();
  }

  private async sync(name: string, triggers: readonly MirrorTrigger[]): Promise<void> {
    const repo = this.repos.get(name);
    if (repo === undefined) return;
    const { git, logger, retries, initialDelayMs } = this.options;
    const maxMs = Math.max(initialDelayMs, this.options.maxDelayMs ?? 60_000);
    let attempts = 0;
    let lastError = '';
    let state: MirrorState | undefined;
    for (;;) {
      attempts += 1;
      try {
        await git.ensureMirror(repo.path, repo.url);
        state = await git.fetchMirror(repo.path);
        break;
      } catch (error) {
        lastError = error instanceof Error ? error.message : String(error);
        const giveUp = attempts > retries || this.stopping.signal.aborted;
        logger.warn({ repo: name, attempt: attempts, err: lastError.slice(0, MAX_ERROR_CHARS) }, giveUp ? 'fetch failed; giving up until the next event' : 'fetch failed; will retry');
        if (giveUp) break;
        await this.sleep(backoffDelay(attempts, { initialMs: initialDelayMs, maxMs }, this.options.random?.()), this.stopping.signal);
        if (this.stopping.signal.aborted) break;
      }
    }
    let report: MirrorReport;
    if (state !== undefined) {
      report = { repo: name, ...this.acceptedState(name, state), attempts };
      logger.info({ repo: name, head: report.head, tags: report.tags.length, attempts, triggers: triggers.length }, 'mirror updated');
    } else {
      let current: MirrorState = { head: undefined, tags: [] };
      try {
        current = await git.mirrorState(repo.path);
      } catch {
        // No mirror yet (the first clone failed): report it empty.
      }
      report = { repo: name, ...this.acceptedState(name, current), error: lastError.slice(0, MAX_ERROR_CHARS) || 'fetch failed', attempts };
    }
    try {
      await this.options.report(report, triggers);
    } catch (error) {
      logger.error({ repo: name, err: error instanceof Error ? error.message : String(error) }, 'could not report a mirror update');
    }
  }

  /** The state as a repo.updated can carry it: tags deploybus accepts as refs, at most MAX_TAGS. */
  private acceptedState(name: string, state: MirrorState): { head: string | undefined; tags: string[] } {
    const tags: string[] = [];
    const refused: string[] = [];
    for (const tag of state.tags) (validateRefName(tag).ok ? tags : refused).push(tag);
    if (refused.length > 0) this.options.logger.warn({ repo: name, refused: refused.slice(0, 20), count: refused.length }, 'mirror holds tags deploybus does not accept as refs; left out of the report');
    if (tags.length > MAX_TAGS) this.options.logger.warn({ repo: name, count: tags.length }, `mirror holds more than ${MAX_TAGS} tags; the report lists the first ${MAX_TAGS}`);
    return { head: state.head, tags: tags.slice(0, MAX_TAGS) };
  }
}

async function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch {
    // Aborted: the daemon is stopping; the caller gives up after this try.
  }
}
