// Every bench phase runs under a deadline, so a stuck broker or client fails the run with a sentence
// instead of hanging it.

export class BenchTimeoutError extends Error {
  readonly code = 'BENCH_TIMEOUT';
  constructor(
    readonly phase: string,
    readonly timeoutMs: number,
  ) {
    super(`${phase} did not finish within ${(timeoutMs / 1000).toFixed(0)} s`);
    this.name = 'BenchTimeoutError';
  }
}

/**
 * Runs `work`, rejecting with BenchTimeoutError when it takes longer than `timeoutMs`. The work itself
 * is not stopped: the caller closes what it opened. `phase` may be a function, to describe the state
 * at the moment of the timeout (say, how many messages had arrived).
 */
export async function withDeadline<T>(phase: string | (() => string), timeoutMs: number, work: Promise<T> | (() => Promise<T>)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BenchTimeoutError(typeof phase === 'string' ? phase : phase(), timeoutMs)), timeoutMs);
  });
  try {
    return await Promise.race([typeof work === 'function' ? work() : work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
