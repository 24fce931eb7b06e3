// Target selection: live agents serving app+env, narrowed by hosts, patterns (longest wins, ! excludes) and roles.
import { describe, expect, it } from 'vitest';
import { compileHostPattern, HostPatternError, patternsSelect, selectTargets, type RosterEntry } from '../src/index.js';

const T = '2026-11-22T10:00:00.000Z';

function agent(host: string, options: { state?: 'up' | 'down'; roles?: string[]; app?: string; env?: string; release?: string; service?: string } = {}): RosterEntry {
  const app = { app: options.app ?? 'shop', env: options.env ?? 'production', ...(options.release ? { release: options.release, ref: 'v1' } : {}), ...(options.roles ? { roles: options.roles } : {}) };
  return {
    service: options.service ?? 'deploy-agent',
    host,
    instance: `${host}-1`,
    version: '0.1.0',
    state: options.state ?? 'up',
    firstSeen: T,
    lastSeen: T,
    uptimeMs: 1000,
    intervalMs: 10000,
    apps: [app],
  };
}

const fleet: RosterEntry[] = [
  agent('web3', { roles: ['web'] }),
  agent('web1', { roles: ['web'], release: '20261122100012-v1' }),
  agent('web2', { roles: ['web'] }),
  agent('web-canary1', { roles: ['web', 'canary'] }),
  agent('db1', { roles: ['db'] }),
  agent('web4', { state: 'down', roles: ['web'] }),
  agent('api1', { app: 'api' }),
  agent('stage1', { env: 'staging' }),
  agent('web9', { service: 'repo-updater' }),
];

const hostsOf = (filter: Parameters<typeof selectTargets>[3]) => {
  const result = selectTargets(fleet, 'shop', 'production', filter);
  if (!result.ok) throw new Error(result.reason);
  return result.hosts;
};

