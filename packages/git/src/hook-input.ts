// Parses what git writes to a post-receive (or pre-receive) hook's stdin: one `<old> <new> <ref>`
// line per updated ref. Pure; a bad line or a hostile ref becomes a problem with its reason, never a
// throw, so one bad line cannot stop the events for the other refs.
import { FULL_SHA_PATTERN, validateRefName } from '@deploybus/protocol';

export interface RefUpdate {
  readonly before: string;
  readonly after: string;
  readonly ref: string;
}

export interface HookInputProblem {
  /** 1-based line number in the input. */
  readonly line: number;
  /** The line as read, cut to 200 characters, for a log. */
  readonly text: string;
  readonly reason: string;
}

export interface HookInput {
  readonly updates: readonly RefUpdate[];
  readonly problems: readonly HookInputProblem[];
}

export function parseHookInput(input: string): HookInput {
  const updates: RefUpdate[] = [];
  const problems: HookInputProblem[] = [];
  input.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    const problem = (reason: string): void => void problems.push({ line: index + 1, text: line.slice(0, 200), reason });
    const parts = line.split(' ');
    if (parts.length !== 3) return problem('is not "<old-sha> <new-sha> <ref>"');
    const [before = '', after = '', ref = ''] = parts;
    if (!FULL_SHA_PATTERN.test(before)) return problem('old value is not a full commit id');
    if (!FULL_SHA_PATTERN.test(after)) return problem('new value is not a full commit id');
    const check = validateRefName(ref);
    if (!check.ok) return problem(`ref refused: ${check.reason}`);
    updates.push({ before, after, ref });
  });
  return { updates, problems };
}
