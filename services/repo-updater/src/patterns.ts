// Which repositories this server carries and which packages it cares about, decided by glob
// patterns. Pure functions; the rules are the same for hosts and package names:
//
// - `*` matches any run of characters (dots included), `?` exactly one; nothing else is special.
// - A pattern starting with `!` excludes what it matches.
// - Of the patterns that match, the longest one (its length without the `!`) decides; on a tie,
//   the exclusion wins. So `['web*', '!web-canary*']` is every web host but the canaries, and
//   `['db*', '!db-test*', 'db-test-main']` is every db host but the test ones, save db-test-main.
// - When no pattern matches, the value is excluded, unless every pattern is an exclusion: a list of
//   only exclusions means "everything but these".

/** A glob pattern as configured: `*`, `?`, an optional leading `!`, and no other special characters. */
export const GLOB_PATTERN = /^!?[^!\s]+$/;

export interface MatchOptions {
  /** Host names compare case-insensitively; package names do not. */
  readonly caseInsensitive?: boolean;
}

/** Whether one glob (without `!`) matches the whole value (iteratively: no regular expression, no exponential backtracking). */
export function globMatches(glob: string, value: string, options: MatchOptions = {}): boolean {
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

/** Whether `value` is selected by `patterns` under the rules above. */
export function selectedBy(patterns: readonly string[], value: string, options: MatchOptions = {}): boolean {
  let best: { length: number; exclude: boolean } | undefined;
  for (const pattern of patterns) {
    const exclude = pattern.startsWith('!');
    const glob = exclude ? pattern.slice(1) : pattern;
    if (!globMatches(glob, value, options)) continue;
    if (best === undefined || glob.length > best.length || (glob.length === best.length && exclude)) best = { length: glob.length, exclude };
  }
  if (best !== undefined) return !best.exclude;
  return patterns.length > 0 && patterns.every((pattern) => pattern.startsWith('!'));
}

/** A repository without `hosts` is carried everywhere; otherwise where its patterns select this host. */
export function carriesRepo(hosts: readonly string[] | undefined, host: string): boolean {
  return hosts === undefined || selectedBy(hosts, host, { caseInsensitive: true });
}

/** Whether a package.updated for `name` concerns this server. No patterns: no package concerns it. */
export function wantsPackage(patterns: readonly string[], name: string): boolean {
  return patterns.length > 0 && selectedBy(patterns, name);
}
