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

const compiled = new Map<string, RegExp>();

/** The regular expression for one glob (cached; globs come from config, so the set is small). */
export function globToRegExp(glob: string): RegExp {
  let found = compiled.get(glob);
  if (found) return found;
  let source = '';
  for (let i = 0; i < glob.length; i += 1) {
    const char = glob[i] ?? '';
    if (char === '*') {
      if (glob[i + 1] === '*') {
        i += 1;
        // "**/" also matches nothing, so "refs/heads/**/x" matches "refs/heads/x".
        if (glob[i + 1] === '/') {
          i += 1;
          source += '(?:.*/)?';
        } else source += '.*';
      } else source += '[^/]*';
    } else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  found = new RegExp(`^${source}$`);
  compiled.set(glob, found);
  return found;
}

export function globMatches(glob: string, value: string): boolean {
  return globToRegExp(glob).test(value);
}

/** The mappings whose repo glob and one of whose ref globs match, in config order. */
export function matchJobs<M extends JobMapping>(mappings: readonly M[], repo: string, ref: string): M[] {
  return mappings.filter((mapping) => globMatches(mapping.repo, repo) && mapping.refs.some((pattern) => globMatches(pattern, ref)));
}

/** Jenkins' URL path of a job: "a/b" -> "/job/a/job/b". Each segment is percent-encoded. */
export function jobPath(job: string): string {
  return job
    .split('/')
    .map((segment) => `/job/${encodeURIComponent(segment)}`)
    .join('');
}

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
