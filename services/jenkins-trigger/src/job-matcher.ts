// Which Jenkins jobs a push starts: pure matching of repository names and refs against the
// configured globs. `*` matches within one path segment, `**` across segments, `?` one character
// other than "/"; everything else is literal.

export interface JobMapping {
  /** Repository name or glob, e.g. "shop" or "shop-*". */
  readonly repo: string;
  /** Ref globs, e.g. "refs/heads/main", "refs/tags/v*", "refs/heads/**". */
  readonly refs: readonly string[];
  /** Jenkins job name; folders as "folder/job". */
  readonly job: string;
  /** Fixed extra string parameters sent with every build of this mapping. */
  readonly parameters?: Readonly<Record<string, string>> | undefined;
}

type Token = { readonly kind: 'literal'; readonly char: string } | { readonly kind: 'one' | 'star' | 'globstar' | 'globstar-slash' };

const compiled = new Map<string, readonly Token[]>();

function tokenize(glob: string): readonly Token[] {
  let tokens = compiled.get(glob);
  if (tokens) return tokens;
  const list: Token[] = [];
  for (let i = 0; i < glob.length; i += 1) {
    const char = glob[i] ?? '';
    if (char === '*' && glob[i + 1] === '*') {
      i += 1;
      // "**/" also matches no segment at all, so "refs/heads/**/x" matches "refs/heads/x".
      if (glob[i + 1] === '/') {
        i += 1;
        list.push({ kind: 'globstar-slash' });
      } else list.push({ kind: 'globstar' });
    } else if (char === '*') list.push({ kind: 'star' });
    else if (char === '?') list.push({ kind: 'one' });
    else list.push({ kind: 'literal', char });
  }
  tokens = list;
  compiled.set(glob, tokens);
  return tokens;
}

/**
 * Whether `value` matches `glob`. A table over (pattern position, value position) filled from the
 * end: time and memory are pattern length times value length, whatever the stars (no backtracking).
 */
export function globMatches(glob: string, value: string): boolean {
  const tokens = tokenize(glob);
  const n = value.length;
  // next[j]: tokens after the current one match value[j..].
  let next = new Array<boolean>(n + 1).fill(false);
  next[n] = true;
  for (let i = tokens.length - 1; i >= 0; i -= 1) {
    const token = tokens[i] as Token;
    const current = new Array<boolean>(n + 1).fill(false);
    let slashAhead = false;
    for (let j = n; j >= 0; j -= 1) {
      const char = value[j];
      switch (token.kind) {
        case 'literal':
          current[j] = j < n && char === token.char && next[j + 1] === true;
          break;
        case 'one':
          current[j] = j < n && char !== '/' && next[j + 1] === true;
          break;
        case 'star':
          current[j] = next[j] === true || (j < n && char !== '/' && current[j + 1] === true);
          break;
        case 'globstar':
          current[j] = next[j] === true || (j < n && current[j + 1] === true);
          break;
        case 'globstar-slash':
          // Nothing, or anything up to and including some "/" at or after j.
          if (j < n && char === '/' && next[j + 1] === true) slashAhead = true;
          current[j] = next[j] === true || slashAhead;
          break;
      }
    }
    next = current;
  }
  return next[0] === true;
}

/** The mappings whose repo glob and one of whose ref globs match, in config order. */
export function matchJobs<M extends JobMapping>(mappings: readonly M[], repo: string, ref: string): M[] {
  return mappings.filter((mapping) => globMatches(mapping.repo, repo) && mapping.refs.some((pattern) => globMatches(pattern, ref)));
}

export { jobPath } from '@deploybus/jenkins';

/** The job's full name back from a Jenkins path or URL ("job/a/job/b/12/" -> "a/b"); undefined if it holds no job. */
export function jobNameFromPath(path: string): string | undefined {
  const segments: string[] = [];
  const parts = path.split('/').filter((part) => part !== '');
  for (let i = 0; i < parts.length - 1; i += 1) {
    if (parts[i] === 'job') {
      const name = parts[i + 1] ?? '';
      try {
        segments.push(decodeURIComponent(name));
      } catch {
        return undefined;
      }
      i += 1;
    }
  }
  return segments.length === 0 ? undefined : segments.join('/');
}
