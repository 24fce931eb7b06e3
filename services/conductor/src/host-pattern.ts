// Host glob patterns of a deploy request's target filter: checked here (host characters, `*`, `?`, a
// leading `!`), matched by the protocol's one rule for name patterns (packages/protocol/src/
// name-patterns.ts): the longest matching pattern wins, then the one with fewer wildcards, then the
// exclusion; a list of only exclusions means "all but these". Matching is iterative, never a regular
// expression, so a request full of stars cannot make the conductor backtrack for ever.
import { decidingPattern as decidingSource, HOST_GLOB_PATTERN } from '@deploybus/protocol';
import { HostPatternError } from './errors.js';

export interface HostPattern {
  /** The pattern as written, `!` included. */
  readonly source: string;
  readonly exclude: boolean;
  /** Length of the glob without its `!`: longer is more specific. */
  readonly weight: number;
  /** Number of `*` and `?`: on a tie in weight, fewer is more specific. */
  readonly wildcards: number;
}

const MAX_PATTERN_LENGTH = 255;

/** Compiles one pattern; throws HostPatternError when it holds anything but host characters, `*` and `?`. */
export function compileHostPattern(source: string): HostPattern {
  const exclude = source.startsWith('!');
  const glob = exclude ? source.slice(1) : source;
  if (glob.length === 0) throw new HostPatternError(source, 'is empty');
  if (glob.length > MAX_PATTERN_LENGTH) throw new HostPatternError(source, `is longer than ${MAX_PATTERN_LENGTH} characters`);
  if (!HOST_GLOB_PATTERN.test(source)) throw new HostPatternError(source, 'may hold only letters, digits, ".", "-", "*" and "?" (and a leading "!")');
  return { source, exclude, weight: glob.length, wildcards: glob.replace(/[^*?]/g, '').length };
}

/** The pattern that decides a host (longest, then fewest wildcards, then the exclusion); undefined when none matches. */
export function decidingPattern(host: string, patterns: readonly HostPattern[]): HostPattern | undefined {
  const source = decidingSource(
    patterns.map((p) => p.source),
    host,
    { caseInsensitive: true },
  );
  return patterns.find((p) => p.source === source);
}

/** Whether the patterns select a host, by the rules in this file's header. */
export function patternsSelect(host: string, patterns: readonly HostPattern[]): boolean {
  const winner = decidingPattern(host, patterns);
  if (winner !== undefined) return !winner.exclude;
  return patterns.every((p) => p.exclude);
}
