// Which repositories this server carries and which packages it cares about, decided by glob
// patterns with the protocol's one rule for name patterns (packages/protocol/src/name-patterns.ts):
// `*` and `?`, a leading `!` excludes, the longest matching pattern decides, a list of only
// exclusions means "everything but these". So `['db*', '!db-test*', 'db-test-main']` is every db
// host but the test ones, save db-test-main.
import { globMatches, selectedBy } from '@deploybus/protocol';

/** A glob pattern as configured: `*`, `?`, an optional leading `!`, and no other special characters. */
export const GLOB_PATTERN = /^!?[^!\s]+$/;

export type { NameMatchOptions as MatchOptions } from '@deploybus/protocol';
export { globMatches, selectedBy };

/** A repository without `hosts` is carried everywhere; otherwise where its patterns select this host. */
export function carriesRepo(hosts: readonly string[] | undefined, host: string): boolean {
  return hosts === undefined || selectedBy(hosts, host, { caseInsensitive: true });
}

/** Whether a package.updated for `name` concerns this server. No patterns: no package concerns it. */
export function wantsPackage(patterns: readonly string[], name: string): boolean {
  return patterns.length > 0 && selectedBy(patterns, name);
}
