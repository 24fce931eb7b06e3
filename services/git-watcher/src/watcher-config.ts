// git-watcher's config keys, on top of the ones every daemon has (bus.url, host, logLevel ...).
import { join } from 'node:path';
import { z } from 'zod';
import { nameSchema } from '@deploybus/protocol';
import { assertRepoUrl } from '@deploybus/git';
import { daemonConfigSchema, secretSchema } from '@deploybus/runtime';

const MIB = 1024 * 1024;

const repoUrl = z.string().superRefine((value, ctx) => {
  try {
    assertRepoUrl(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
  }
});

export const gitWatcherConfigSchema = daemonConfigSchema({
  http: z
    .strictObject({
      port: z.number().int().min(0).max(65535).default(8650),
      host: z.string().min(1).default('127.0.0.1'),
      bodyLimitBytes: z.number().int().min(1024).max(64 * MIB).default(MIB),
    })
    .prefault({}),
  /** GitHub signs each delivery with this secret (X-Hub-Signature-256). Without it /webhooks/github answers 404. */
  github: z.strictObject({ secret: secretSchema }).optional(),
  /** GitLab sends this token in X-Gitlab-Token. Without it /webhooks/gitlab answers 404. */
  gitlab: z.strictObject({ token: secretSchema }).optional(),
  /**
   * Docker Hub signs nothing: give a token and put it in the webhook URL you register
   * (`/webhooks/dockerhub/<token>` or `?token=<token>`). Without a token every caller is believed.
   * Callbacks go only to https://registry.hub.docker.com or to hosts listed in `callbackHosts`.
   */
  dockerhub: z.strictObject({ token: secretSchema.optional(), callbackHosts: z.array(z.string().min(1).max(300)).max(100).default([]) }).optional(),
  /** Repositories with no hook, polled with `git ls-remote`. */
  repos: z.array(z.strictObject({ name: nameSchema, url: repoUrl, pollIntervalMs: z.number().int().min(1_000).max(86_400_000).default(60_000) })).max(10_000).default([]),
  /** Spool directories that hooks write to when the bus is unreachable; drained on an interval. */
  spoolDirs: z.array(z.string().min(1)).max(10_000).default([]),
  spoolDrainIntervalMs: z.number().int().min(100).max(3_600_000).default(5_000),
  /** Remembered delivery ids, for at-most-once publishing of retried webhooks. */
  deliveryMemory: z.number().int().min(10).max(1_000_000).default(10_000),
  dataDir: z.string().min(1).default('/var/lib/deploybus/git-watcher'),
  /** Polling memory and recent delivery ids (default `<dataDir>/state.json`). */
  stateFile: z.string().min(1).optional(),
});

export type GitWatcherConfig = z.output<typeof gitWatcherConfigSchema>;

export function stateFileOf(config: Pick<GitWatcherConfig, 'dataDir' | 'stateFile'>): string {
  return config.stateFile ?? join(config.dataDir, 'state.json');
}
