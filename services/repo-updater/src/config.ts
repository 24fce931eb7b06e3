// repo-updater's config: which repositories this server mirrors and where, when it fetches, and
// which package updates make it refresh the package index. Checked once at start: a repository
// URL with a transport that is not allowed (and `ext::` never is) stops the daemon naming the key.
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { assertRepoUrl, DEFAULT_ALLOWED_PROTOCOLS, GitInputError } from '@deploybus/git';
import { nameSchema } from '@deploybus/protocol';
import { daemonConfigSchema } from '@deploybus/runtime';
import { GLOB_PATTERN } from './patterns.js';

const glob = z.string().min(1).max(255).regex(GLOB_PATTERN, 'must be a glob pattern ("*" and "?" as wildcards, an optional leading "!" to exclude, no spaces)');

export const FETCH_TRIGGERS = ['build.succeeded', 'commit.pushed'] as const;
export type FetchTrigger = (typeof FETCH_TRIGGERS)[number];

const repoSchema = z.strictObject({
  name: nameSchema,
  /** Checked against `allowedProtocols` below, where both are known. */
  url: z.string().min(1).max(2048),
  /** Host patterns of the servers that carry the repository; absent: every server. */
  hosts: z.array(glob).min(1).max(100).optional(),
  fetchOn: z.array(z.enum(FETCH_TRIGGERS)).min(1).default(['build.succeeded']),
});

const packagesSchema = z.strictObject({
  /** Program and arguments, run without a shell. */
  refreshCommand: z.array(z.string().min(1).max(4096)).min(1).max(100).default(['apt-get', 'update']),
  timeoutMs: z.number().int().min(100).max(3_600_000).default(300_000),
  /** Package name patterns this server cares about; none: package updates are ignored. */
  names: z.array(glob).max(1000).default([]),
});

const fetchSchema = z.strictObject({
  /** Tries after the first failed one. */
  retries: z.number().int().min(0).max(20).default(3),
  initialDelayMs: z.number().int().min(0).max(600_000).default(1_000),
  /** Kills a git command silent for this long. */
  timeoutMs: z.number().int().min(1_000).max(3_600_000).default(300_000),
});

export const repoUpdaterConfigSchema = daemonConfigSchema({
  mirrorsDir: z
    .string()
    .min(1)
    .refine((dir) => isAbsolute(dir), 'must be an absolute path')
    .default('/var/lib/deploybus/mirrors'),
  allowedProtocols: z
    .array(z.enum(['https', 'http', 'ssh', 'git', 'file']))
    .min(1)
    .default([...DEFAULT_ALLOWED_PROTOCOLS]),
  repos: z.array(repoSchema).max(10_000).default([]),
  packages: packagesSchema.default({ refreshCommand: ['apt-get', 'update'], timeoutMs: 300_000, names: [] }),
  fetch: fetchSchema.default({ retries: 3, initialDelayMs: 1_000, timeoutMs: 300_000 }),
}).superRefine((config, ctx) => {
  const seen = new Set<string>();
  config.repos.forEach((repo, index) => {
    if (seen.has(repo.name)) ctx.addIssue({ code: 'custom', path: ['repos', index, 'name'], message: `repository "${repo.name}" is configured twice` });
    seen.add(repo.name);
    try {
      assertRepoUrl(repo.url, config.allowedProtocols);
    } catch (error) {
      if (!(error instanceof GitInputError)) throw error;
      ctx.addIssue({ code: 'custom', path: ['repos', index, 'url'], message: error.message });
    }
  });
});

export type RepoUpdaterConfig = z.output<typeof repoUpdaterConfigSchema>;
export type RepoConfig = RepoUpdaterConfig['repos'][number];
