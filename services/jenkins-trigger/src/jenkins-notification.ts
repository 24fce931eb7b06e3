// What Jenkins tells us about a build, in the two shapes we accept: the Notification plugin's JSON
// ({name, url, build: {number, phase, status, full_url, queue_id?, duration?, parameters?}}) and a
// plain post-build step ({job, number, result}). Pure: parses and normalizes, nothing else.
import { z } from 'zod';
import type { BuildResult } from '@deploybus/jenkins';
import { jobNameFromPath } from './job-matcher.js';

export type BuildPhase = 'QUEUED' | 'STARTED' | 'COMPLETED' | 'FINALIZED';

export interface BuildNotification {
  /** Full job name, folders joined by "/". */
  readonly job: string;
  readonly number: number;
  readonly phase: BuildPhase;
  /** Only for COMPLETED/FINALIZED: on STARTED the plugin sends the previous build's status. */
  readonly result: BuildResult | undefined;
  readonly queueId: number | undefined;
  readonly durationMs: number | undefined;
}

const result = z.enum(['SUCCESS', 'FAILURE', 'UNSTABLE', 'ABORTED', 'NOT_BUILT']);
const number = z.number().int().positive();

const pluginSchema = z.object({
  name: z.string().min(1).max(1024),
  url: z.string().max(4096).optional(),
  build: z.object({
    number,
    phase: z.enum(['QUEUED', 'STARTED', 'COMPLETED', 'FINALIZED', 'FINISHED']),
    status: z.string().max(64).nullable().optional(),
    full_url: z.string().max(4096).optional(),
    url: z.string().max(4096).optional(),
    queue_id: z.number().int().nonnegative().optional(),
    duration: z.number().nonnegative().optional(),
    scm: z.unknown().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});

const postBuildSchema = z.object({
  job: z.string().min(1).max(1024),
  number,
  result,
  durationMs: z.number().nonnegative().optional(),
});

export type ParsedNotification = { readonly ok: true; readonly value: BuildNotification } | { readonly ok: false; readonly problem: string };

export function parseNotification(body: unknown): ParsedNotification {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, problem: 'the body must be a JSON object' };
  if ('build' in body) {
    const parsed = pluginSchema.safeParse(body);
    if (!parsed.success) return { ok: false, problem: describe(parsed.error) };
    const { name, url, build } = parsed.data;
    // The job URL ("job/folder/job/name/") carries the full name; `name` alone drops the folders.
    const job = (url === undefined ? undefined : jobNameFromPath(url)) ?? (build.full_url === undefined ? undefined : jobNameFromPath(pathOf(build.full_url))) ?? name;
    const phase = build.phase === 'FINISHED' ? 'FINALIZED' : build.phase;
    const status = result.safeParse(build.status);
    const finished = phase === 'COMPLETED' || phase === 'FINALIZED';
    return {
      ok: true,
      value: {
        job,
        number: build.number,
        phase,
        result: finished && status.success ? status.data : undefined,
        queueId: build.queue_id,
        durationMs: finished && build.duration !== undefined && build.duration > 0 ? Math.round(build.duration) : undefined,
      },
    };
  }
  const parsed = postBuildSchema.safeParse(body);
  if (!parsed.success) return { ok: false, problem: describe(parsed.error) };
  return {
    ok: true,
    value: {
      job: parsed.data.job.replace(/^\/+|\/+$/g, ''),
      number: parsed.data.number,
      phase: 'COMPLETED',
      result: parsed.data.result,
      queueId: undefined,
      durationMs: parsed.data.durationMs === undefined ? undefined : Math.round(parsed.data.durationMs),
    },
  };
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid notification';
  const path = issue.path.map(String).join('.');
  return `${path === '' ? 'body' : path}: ${issue.message}`;
}
