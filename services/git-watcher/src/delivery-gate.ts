// Publishes a webhook delivery at most once: a delivery id seen before (remembered in a bounded,
// persisted list) is answered as a duplicate, and a repeat that arrives while the first is still being
// published waits for that one's outcome instead of publishing again. A delivery is remembered only
// after the broker confirmed it, so a failed one can be retried by its sender.
import type { StateStore } from './watcher-state.js';

export type GateResult<T> = { readonly duplicate: true } | { readonly duplicate: false; readonly value: T };

export class DeliveryGate {
  private readonly seen: Set<string>;
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: StateStore,
    private readonly limit: number,
  ) {
    this.seen = new Set(store.current.deliveries.slice(-limit));
  }

  has(key: string): boolean {
    return this.seen.has(key);
  }

  /** Runs `publish` unless `key` was delivered already; remembers `key` once `publish` resolved. */
  async once<T>(key: string, publish: () => Promise<T>): Promise<GateResult<T>> {
    if (this.seen.has(key)) return { duplicate: true };
    const running = this.inFlight.get(key);
    if (running !== undefined) {
      await running.catch(() => undefined);
      return this.once(key, publish);
    }
    const work = publish();
    this.inFlight.set(key, work);
    try {
      const value = await work;
      this.seen.add(key);
      while (this.seen.size > this.limit) {
        const oldest = this.seen.values().next().value;
        if (oldest === undefined) break;
        this.seen.delete(oldest);
      }
      const remembered = [...this.seen];
      await this.store.update((state) => {
        state.deliveries = remembered;
      });
      return { duplicate: false, value };
    } finally {
      this.inFlight.delete(key);
    }
  }
}
