// The build gate's second source: GitHub's combined commit status (GET /repos/{owner}/{repo}/commits/
// {sha}/status), for apps whose CI reports to GitHub rather than through jenkins-trigger. A commit
// passes when every status that counts is "success": the `requiredContexts` when given (each must be
// there), otherwise all of them but those under `ignoreContexts` (by default deploybus' own "deploybus/…"
// deploy statuses, so a failed staging deploy does not close the gate of production) and at least one.
// Anything else, an error of GitHub's or no answer included, leaves the gate closed (BUILD_NOT_PASSED).
import { z } from 'zod';

export interface GitHubBuildStatusOptions {
  /** "https://api.github.com", or GitHub Enterprise's "https://HOST/api/v3". */
  readonly apiUrl: string;
  readonly token: string;
  /** app -> "owner/repo"; other apps are not asked about. */
  readonly repos: Readonly<Record<string, string>>;
  readonly ignoreContexts: readonly string[];
  readonly requiredContexts?: readonly string[] | undefined;
  readonly timeoutMs: number;
  /** Told why a commit did not pass (for the log). */
  readonly onProblem?: (app: string, sha: string, problem: string) => void;
}

const combinedSchema = z.object({ state: z.string(), statuses: z.array(z.object({ context: z.string(), state: z.string() })) });

/** Pure: whether GitHub's statuses of a commit let it through the gate. */
export function statusesPass(statuses: ReadonlyArray<{ context: string; state: string }>, o: Pick<GitHubBuildStatusOptions, 'ignoreContexts' | 'requiredContexts'>): boolean {
  // GitHub lists the latest status per context first; a context seen again further down is older.
  const latest = new Map<string, string>();
  for (const s of statuses) if (!latest.has(s.context)) latest.set(s.context, s.state);
  if (o.requiredContexts !== undefined && o.requiredContexts.length > 0) return o.requiredContexts.every((c) => latest.get(c) === 'success');
  const counted = [...latest].filter(([context]) => !o.ignoreContexts.some((prefix) => context.startsWith(prefix)));
  return counted.length > 0 && counted.every(([, state]) => state === 'success');
}

/** A `(app, sha) -> passed?` for the conductor's build gate. */
export function githubBuildStatus(o: GitHubBuildStatusOptions): (app: string, sha: string) => Promise<boolean> {
  const api = o.apiUrl.replace(/\/+$/, '');
  return async (app, sha) => {
    const repo = o.repos[app];
    if (repo === undefined) return false;
    const url = `${api}/repos/${repo.split('/').map(encodeURIComponent).join('/')}/commits/${encodeURIComponent(sha)}/status?per_page=100`;
    try {
      const response = await fetch(url, {
        headers: { accept: 'application/vnd.github+json', authorization: `Bearer ${o.token}`, 'x-github-api-version': '2022-11-28', 'user-agent': 'deploybus-conductor/0.1.0' },
        redirect: 'manual',
        signal: AbortSignal.timeout(o.timeoutMs),
      });
      if (response.status !== 200) {
        o.onProblem?.(app, sha, `GitHub answered HTTP ${response.status} for the combined status of ${repo}@${sha}`);
        await response.body?.cancel();
        return false;
      }
      const parsed = combinedSchema.safeParse(await response.json());
      if (!parsed.success) {
        o.onProblem?.(app, sha, `GitHub's combined status of ${repo}@${sha} is not the documented shape`);
        return false;
      }
      return statusesPass(parsed.data.statuses, o);
    } catch (error) {
      o.onProblem?.(app, sha, `GitHub not reachable for the combined status of ${repo}@${sha}: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  };
}
