// Reconnect delays: exponential with full jitter, so a fleet that lost its broker does not return in lockstep.

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** Delay before reconnect attempt `attempt` (1-based); `random` in [0, 1). */
export function backoffDelay(attempt: number, options: BackoffOptions, random: number = Math.random()): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, attempt - 1));
  // Half fixed, half random: never zero, never above the ceiling.
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}
