// What to do with one delivery, decided without I/O: handle it, drop it as expired, or dead-letter it.
import { isExpired, parseMessage, type Message } from '@deploybus/protocol';

export type DeliveryDecision =
  | { readonly kind: 'handle'; readonly message: Message }
  | { readonly kind: 'expired'; readonly message: Message }
  | { readonly kind: 'dead-letter'; readonly reason: string };

export function decideDelivery(body: Uint8Array, now: Date): DeliveryDecision {
  const parsed = parseMessage(body);
  if (!parsed.ok) return { kind: 'dead-letter', reason: parsed.error.message };
  if (isExpired(parsed.value, now)) return { kind: 'expired', message: parsed.value };
  return { kind: 'handle', message: parsed.value };
}

export type FailureDecision = { readonly kind: 'retry'; readonly delayMs: number } | { readonly kind: 'dead-letter'; readonly reason: string };

/** After a handler threw on delivery number `attempt`. */
export function decideFailure(attempt: number, maxAttempts: number, retryDelayMs: number, error: unknown): FailureDecision {
  if (attempt >= maxAttempts) {
    const text = error instanceof Error ? error.message : String(error);
    return { kind: 'dead-letter', reason: `handler failed ${attempt} time(s); last error: ${text.slice(0, 500)}` };
  }
  return { kind: 'retry', delayMs: Math.min(30_000, retryDelayMs * 2 ** (attempt - 1)) };
}

/** Counts deliveries of messages whose queue does not count them (classic queues), bounded in size. */
export class AttemptCounter {
  private readonly counts = new Map<string, number>();
  constructor(private readonly capacity = 10_000) {}

  next(id: string): number {
    const n = (this.counts.get(id) ?? 0) + 1;
    this.counts.delete(id);
    this.counts.set(id, n);
    if (this.counts.size > this.capacity) {
      const oldest = this.counts.keys().next().value;
      if (oldest !== undefined) this.counts.delete(oldest);
    }
    return n;
  }

  forget(id: string): void {
    this.counts.delete(id);
  }
}
