// Opening hundreds of responder connections: a few dozen at a time (a burst of 500 handshakes only
// measures the broker's accept queue), and all-or-nothing so a failure leaves nothing open.

export async function openMany<T>(count: number, concurrency: number, open: (index: number) => Promise<T>, close: (item: T) => Promise<void>): Promise<T[]> {
  const opened: T[] = [];
  let next = 0;
  let failure: unknown;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < count) {
      const index = next;
      next += 1;
      try {
        opened[index] = await open(index);
      } catch (error) {
        if (!failed) {
          failed = true;
          failure = error;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, () => worker()));
  if (failed) {
    await Promise.allSettled(opened.filter((item) => item !== undefined).map((item) => close(item)));
    throw failure;
  }
  return opened;
}

/** Closes many things, a few dozen at a time, and never throws. */
export async function closeMany<T>(items: readonly T[], concurrency: number, close: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next];
      next += 1;
      if (item !== undefined) await close(item).catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, () => worker()));
}
