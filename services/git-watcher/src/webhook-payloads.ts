// What each webhook provider sends, mapped to deploybus events. Pure: a payload in, an outcome out.
// The provider's JSON is read through loose zod shapes (only the fields used); the event is then
// checked against the protocol's own payload schema, so a hostile repo name or ref is refused here
// with the field named, before anything is published.
import { z } from 'zod';
import { commitPushed, imagePushed, type PayloadInputOf } from '@deploybus/protocol';

export type WebhookEvent = { readonly type: 'commit.pushed'; readonly payload: PayloadInputOf<'commit.pushed'> } | { readonly type: 'image.pushed'; readonly payload: PayloadInputOf<'image.pushed'> };

export type WebhookOutcome =
  | { readonly kind: 'publish'; readonly events: readonly WebhookEvent[] }
  /** The sender checks the hook works (GitHub's ping). */
  | { readonly kind: 'ping'; readonly reason: string }
  /** An event deploybus does not handle: answered 2xx so the sender does not retry it. */
  | { readonly kind: 'ignore'; readonly reason: string }
  /** Well-formed JSON that is not a usable event, or names that fail validation: 422. */
  | { readonly kind: 'invalid'; readonly reason: string };

const MAX_COMMITS = 1000;

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? '').slice(0, 1024);
}

function describeIssues(prefix: string, error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return `${prefix}: invalid`;
  const field = issue.path.map(String).join('.');
  return `${prefix}${field ? ` ${field}` : ''}: ${issue.message}`;
}

function checked(event: WebhookEvent): WebhookOutcome {
  const schema = event.type === 'commit.pushed' ? commitPushed.payload : imagePushed.payload;
  const result = schema.safeParse(event.payload);
  return result.success ? { kind: 'publish', events: [event] } : { kind: 'invalid', reason: describeIssues(event.type, result.error) };
}

// --- GitHub ---------------------------------------------------------------------------------------

const githubPush = z.object({
  ref: z.string(),
  before: z.string(),
  after: z.string(),
  repository: z.object({ name: z.string() }),
  pusher: z.object({ name: z.string() }).optional(),
  sender: z.object({ login: z.string() }).optional(),
  commits: z
    .array(z.object({ id: z.string(), message: z.string(), author: z.object({ name: z.string(), email: z.string().nullish() }) }))
    .nullish(),
});

/** GitHub: `X-GitHub-Event` names the event. `push` (deleted refs too) publishes; `ping` answers. */
export function mapGithub(event: string | undefined, body: unknown): WebhookOutcome {
  if (event === 'ping') return { kind: 'ping', reason: 'ping received; push events will be published' };
  if (event !== 'push') return { kind: 'ignore', reason: `GitHub event "${String(event ?? '(none)').slice(0, 64)}" is not handled; only push (and ping)` };
  const parsed = githubPush.safeParse(body);
  if (!parsed.success) return { kind: 'invalid', reason: describeIssues('GitHub push payload', parsed.error) };
  const p = parsed.data;
  return checked({
    type: 'commit.pushed',
    payload: {
      repo: p.repository.name,
      ref: p.ref,
      before: p.before,
      after: p.after,
      commits: (p.commits ?? []).slice(0, MAX_COMMITS).map((c) => ({ sha: c.id, author: author(c.author.name, c.author.email), subject: firstLine(c.message) })),
      pusher: (p.pusher?.name ?? p.sender?.login ?? 'unknown').slice(0, 256),
      origin: 'github',
    },
  });
}

function author(name: string, email: string | null | undefined): string {
  return (email ? `${name} <${email}>` : name).slice(0, 256);
}

// --- GitLab ---------------------------------------------------------------------------------------

const gitlabPush = z.object({
  object_kind: z.enum(['push', 'tag_push']),
  ref: z.string(),
  before: z.string(),
  after: z.string(),
  user_username: z.string().nullish(),
  user_name: z.string().nullish(),
  project: z.object({ path_with_namespace: z.string().nullish(), path: z.string().nullish(), name: z.string() }),
  commits: z
    .array(z.object({ id: z.string(), message: z.string(), title: z.string().nullish(), author: z.object({ name: z.string(), email: z.string().nullish() }) }))
    .nullish(),
});

const GITLAB_PUSH_EVENTS = new Set(['Push Hook', 'Tag Push Hook', 'System Hook']);

/** GitLab: `X-Gitlab-Event` is "Push Hook" or "Tag Push Hook" (or "System Hook" with a push body). */
export function mapGitlab(event: string | undefined, body: unknown): WebhookOutcome {
  const kind = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['object_kind'] : undefined;
  if (!GITLAB_PUSH_EVENTS.has(event ?? '') || (kind !== 'push' && kind !== 'tag_push')) {
    return { kind: 'ignore', reason: `GitLab event "${String(event ?? '(none)').slice(0, 64)}" (object_kind ${JSON.stringify(String(kind ?? '')).slice(0, 40)}) is not handled; only push and tag push` };
  }
  const parsed = gitlabPush.safeParse(body);
  if (!parsed.success) return { kind: 'invalid', reason: describeIssues('GitLab push payload', parsed.error) };
  const p = parsed.data;
  return checked({
    type: 'commit.pushed',
    payload: {
      // The URL slug, what a clone URL ends in: the last part of `path_with_namespace` (GitLab's push
      // payload has no `project.path`). `name` is the display name ("Shop Frontend"), only a last resort.
      repo: p.project.path_with_namespace?.split('/').at(-1) || p.project.path || p.project.name,
      ref: p.ref,
      before: p.before,
      after: p.after,
      commits: (p.commits ?? []).slice(0, MAX_COMMITS).map((c) => ({ sha: c.id, author: author(c.author.name, c.author.email), subject: firstLine(c.title ?? c.message) })),
      pusher: (p.user_username ?? p.user_name ?? 'unknown').slice(0, 256),
      origin: 'gitlab',
    },
  });
}

// --- Docker Hub -----------------------------------------------------------------------------------

const dockerhubPush = z.object({
  callback_url: z.string().nullish(),
  push_data: z.object({ tag: z.string(), pusher: z.string().nullish() }),
  repository: z.object({ repo_name: z.string() }),
});

export interface DockerhubPush {
  readonly outcome: WebhookOutcome;
  readonly callbackUrl: string | undefined;
}

/** Docker Hub: one kind of webhook, an image push. */
export function mapDockerhub(body: unknown): DockerhubPush {
  const parsed = dockerhubPush.safeParse(body);
  if (!parsed.success) return { outcome: { kind: 'invalid', reason: describeIssues('Docker Hub payload', parsed.error) }, callbackUrl: undefined };
  const p = parsed.data;
  return {
    outcome: checked({ type: 'image.pushed', payload: { repository: p.repository.repo_name, tag: p.push_data.tag, pusher: (p.push_data.pusher ?? 'unknown').slice(0, 256), origin: 'dockerhub' } }),
    callbackUrl: p.callback_url ?? undefined,
  };
}
