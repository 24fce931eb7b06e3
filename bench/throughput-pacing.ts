// How a throughput run drives the publisher and notices the end, written once for every client so
// that deploybus and the raw libraries are paced identically.
import { withDeadline } from './deadline.js';

/**
 * Starts `count` publishes, at most `window` unsettled at a time, and yields to I/O after every
 * `window` started (so the consumer in this process and the sockets get to run even when publishes
 * settle at once, as they do without confirms). Rejects with the first failure.
 */
export async function publishPaced(count: number, window: number, publishOne: (index: number) => Promise<void>): Promise<void> {
  let inFlight = 0;
  let failed = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const settle = (): void => {
    inFlight -= 1;
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const fail = (error: unknown): void => {
    if (!failed) {
      failed = true;
      failure = error;
    }
    settle();
  };
  for (let i = 0; i < count && !failed; i += 1) {
    while (inFlight >= window) await new Promise<void>((resolve) => (wake = resolve));
    inFlight += 1;
    publishOne(i).then(settle, fail);
    if ((i + 1) % window === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve));
  if (failed) throw failure;
}

/** Counts deliveries; `done` resolves once `expected` arrived and the turn that acknowledged the last one ended. */
export class DeliveryCounter {
  private count = 0;
  private resolveDone: (() => void) | undefined;
  readonly done: Promise<void>;

  constructor(private readonly expected: number) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  hit(): void {
    this.count += 1;
    // setImmediate: the ack of the last message is written in the same turn, after this call.
    if (this.count === this.expected) setImmediate(() => this.resolveDone?.());
  }

  /** Waits for the last delivery, failing with how many arrived when `timeoutMs` passes first. */
  wait(timeoutMs: number, what: string): Promise<void> {
    return withDeadline(() => `${what} (${this.count} of ${this.expected} messages consumed)`, timeoutMs, this.done);
  }
}
