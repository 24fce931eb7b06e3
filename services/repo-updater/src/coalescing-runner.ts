// Runs one job per key at a time and folds bursts together. A request for a key that is idle starts
// a run at once; requests that arrive while it runs are gathered, and exactly one more run covers
// all of them when it ends (never one run per request). Different keys run in parallel.
// Pure logic: what a run does is injected, so fetches and package refreshes share it.

/** Does the work for `key`; `items` are the requests this run covers, oldest first. */
export type RunFunction<K, T> = (key: K, items: readonly T[]) => Promise<void>;

interface Batch<T> {
  readonly items: T[];
  readonly done: Promise<void>;
  readonly resolve: () => void;
}

interface Lane<T> {
  /** Requests waiting for the next run, if any arrived since the current one started. */
  pending: Batch<T> | undefined;
}

export class CoalescingRunner<K, T> {
  private readonly lanes = new Map<K, Lane<T>>();
  private readonly active = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly run: RunFunction<K, T>,
    /** A run that throws is reported here; the lane carries on with the next batch. */
    private readonly onError: (key: K, error: unknown) => void,
  ) {}

  /** Asks for a run of `key` covering `item`; resolves when a run that started after this call has ended. */
  request(key: K, item: T): Promise<void> {
    if (this.closed) return Promise.resolve();
    const lane = this.lanes.get(key);
    if (lane !== undefined) {
      if (lane.pending === undefined) lane.pending = newBatch(item);
      else lane.pending.items.push(item);
      return lane.pending.done;
    }
    const batch = newBatch(item);
    const fresh: Lane<T> = { pending: batch };
    this.lanes.set(key, fresh);
    const driving = this.drive(key, fresh);
    this.active.add(driving);
    void driving.finally(() => this.active.delete(driving));
    return batch.done;
  }

  /** Whether a run of `key` is going or waiting. */
  busy(key: K): boolean {
    return this.lanes.has(key);
  }

  /** Resolves once no run is going or waiting. */
  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active]);
  }

  /** Takes no new requests and waits for the runs already asked for. */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }

  private async drive(key: K, lane: Lane<T>): Promise<void> {
    // The first batch is taken before the first await, so a request made right after this one
    // (even in the same tick) waits for the next run instead of joining one that has started.
    for (let batch = lane.pending; batch !== undefined; batch = lane.pending) {
      lane.pending = undefined;
      try {
        await this.run(key, batch.items);
      } catch (error) {
        this.onError(key, error);
      }
      batch.resolve();
    }
    this.lanes.delete(key);
  }
}

function newBatch<T>(item: T): Batch<T> {
  let resolve: () => void = () => undefined;
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  return { items: [item], done, resolve };
}
