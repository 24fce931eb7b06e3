// Which refs moved between two `git ls-remote` listings. Pure.

export const ZERO_SHA = '0000000000000000000000000000000000000000';

export interface RefChange {
  readonly ref: string;
  /** ZERO_SHA for a new ref. */
  readonly before: string;
  /** ZERO_SHA for a deleted ref. */
  readonly after: string;
}

/** Branches and tags only: not HEAD, pull-request refs or peeled tags (`^{}`). */
export function isWatchedRef(ref: string): boolean {
  return (ref.startsWith('refs/heads/') || ref.startsWith('refs/tags/')) && !ref.endsWith('^{}');
}

/** Changes from `before` to `after` (ref -> sha maps), in ref order. */
export function diffRefs(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): RefChange[] {
  const refs = new Set([...before.keys(), ...after.keys()].filter(isWatchedRef));
  const changes: RefChange[] = [];
  for (const ref of [...refs].sort()) {
    const old = before.get(ref);
    const now = after.get(ref);
    if (old === now) continue;
    changes.push({ ref, before: old ?? ZERO_SHA, after: now ?? ZERO_SHA });
  }
  return changes;
}

/** The watched refs of a listing, as a plain record for the state file. */
export function watchedRefs(refs: ReadonlyMap<string, string>): Record<string, string> {
  return Object.fromEntries([...refs].filter(([ref]) => isWatchedRef(ref)).sort(([a], [b]) => a.localeCompare(b)));
}
