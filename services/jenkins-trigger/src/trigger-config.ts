// jenkins-trigger's own config keys, validated once at start with the common daemon keys.
import { z } from 'zod';
import { daemonConfigSchema, secretSchema } from '@deploybus/runtime';

const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
  .refine((value) => {
    const url = new URL(value);
    return url.username === '' && url.password === '' && url.search === '' && url.hash === '';
  }, 'must hold no user, password, query or fragment (the user and token have their own keys)')
  // One form everywhere: no trailing slash, so paths append as "/job/...".
  .transform((value) => value.replace(/\/+$/, ''));

// No "/", whitespace or control characters (\p{Cc}), and never "." or "..".
const JOB_SEGMENT = /^(?!\.\.?$)[^/\s\p{Cc}]{1,255}$/u;
const jobName = z
  .string()
  .min(1)
  .max(256)
  .refine((value) => value.split('/').every((segment) => JOB_SEGMENT.test(segment)), 'must be a Jenkins job name, folders joined by "/" (no empty, "." or ".." parts, no spaces or control characters)');

const RESERVED_PARAMETERS = new Set(['REPO', 'REF', 'SHA']);
const parameterName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/, 'must be a parameter name (letters, digits, "_", "." and "-")')
  .refine((name) => !RESERVED_PARAMETERS.has(name), 'REPO, REF and SHA are set by jenkins-trigger itself');

const repoGlob = z.string().regex(/^[A-Za-z0-9_.*?-]{1,64}$/, 'must be a repository name or a glob of one (letters, digits, "_", "-", ".", "*", "?")');
const refGlob = z
  .string()
  .regex(/^refs\/[A-Za-z0-9_./*?+@-]{1,250}$/, 'must be a full ref or a glob of one, e.g. "refs/heads/main" or "refs/tags/v*"');

const retrySchema = z.strictObject({
  attempts: z.number().int().min(1).max(20).default(5),
  initialDelayMs: z.number().int().min(1).max(600_000).default(500),
  maxDelayMs: z.number().int().min(1).max(3_600_000).default(30_000),
});

export const jenkinsTriggerConfigSchema = daemonConfigSchema({
  jenkins: z.strictObject({
    url: httpUrl,
    user: z.string().min(1).max(256),
    token: secretSchema.describe('The user\'s Jenkins API token.'),
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    retry: retrySchema.default({ attempts: 5, initialDelayMs: 500, maxDelayMs: 30_000 }),
  }),
  jobs: z
    .array(
      z.strictObject({
        repo: repoGlob,
        refs: z.array(refGlob).min(1),
        job: jobName,
        parameters: z.record(parameterName, z.string().max(4096)).optional(),
      }),
    )
    .min(1, 'must map at least one repository to a job'),
  notify: z.strictObject({
    http: z
      .strictObject({
        port: z.number().int().min(0).max(65_535).default(8651),
        host: z.string().min(1).default('127.0.0.1'),
      })
      .default({ port: 8651, host: '127.0.0.1' }),
    token: secretSchema.describe('Token Jenkins sends with notifications (Authorization: Bearer, or ?token=).'),
  }),
  poll: z
    .strictObject({
      /** How often builds in flight are looked up in Jenkins, in case a notification was lost. */
      intervalMs: z.number().int().min(50).max(3_600_000).default(15_000),
      /** How often queue items are looked up until Jenkins gives them a build number. */
      queueIntervalMs: z.number().int().min(50).max(3_600_000).default(2_000),
      /** A build (queued or running) older than this is reported failed. */
      maxBuildMs: z.number().int().min(1_000).max(7 * 24 * 3_600_000).default(6 * 3_600_000),
    })
    .default({ intervalMs: 15_000, queueIntervalMs: 2_000, maxBuildMs: 6 * 3_600_000 }),
  /** Where builds in flight and finished builds are kept across restarts; without it they live in memory only. */
  stateFile: z.string().min(1).optional(),
});

export type JenkinsTriggerConfig = z.output<typeof jenkinsTriggerConfigSchema>;
