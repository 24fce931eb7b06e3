// What a git hook knows, turned into commit.pushed payloads. Pure, apart from the commit lookup it is given.
import { userInfo } from 'node:os';
import { basename } from 'node:path';
import { nameSchema, type PayloadInputOf } from '@deploybus/protocol';
import type { CommitSummary, RefUpdate } from '@deploybus/git';
import type { Env } from '@deploybus/runtime';

export type CommitPushedPayload = PayloadInputOf<'commit.pushed'>;
export type HookOrigin = 'post-receive' | 'post-commit';

export const ZERO_SHA = '0000000000000000000000000000000000000000';

/** `/srv/git/shop.git` -> `shop`; `/home/ada/shop/.git` -> `shop`. */
export function repoNameFromGitDir(gitDir: string): string {
  const base = basename(gitDir);
  const name = base === '.git' ? basename(gitDir.slice(0, -'/.git'.length)) : base;
  return name.endsWith('.git') ? name.slice(0, -'.git'.length) : name;
}

export type NameChoice = { ok: true; name: string } | { ok: false; reason: string };

/** The repository name for events: `--repo`, else config, else the directory's name; validated. */
export function chooseRepoName(flag: string | undefined, configured: string | undefined, gitDir: string): NameChoice {
  const [name, from] = flag !== undefined ? [flag, '--repo'] : configured !== undefined ? [configured, 'config hook.repo'] : [repoNameFromGitDir(gitDir), `the directory name of ${gitDir}`];
  const check = nameSchema.safeParse(name);
  if (!check.success) return { ok: false, reason: `repository name ${JSON.stringify(name.slice(0, 80))} (from ${from}) ${check.error.issues[0]?.message ?? 'is invalid'}; pass --repo NAME` };
  return { ok: true, name };
}

/** Who pushed: GitLab's, then GitHub Enterprise's, then the system user's name. */
export function pusherFromEnv(env: Env): string {
  for (const key of ['GL_USERNAME', 'GITHUB_USER', 'USER', 'LOGNAME']) {
    // eslint-disable-next-line no-control-regex -- control characters are what is removed
    const value = env[key]?.replace(/[\u0000-\u001f\u007f]/g, '').trim();
    if (value) return value.slice(0, 256);
  }
  try {
    return userInfo().username.slice(0, 256) || 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface PayloadInput {
  readonly repo: string;
  readonly update: RefUpdate;
  /** Newest first, as `git log` and GitClient.commitsBetween give them. */
  readonly commits: readonly CommitSummary[];
  readonly pusher: string;
  readonly origin: HookOrigin;
}

export function commitPushedPayload(input: PayloadInput): CommitPushedPayload {
  return {
    repo: input.repo,
    ref: input.update.ref,
    before: input.update.before,
    after: input.update.after,
    // The message carries them oldest first.
    commits: [...input.commits].reverse().map((c) => ({ sha: c.sha, author: c.author.slice(0, 256), subject: c.subject.slice(0, 1024) })),
    pusher: input.pusher,
    origin: input.origin,
  };
}
