// Fakes for logic tests: a git whose fetches finish when the test says, and a logger that keeps lines.
import type { MirrorState } from '@deploybus/git';
import type { MirrorGit } from '../../src/index.js';

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Every fetch waits for the test to settle it; `fetches` records them in order. */
export class ControlledGit implements MirrorGit {
  readonly ensured: string[] = [];
  readonly fetches: Array<{ path: string; done: Deferred<MirrorState> }> = [];
  state: MirrorState = { head: undefined, tags: [] };

  async ensureMirror(path: string): Promise<void> {
    this.ensured.push(path);
  }

  fetchMirror(path: string): Promise<MirrorState> {
    const done = deferred<MirrorState>();
    this.fetches.push({ path, done });
    return done.promise;
  }

  async mirrorState(): Promise<MirrorState> {
    return this.state;
  }

  fetchesOf(path: string): number {
    return this.fetches.filter((f) => f.path === path).length;
  }

  /** Resolves fetch number `index` (from 0) of `path`. */
  finish(path: string, index: number, state: MirrorState): void {
    const fetch = this.fetches.filter((f) => f.path === path)[index];
    if (fetch === undefined) throw new Error(`no fetch #${index} of ${path} to finish`);
    fetch.done.resolve(state);
  }
}

/** A git whose fetch fails the first `failures` times, then succeeds. */
export class FlakyGit implements MirrorGit {
  calls = 0;
  constructor(
    private readonly failures: number,
    private readonly state: MirrorState,
  ) {}

  async ensureMirror(): Promise<void> {}

  async fetchMirror(): Promise<MirrorState> {
    this.calls += 1;
    if (this.calls <= this.failures) throw new Error(`git fetch failed: fatal: unable to access origin (try ${this.calls})`);
    return this.state;
  }

  async mirrorState(): Promise<MirrorState> {
    return { head: undefined, tags: ['v0.9.0'] };
  }
}

// The one capturing logger the tests share.
export { CaptureLogger as MemoryLogger } from '../../../../packages/bus/test/support/capture-logger.js';

/** Lets pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await new Promise((resolve) => setImmediate(resolve));
}
