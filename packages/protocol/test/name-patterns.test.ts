// The one rule for name patterns (host and package globs): matching, the winner among several, and
// patterns a hostile request could send.
import { describe, expect, it } from 'vitest';
import { decidingPattern, globMatches, selectedBy } from '../src/index.js';

describe('globMatches', () => {
  it('matches * (any run, dots included) and ? (one character) over the whole value', () => {
    expect(globMatches('web*', 'web1.example.com')).toBe(true);
    expect(globMatches('web?', 'web1')).toBe(true);
    expect(globMatches('web?', 'web12')).toBe(false);
    expect(globMatches('*.example.com', 'db1.example.com')).toBe(true);
    expect(globMatches('web', 'web1')).toBe(false);
    expect(globMatches('WEB*', 'web1', { caseInsensitive: true })).toBe(true);
    expect(globMatches('WEB*', 'web1')).toBe(false);
  });

  it('answers a pattern full of stars against a long name (no backtracking blow-up)', () => {
    const pattern = `${'a*'.repeat(120)}b`;
    expect(globMatches(pattern, 'a'.repeat(253))).toBe(false);
    expect(globMatches(pattern, `${'a'.repeat(200)}b`)).toBe(true);
  });
});

describe('decidingPattern and selectedBy', () => {
  it('let the longest matching pattern decide, then the one with fewer wildcards, then the exclusion', () => {
    expect(selectedBy(['web*', '!web-canary*'], 'web1')).toBe(true);
    expect(selectedBy(['web*', '!web-canary*'], 'web-canary3')).toBe(false);
    expect(decidingPattern(['!web*', 'web2'], 'web2')).toBe('web2'); // same length, no wildcard
    expect(decidingPattern(['web?', '!web?'], 'web1')).toBe('!web?'); // a full tie: the exclusion
    expect(selectedBy(['db*', '!db-test*', 'db-test-main'], 'db-test-main')).toBe(true);
  });

  it('leave out what nothing matches, unless every pattern is an exclusion', () => {
    expect(selectedBy(['web*'], 'db1')).toBe(false);
    expect(selectedBy(['!db*'], 'web1')).toBe(true);
    expect(selectedBy(['!db*'], 'db1')).toBe(false);
    expect(selectedBy([], 'web1')).toBe(false);
  });
});
