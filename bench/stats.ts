// Spread of repeated measurements: the median is what the table shows, min and max show the noise.

export interface Spread {
  readonly samples: number;
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

export function spreadOf(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('spreadOf: no samples');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
  return { samples: sorted.length, min: sorted[0] ?? 0, median, max: sorted[sorted.length - 1] ?? 0 };
}

/** Rounds to `digits` decimals, so the JSON file stays readable. */
export function roundSpread(spread: Spread, digits = 3): Spread {
  const f = 10 ** digits;
  const r = (v: number): number => Math.round(v * f) / f;
  return { samples: spread.samples, min: r(spread.min), median: r(spread.median), max: r(spread.max) };
}
