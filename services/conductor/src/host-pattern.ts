// Host glob patterns of a deploy request's target filter, and the rule that picks a winner among them.
//
// A pattern is a host name that may hold `*` (any run of characters, dots included) and `?` (one
// character); a leading `!` makes it an exclusion. For each host, the longest pattern that matches it
// wins (length counted without the `!`), so `web*` with `!web-canary*` keeps web1 and drops
// web-canary3, and `!web*` with `web12` keeps web12 alone. On a tie in length the pattern with fewer
// wildcards wins (`web1` beats `!web*`), then the exclusion: when in doubt, deploy to fewer hosts. A host no pattern matches is left out, unless every pattern is an
// exclusion: then `!web3` on its own means "all but web3".
import { HostPatternError } from './errors.js';

export interface HostPattern {
  /** The pattern as written, `!` included. */
  readonly source: string;
  readonly exclude: boolean;
  /** Length of the glob without its `!`: longer is more specific. */
  readonly weight: number;
  /** Number of `*` and `?`: on a tie in weight, fewer is more specific. */
  readonly wildcards: number;
  readonly regex: RegExp;
}

const GLOB_CHARS = /^[A-Za-z0-9.*?-]+$/;
const MAX_PATTERN_LENGTH = 255;

/** Compiles one pattern; throws HostPatternError when it holds anything but host characters, `*` and `?`. */
export function compileHostPattern(source: string): HostPattern {
  const exclude = source.startsWith('!');
  const glob = exclude ? source.slice(1) : source;
  if (glob.length === 0) throw new HostPatternError(source, 'is empty');
  if (glob.length > MAX_PATTERN_LENGTH) throw new HostPatternError(source, `is longer than ${MAX_PATTERN_LENGTH} characters`);
  if (!GLOB_CHARS.test(glob)) throw new HostPatternError(source, 'may hold only letters, digits, ".", "-", "*" and "?" (and a leading "!")');
  const body = [...glob]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.-]/g, '\\$&')))
    .join('');
  // Host names compare case-insensitively (RFC 4343).
  return { source, exclude, weight: glob.length, wildcards: glob.replace(/[^*?]/g, '').length, regex: new RegExp(`^${body}$`, 'i') };
}

/** The pattern that decides a host (longest, then fewest wildcards, then the exclusion); undefined when none matches. */
export function decidingPattern(host: string, patterns: readonly HostPattern[]): HostPattern | undefined {
  let winner: HostPattern | undefined;
  for (const pattern of patterns) {
    if (!pattern.regex.test(host)) continue;
    if (winner === undefined || beats(pattern, winner)) winner = pattern;
  }
  return winner;
}

/** Whether the patterns select a host, by the rules in this file's header. */
export function patternsSelect(host: string, patterns: readonly HostPattern[]): boolean {
  const winner = decidingPattern(host, patterns);
  if (winner !== undefined) return !winner.exclude;
  return patterns.every((p) => p.exclude);
}

function beats(a: HostPattern, b: HostPattern): boolean {
  if (a.weight !== b.weight) return a.weight > b.weight;
  if (a.wildcards !== b.wildcards) return a.wildcards < b.wildcards;
  return a.exclude && !b.exclude;
}
