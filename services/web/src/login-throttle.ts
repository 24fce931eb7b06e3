// Slows password guessing: after `maxFailures` failed sign-ins for one user name from one address
// within `windowMs`, further tries for that pair are refused until the window has passed. In memory,
// per process (several web instances each count their own): a brake on guessing, not an audit trail.
export interface LoginThrottleOptions {
  readonly maxFailures: number;
  readonly windowMs: number;
  /** Pairs tracked at most; the oldest are forgotten first. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

export class LoginThrottle {
  readonly #failures = new Map<string, number[]>();
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: LoginThrottleOptions) {
    this.#max = options.maxFailures;
    this.#windowMs = options.windowMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Milliseconds until `user` from `address` may try again; 0 when it may now. */
  retryAfterMs(user: string, address: string): number {
    const recent = this.#recent(key(user, address));
    if (recent.length < this.#max) return 0;
    return Math.max(1, (recent[recent.length - this.#max] ?? 0) + this.#windowMs - this.#now());
  }

  failed(user: string, address: string): void {
    const k = key(user, address);
    const recent = this.#recent(k);
    recent.push(this.#now());
    this.#failures.delete(k);
    this.#failures.set(k, recent.slice(-this.#max));
    while (this.#failures.size > this.#maxEntries) {
      const oldest = this.#failures.keys().next().value;
      if (oldest === undefined) break;
      this.#failures.delete(oldest);
    }
  }

  succeeded(user: string, address: string): void {
    this.#failures.delete(key(user, address));
  }

  #recent(k: string): number[] {
    const since = this.#now() - this.#windowMs;
    return (this.#failures.get(k) ?? []).filter((t) => t > since);
  }
}

function key(user: string, address: string): string {
  return `${user.toLowerCase()}\u0000${address}`;
}
