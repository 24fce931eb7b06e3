// Which agents a deploy goes to: the live deploy-agents that serve the app in the environment,
// narrowed by the request's target filter. Every given part of the filter narrows (host list AND
// patterns AND roles), but a host the list names is never dropped by the others: such a request is
// refused, naming the host and the filter that leaves it out. No filter means every live agent
// serving the app; a list that is given but empty is refused, never read as "all". Patterns follow
// host-pattern.ts: the longest matching pattern wins, a `!pattern` excludes.
import type { PayloadOf } from '@deploybus/protocol';
import { HostPatternError } from './errors.js';
import { compileHostPattern, patternsSelect, type HostPattern } from './host-pattern.js';

export type RosterEntry = PayloadOf<'roster.reply'>['entries'][number];
export type TargetFilter = PayloadOf<'deploy.requested'>['targets'];

/** One chosen agent, with what it runs now (the release a rollback returns to). */
export interface TargetHost {
  readonly host: string;
  readonly roles: readonly string[];
  readonly release: string | undefined;
  readonly ref: string | undefined;
}

export type TargetRefusalCode = 'UNKNOWN_APP' | 'NO_TARGETS' | 'INVALID_REQUEST';

export type TargetSelection =
  | { readonly ok: true; readonly targets: readonly TargetHost[]; readonly hosts: readonly string[] }
  | {
      readonly ok: false;
      readonly code: TargetRefusalCode;
      readonly reason: string;
      /** Hosts the request named that are not live agents serving the app in the environment. */
      readonly unavailableHosts: readonly string[];
    };

const AGENT_SERVICE = 'deploy-agent';

/**
 * Picks the targets for app+env from the roster. Refuses (never throws) with:
 * - INVALID_REQUEST when the filter names hosts that are not live agents serving app+env (each named
 *   with why), or holds a bad pattern: a named host is a promise the person relies on, so it is never
 *   dropped silently;
 * - UNKNOWN_APP when no agent in the roster, up or down, serves app+env;
 * - NO_TARGETS when the filter leaves nothing, or every agent serving app+env is down.
 * Hosts come back sorted, so two conductors pick alike.
 */
export function selectTargets(roster: readonly RosterEntry[], app: string, env: string, filter: TargetFilter = {}): TargetSelection {
  // The protocol refuses empty lists (and the coordinator re-reads stored requests through it); this
  // keeps the rule where the choice is made, for any caller.
  const empty = (['hosts', 'patterns', 'roles'] as const).filter((part) => filter[part]?.length === 0);
  if (empty.length > 0) return refuse('INVALID_REQUEST', `targets.${empty[0]!} is an empty list; leave it out to mean every host`);
  let patterns: HostPattern[] | undefined;
  try {
    patterns = filter.patterns === undefined ? undefined : filter.patterns.map(compileHostPattern);
  } catch (error) {
    if (error instanceof HostPatternError) return refuse('INVALID_REQUEST', error.message);
    throw error;
  }

  const live = new Map<string, TargetHost>();
  const known = new Map<string, 'down' | 'other-app'>();
  for (const entry of roster) {
    if (entry.service !== AGENT_SERVICE) continue;
    const key = entry.host.toLowerCase();
    const serving = entry.apps?.find((a) => a.app === app && a.env === env);
    if (serving !== undefined && entry.state === 'up') {
      // Several up instances on one host (a restart in progress) are one target.
      if (!live.has(key)) live.set(key, { host: entry.host, roles: serving.roles ?? [], release: serving.release, ref: serving.ref });
      known.delete(key);
    } else if (!live.has(key)) {
      if (serving !== undefined) known.set(key, 'down');
      else if (known.get(key) !== 'down') known.set(key, 'other-app');
    }
  }

  if (filter.hosts !== undefined && filter.hosts.length > 0) {
    const unavailable = [...new Set(filter.hosts.map((h) => h.toLowerCase()))].filter((h) => !live.has(h)).sort();
    if (unavailable.length > 0) {
      const why = unavailable.map((h) => {
        const state = known.get(h);
        return state === 'down' ? `${h} (down)` : state === 'other-app' ? `${h} (does not serve ${app} in ${env})` : `${h} (no such agent)`;
      });
      return refuse('INVALID_REQUEST', `requested host${unavailable.length > 1 ? 's are' : ' is'} not a live agent of ${app} in ${env}: ${why.join(', ')}`, unavailable);
    }
  }

  if (live.size === 0) {
    const anyDown = [...known.values()].includes('down');
    return anyDown
      ? refuse('NO_TARGETS', `every agent serving ${app} in ${env} is down`)
      : refuse('UNKNOWN_APP', `no deploy-agent serves ${app} in ${env}`);
  }

  const named = filter.hosts === undefined ? undefined : new Set(filter.hosts.map((h) => h.toLowerCase()));
  const roles = filter.roles === undefined ? undefined : new Set(filter.roles);
  /** What leaves a live host out, or undefined when it is a target. */
  const leftOutBy = (target: TargetHost): string | undefined => {
    if (patterns !== undefined && !patternsSelect(target.host, patterns)) return `patterns ${filter.patterns!.join(', ')}`;
    if (roles !== undefined && !target.roles.some((r) => roles.has(r))) return `roles ${filter.roles!.join(', ')} (it has ${target.roles.length === 0 ? 'none' : target.roles.join(', ')})`;
    return undefined;
  };
  const candidates = [...live.entries()].filter(([key]) => named === undefined || named.has(key)).map(([, target]) => ({ target, leftOut: leftOutBy(target) }));
  const dropped = named === undefined ? [] : candidates.flatMap((c) => (c.leftOut === undefined ? [] : [`${c.target.host} (left out by ${c.leftOut})`]));
  if (dropped.length > 0) {
    return refuse('INVALID_REQUEST', `requested host${dropped.length > 1 ? 's are' : ' is'} left out by the rest of the target filter: ${dropped.sort().join(', ')}; name only hosts the filter keeps, or drop the hosts list or the other filter`);
  }
  const targets = candidates.flatMap((c) => (c.leftOut === undefined ? [c.target] : [])).sort((a, b) => compareHosts(a.host, b.host));

  if (targets.length === 0) return refuse('NO_TARGETS', `no live agent of ${app} in ${env} matches the target filter (${describeFilter(filter)})`);
  return { ok: true, targets, hosts: targets.map((t) => t.host) };
}

/** The one host order every part of the conductor uses. */
export function compareHosts(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function describeFilter(filter: TargetFilter): string {
  const parts: string[] = [];
  if (filter.hosts?.length) parts.push(`hosts ${filter.hosts.join(', ')}`);
  if (filter.patterns?.length) parts.push(`patterns ${filter.patterns.join(', ')}`);
  if (filter.roles?.length) parts.push(`roles ${filter.roles.join(', ')}`);
  return parts.join('; ');
}

function refuse(code: TargetRefusalCode, reason: string, unavailableHosts: readonly string[] = []): TargetSelection {
  return { ok: false, code, reason, unavailableHosts };
}
