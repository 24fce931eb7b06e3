import { describe, expect, it } from 'vitest';
import { carriesRepo, globMatches, selectedBy, wantsPackage } from '../src/index.js';

describe('globMatches', () => {
  it('matches * across any characters, dots included, and ? as one character', () => {
    expect(globMatches('web*', 'web1.example.com')).toBe(true);
    expect(globMatches('web?', 'web1')).toBe(true);
    expect(globMatches('web?', 'web12')).toBe(false);
    expect(globMatches('*.example.com', 'db1.example.com')).toBe(true);
    expect(globMatches('*.example.com', 'db1.example.org')).toBe(false);
    expect(globMatches('a*b*c', 'aXXbYYc')).toBe(true);
    expect(globMatches('a*b*c', 'aXXbYY')).toBe(false);
    expect(globMatches('exact', 'exact')).toBe(true);
    expect(globMatches('exact', 'exactly')).toBe(false);
  });

  it('treats regular expression characters as themselves', () => {
    expect(globMatches('a.b', 'aXb')).toBe(false);
    expect(globMatches('lib(x)+', 'lib(x)+')).toBe(true);
  });

  it('compares case-insensitively only when asked', () => {
    expect(globMatches('WEB*', 'web1')).toBe(false);
    expect(globMatches('WEB*', 'web1', { caseInsensitive: true })).toBe(true);
  });

  it('answers patterns with many stars on long values (no exponential backtracking)', () => {
    const value = 'a'.repeat(5_000);
    expect(globMatches('*a*a*a*a*a*a*a*b', value)).toBe(false);
  });
});

describe('host patterns (which servers carry a repository)', () => {
  it('carries a repository without hosts everywhere', () => {
    expect(carriesRepo(undefined, 'anything')).toBe(true);
  });

  it('carries it where a pattern matches and nowhere else', () => {
    expect(carriesRepo(['web*'], 'web1')).toBe(true);
    expect(carriesRepo(['web*'], 'db1')).toBe(false);
    expect(carriesRepo(['web1', 'db*'], 'db7.example.com')).toBe(true);
  });

  it('lets the longest matching pattern decide between inclusion and exclusion', () => {
    const hosts = ['web*', '!web-canary*'];
    expect(carriesRepo(hosts, 'web1')).toBe(true);
    expect(carriesRepo(hosts, 'web-canary1')).toBe(false);
    // A longer inclusion wins over a shorter exclusion.
    const db = ['db*', '!db-test*', 'db-test-main'];
    expect(carriesRepo(db, 'db1')).toBe(true);
    expect(carriesRepo(db, 'db-test2')).toBe(false);
    expect(carriesRepo(db, 'db-test-main')).toBe(true);
    expect(carriesRepo(db, 'web1')).toBe(false);
  });

  it('prefers the exclusion on a tie', () => {
    expect(carriesRepo(['web?', '!web1'], 'web1')).toBe(false);
  });

  it('reads a list of only exclusions as everything but those', () => {
    expect(carriesRepo(['!db*'], 'web1')).toBe(true);
    expect(carriesRepo(['!db*'], 'db1')).toBe(false);
  });

  it('matches host names case-insensitively', () => {
    expect(carriesRepo(['WEB*'], 'web1.Example.com')).toBe(true);
  });

  it('agrees with selectedBy, the one rule behind hosts and packages', () => {
    expect(selectedBy(['a*', '!ab*'], 'abc')).toBe(false);
    expect(selectedBy([], 'abc')).toBe(false);
  });
});

describe('package names (which package updates refresh the index)', () => {
  it('wants no package when no patterns are configured', () => {
    expect(wantsPackage([], 'shop-assets')).toBe(false);
  });

  it('wants packages matching a pattern, case-sensitively, and not excluded ones', () => {
    const names = ['shop-*', '!shop-debug*', 'nginx'];
    expect(wantsPackage(names, 'shop-assets')).toBe(true);
    expect(wantsPackage(names, 'nginx')).toBe(true);
    expect(wantsPackage(names, 'nginx-extras')).toBe(false);
    expect(wantsPackage(names, 'shop-debug-symbols')).toBe(false);
    expect(wantsPackage(names, 'SHOP-assets')).toBe(false);
  });
});
