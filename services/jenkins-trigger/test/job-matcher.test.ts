import { describe, expect, it } from 'vitest';
import { globMatches, jobNameFromPath, jobPath, matchJobs, type JobMapping } from '../src/index.js';

describe('globMatches', () => {
  it('matches * within one path segment only', () => {
    expect(globMatches('refs/tags/v*', 'refs/tags/v1.4.1')).toBe(true);
    expect(globMatches('refs/tags/v*', 'refs/tags/release/v1')).toBe(false);
    expect(globMatches('refs/heads/*', 'refs/heads/main')).toBe(true);
    expect(globMatches('refs/heads/*', 'refs/heads/feature/x')).toBe(false);
  });

  it('matches ** across segments, and **/ also matches no segment', () => {
    expect(globMatches('refs/heads/**', 'refs/heads/feature/deep/x')).toBe(true);
    expect(globMatches('refs/heads/**/fix', 'refs/heads/fix')).toBe(true);
    expect(globMatches('refs/heads/**/fix', 'refs/heads/a/b/fix')).toBe(true);
    expect(globMatches('refs/heads/**/fix', 'refs/heads/a/b/fixes')).toBe(false);
    expect(globMatches('refs/**', 'refs/tags/v1')).toBe(true);
  });

  it('matches ? as one character other than "/" and everything else literally', () => {
    expect(globMatches('refs/heads/release-?', 'refs/heads/release-2')).toBe(true);
    expect(globMatches('refs/heads/release-?', 'refs/heads/release-22')).toBe(false);
    expect(globMatches('refs/heads/a?b', 'refs/heads/a/b')).toBe(false);
    expect(globMatches('refs/heads/v1.0', 'refs/heads/v1x0')).toBe(false);
    expect(globMatches('refs/heads/main', 'refs/heads/main2')).toBe(false);
    expect(globMatches('refs/heads/main', 'refs/heads/main')).toBe(true);
  });

  it('answers patterns with many stars on long values without backtracking', () => {
    const value = `refs/heads/${'a'.repeat(240)}`;
    expect(globMatches('refs/heads/*a*a*a*a*a*a*a*a*b', value)).toBe(false);
    expect(globMatches('**a**a**a**a**a**a**a**b', value)).toBe(false);
  });
});

describe('matchJobs', () => {
  const mappings: JobMapping[] = [
    { repo: 'shop', refs: ['refs/heads/main'], job: 'shop-ci' },
    { repo: 'shop', refs: ['refs/tags/v*'], job: 'shop-release', parameters: { CHANNEL: 'stable' } },
    { repo: 'lib-*', refs: ['refs/heads/**'], job: 'libs/build' },
  ];

  it('picks jobs by repository glob and ref glob', () => {
    expect(matchJobs(mappings, 'shop', 'refs/heads/main').map((m) => m.job)).toEqual(['shop-ci']);
    expect(matchJobs(mappings, 'lib-core', 'refs/heads/feature/x').map((m) => m.job)).toEqual(['libs/build']);
    expect(matchJobs(mappings, 'libcore', 'refs/heads/main')).toEqual([]);
  });

  it('tells tags from branches', () => {
    expect(matchJobs(mappings, 'shop', 'refs/tags/v1.2.0').map((m) => m.job)).toEqual(['shop-release']);
    expect(matchJobs(mappings, 'shop', 'refs/heads/v1.2.0')).toEqual([]);
    expect(matchJobs(mappings, 'shop', 'refs/tags/main')).toEqual([]);
    expect(matchJobs(mappings, 'lib-core', 'refs/tags/v1')).toEqual([]);
  });

  it('returns every mapping that matches, in config order', () => {
    const both: JobMapping[] = [
      { repo: '*', refs: ['refs/heads/main'], job: 'lint' },
      { repo: 'shop', refs: ['refs/heads/*'], job: 'shop-ci' },
    ];
    expect(matchJobs(both, 'shop', 'refs/heads/main').map((m) => m.job)).toEqual(['lint', 'shop-ci']);
  });
});

describe('job paths', () => {
  it('turns folders into /job/a/job/b and back', () => {
    expect(jobPath('shop-ci')).toBe('/job/shop-ci');
    expect(jobPath('team/shop ci')).toBe('/job/team/job/shop%20ci');
    expect(jobNameFromPath('job/team/job/shop%20ci/')).toBe('team/shop ci');
    expect(jobNameFromPath('/jenkins/job/a/job/b/42/')).toBe('a/b');
    expect(jobNameFromPath('/queue/item/4/')).toBeUndefined();
  });
});
