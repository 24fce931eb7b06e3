// Glob patterns over names (host names in a deploy's target filter, hosts and package names in
// daemon configs), and the rule that picks a winner among several:
//
// - `*` matches any run of characters (dots included), `?` exactly one; nothing else is special.
// - A pattern starting with `!` excludes what it matches.
// - Of the patterns that match a value, the longest (its length without the `!`) decides; on a tie
//   in length, the one with fewer wildcards (`web1` beats `!web*`); then the exclusion. So
//   `['web*', '!web-canary*']` is every web host but the canaries.
// - When no pattern matches, the value is left out, unless every pattern is an exclusion: a list of
//   only exclusions means "everything but these".
//
// Matching is iterative (no regular expression), so a pattern full of stars from a request cannot
// make a receiver backtrack for ever.

/** A host glob of a deploy's target filter: host characters, `*` and `?`, an optional leading `!` (exclude). */
export const HOST_GLOB_PATTERN = /^!?[A-Za-z0-9.*?-]{1,255}$/;
export const HOST_GLOB_RULE = 'a host pattern holds only letters, digits, ".", "-", "*" and "?", with an optional leading "!", at most 255 characters';

export interface NameMatchOptions {
  /** Host names compare case-insensitively (RFC 4343); package names do not. */
  readonly caseInsensitive?: boolean;
}

/** Whether one glob (without `!`) matches the whole value. Time is at most pattern length times value length. */
export function globMatches(glob: string, value: string, options: NameMatchOptions = {}): boolean {
  const p = options.caseInsensitive ? glob.toLowerCase() : glob;
  const v = options.caseInsensitive ? value.toLowerCase() : value;
  let pi = 0;
  let vi = 0;
  let starPi = -1;
  let starVi = 0;
  while (vi < v.length) {
    const c = p[pi];
    if (c !== undefined && (c === '?' || (c !== '*' && c === v[vi]))) {
      pi += 1;
      vi += 1;
    } else if (c === '*') {
      starPi = pi;
      starVi = vi;
      pi += 1;
    } else if (starPi >= 0) {
      pi = starPi + 1;
      starVi += 1;
      vi = starVi;
    } else {
      return false;
    }
  }
  while (p[pi] === '*') pi += 1;
  return pi === p.length;
}

interface Weighed {
  readonly source: string;
  readonly exclude: boolean;
  readonly glob: string;
  readonly wildcards: number;
}

function weigh(source: string): Weighed {
  const exclude = source.startsWith('!');
  const glob = exclude ? source.slice(1) : source;
  return { source, exclude, glob, wildcards: glob.replace(/[^*?]/g, '').length };
}

function beats(a: Weighed, b: Weighed): boolean {
  if (a.glob.length !== b.glob.length) return a.glob.length > b.glob.length;
  if (a.wildcards !== b.wildcards) return a.wildcards < b.wildcards;
  return a.exclude && !b.exclude;
}

/** The pattern (as written) that decides `value`, by the rules above; undefined when none matches. */
export function decidingPattern(patterns: readonly string[], value: string, options: NameMatchOptions = {}): string | undefined {
  let winner: Weighed | undefined;
  for (const source of patterns) {
    const candidate = weigh(source);
    if (!globMatches(candidate.glob, value, options)) continue;
    if (winner === undefined || beats(candidate, winner)) winner = candidate;
  }
  return winner?.source;
}

/** Whether `patterns` select `value`, by the rules above. */
export function selectedBy(patterns: readonly string[], value: string, options: NameMatchOptions = {}): boolean {
  const winner = decidingPattern(patterns, value, options);
  if (winner !== undefined) return !winner.startsWith('!');
  return patterns.length > 0 && patterns.every((pattern) => pattern.startsWith('!'));
}