describe('selectTargets', () => {
  it('takes every live deploy-agent serving app+env, sorted, with what it runs', () => {
    const result = selectTargets(fleet, 'shop', 'production');
    expect(result.ok && result.hosts).toEqual(['db1', 'web-canary1', 'web1', 'web2', 'web3']);
    expect(result.ok && result.targets.find((t) => t.host === 'web1')).toEqual({ host: 'web1', roles: ['web'], release: '20261122100012-v1', ref: 'v1' });
  });

  it('narrows by host list', () => {
    expect(hostsOf({ hosts: ['web2', 'web1'] })).toEqual(['web1', 'web2']);
  });

  it('refuses named hosts that are not live agents of the app, naming each and why', () => {
    const result = selectTargets(fleet, 'shop', 'production', { hosts: ['web1', 'web4', 'api1', 'ghost'] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe('INVALID_REQUEST');
    expect(result.unavailableHosts).toEqual(['api1', 'ghost', 'web4']);
    expect(result.reason).toContain('web4 (down)');
    expect(result.reason).toContain('api1 (does not serve shop in production)');
    expect(result.reason).toContain('ghost (no such agent)');
  });

  it('narrows by pattern; the longest matching pattern wins and ! excludes', () => {
    expect(hostsOf({ patterns: ['web*'] })).toEqual(['web-canary1', 'web1', 'web2', 'web3']);
    expect(hostsOf({ patterns: ['web*', '!web-canary*'] })).toEqual(['web1', 'web2', 'web3']);
    // "!web*" is shorter than "web2*", so web2 stays in; "web2" ties "!web*" in length but has no wildcard.
    expect(hostsOf({ patterns: ['!web*', 'web2*', 'db?'] })).toEqual(['db1', 'web2']);
    expect(hostsOf({ patterns: ['!web*', 'web2', 'db?'] })).toEqual(['db1', 'web2']);
    expect(hostsOf({ patterns: ['web*', '!web1*'] })).toEqual(['web-canary1', 'web2', 'web3']);
    expect(hostsOf({ patterns: ['!web3'] })).toEqual(['db1', 'web-canary1', 'web1', 'web2']);
  });

  it('narrows by role, and combines every given filter', () => {
    expect(hostsOf({ roles: ['db', 'canary'] })).toEqual(['db1', 'web-canary1']);
    expect(hostsOf({ roles: ['web'], patterns: ['web?'] })).toEqual(['web1', 'web2', 'web3']);
    expect(hostsOf({ roles: ['web'], patterns: ['web?'], hosts: ['web1', 'web2'] })).toEqual(['web1', 'web2']);
  });

  it('refuses a named host that the patterns or roles leave out, naming it and the filter, instead of dropping it', () => {
    const byPattern = selectTargets(fleet, 'shop', 'production', { hosts: ['web1', 'web2', 'web-canary1'], patterns: ['web?'] });
    expect(byPattern).toMatchObject({ ok: false, code: 'INVALID_REQUEST' });
    expect(!byPattern.ok && byPattern.reason).toContain('web-canary1 (left out by patterns web?)');
    const byRole = selectTargets(fleet, 'shop', 'production', { hosts: ['web1', 'db1'], roles: ['web'] });
    expect(!byRole.ok && byRole.reason).toContain('db1 (left out by roles web (it has db))');
    expect(!byRole.ok && byRole.reason).not.toContain('web1 (');
    const byExclusion = selectTargets(fleet, 'shop', 'production', { hosts: ['web1', 'web2'], patterns: ['!web2'] });
    expect(!byExclusion.ok && byExclusion.reason).toContain('web2 (left out by patterns !web2)');
  });

  it('refuses a list that is given but empty instead of taking it as every host', () => {
    for (const filter of [{ hosts: [] }, { patterns: [] }, { roles: [] }]) {
      const result = selectTargets(fleet, 'shop', 'production', filter);
      expect(result).toMatchObject({ ok: false, code: 'INVALID_REQUEST' });
      expect(!result.ok && result.reason).toMatch(/^targets\.(hosts|patterns|roles) is an empty list; leave it out to mean every host$/);
    }
  });

  it('refuses with NO_TARGETS when the filter leaves nothing', () => {
    const result = selectTargets(fleet, 'shop', 'production', { roles: ['cache'] });
    expect(result).toMatchObject({ ok: false, code: 'NO_TARGETS' });
    expect(!result.ok && result.reason).toContain('roles cache');
  });

  it('tells an app nobody serves from an app whose agents are all down', () => {
    expect(selectTargets(fleet, 'blog', 'production')).toMatchObject({ ok: false, code: 'UNKNOWN_APP' });
    expect(selectTargets([agent('web4', { state: 'down' })], 'shop', 'production')).toMatchObject({ ok: false, code: 'NO_TARGETS' });
  });

  it('counts a host with a down and an up instance once, as up', () => {
    const roster = [agent('web1', { state: 'down' }), { ...agent('web1'), instance: 'web1-2' }];
    expect(selectTargets(roster, 'shop', 'production', { hosts: ['web1'] })).toMatchObject({ ok: true, hosts: ['web1'] });
  });

  it('refuses a hostile pattern as INVALID_REQUEST instead of throwing', () => {
    for (const pattern of ['web[1-3]', '', '!', 'a/b', 'x'.repeat(300), '(.*)+$']) {
      const result = selectTargets(fleet, 'shop', 'production', { patterns: [pattern] });
      expect(result).toMatchObject({ ok: false, code: 'INVALID_REQUEST' });
    }
  });
});

describe('host patterns', () => {
  it('match * across dots and ? as one character, case-insensitively', () => {
    const p = [compileHostPattern('web*.example.com')];
    expect(patternsSelect('web1.eu.example.com', p)).toBe(true);
    expect(patternsSelect('WEB1.example.com', p)).toBe(true);
    expect(patternsSelect('db1.example.com', p)).toBe(false);
    expect(patternsSelect('web12', [compileHostPattern('web?')])).toBe(false);
  });

  it('break a tie in length by fewer wildcards, then by the exclusion', () => {
    expect(patternsSelect('web1', [compileHostPattern('web?'), compileHostPattern('!web1')])).toBe(false);
    expect(patternsSelect('web1', [compileHostPattern('!web?'), compileHostPattern('web1')])).toBe(true);
    expect(patternsSelect('web1', [compileHostPattern('w*b?'), compileHostPattern('!w?b*')])).toBe(false);
  });

  it('throw HostPatternError naming the pattern', () => {
    expect(() => compileHostPattern('a b')).toThrow(HostPatternError);
    expect(() => compileHostPattern('a b')).toThrow('"a b"');
  });
});
