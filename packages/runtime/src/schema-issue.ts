// One way to turn the first problem zod found into words a person can act on: the field, written as a
// path (`apps[0].hooks.restart`, `rollout.batchSize`), and what is wrong with it. A missing value says
// "is required" (zod's own text names a type), and an unknown key is named itself, so a typo in a
// config file or a request body points at the typo.
import type { z } from 'zod';

export interface SchemaProblem {
  /** Where: a dotted path with [index] for array items; '' for the whole value. */
  readonly field: string;
  readonly problem: string;
}

/** Formats a zod issue path: `a.b[0].c`. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** The first issue of a failed parse of `input`, as a field and a problem; `noun` names unknown keys ("key", "field"). */
export function describeSchemaIssue(error: z.ZodError, input: unknown, noun = 'key'): SchemaProblem {
  const issue = error.issues[0];
  if (issue === undefined) return { field: '', problem: 'is not valid' };
  const path = formatIssuePath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (path === '' ? k : `${path}.${k}`));
    return { field: keys[0] ?? path, problem: `unknown ${noun}${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}` };
  }
  if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) return { field: path, problem: 'is required' };
  return { field: path, problem: issue.message };
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}
