import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeSchemaIssue, formatIssuePath } from '../src/index.js';

const schema = z.strictObject({ app: z.string(), hosts: z.array(z.string().regex(/^[a-z]+$/, 'must be lowercase letters')).optional(), rollout: z.strictObject({ batch: z.number() }).optional() });
const problem = (input: unknown, noun?: string): unknown => {
  const result = schema.safeParse(input);
  if (result.success) throw new Error('expected a failure');
  return describeSchemaIssue(result.error, input, noun);
};

describe('describeSchemaIssue', () => {
  it('names a missing field as required, not by zod\'s type text', () => {
    expect(problem({})).toEqual({ field: 'app', problem: 'is required' });
    expect(problem({ app: 5 })).toMatchObject({ field: 'app' });
    expect(problem({ app: 5 })).not.toEqual({ field: 'app', problem: 'is required' });
  });

  it('writes array items with brackets and names unknown keys with their path', () => {
    expect(problem({ app: 'a', hosts: ['ok', 'Not OK'] })).toEqual({ field: 'hosts[1]', problem: 'must be lowercase letters' });
    expect(problem({ app: 'a', rollout: { batch: 1, bacth: 2 } }, 'field')).toEqual({ field: 'rollout.bacth', problem: 'unknown field "rollout.bacth"' });
    expect(problem({ app: 'a', x: 1, y: 2 })).toEqual({ field: 'x', problem: 'unknown keys "x", "y"' });
  });

  it('formats paths', () => {
    expect(formatIssuePath(['apps', 0, 'hooks', 'restart'])).toBe('apps[0].hooks.restart');
    expect(formatIssuePath([])).toBe('');
  });
});
