// The configured notifiers (Slack, GitHub, Jenkins; each entry one destination of the scheduler, with its own
// stored position): their config shape, and the Destination for each entry. Their URLs are the
// operator's own, so they are not held to the subscriptions' destination allow-list.
import { nameSchema } from '@deploybus/protocol';
import { secretSchema } from '@deploybus/runtime';
import { z } from 'zod';
import type { Destination } from './destination.js';
import { DeploymentFactsCache } from './deployment-facts.js';
import type { EventLog } from './event-log.js';
import { githubDestination } from './github-destination.js';
import { jenkinsDestination } from './jenkins-destination.js';
import type { HttpSender } from './http-sender.js';
import { SLACK_EVENTS, slackDestination } from './slack-destination.js';

const notifierName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be a short name: lower-case letters, digits, "_" and "-"');
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });
/** "{deploymentId}", "{app}" and "{env}" are filled in. */
const linkTemplate = z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL template, e.g. https://deploybus.example.com/deploys/{deploymentId}');

export const notifiersConfigShape = {
  /** Link to a deployment in messages and statuses. */
  links: z.strictObject({ deployment: linkTemplate.optional() }).default({}),
  slack: z
    .array(
      z.strictObject({
        name: notifierName,
        /** The incoming webhook's URL is a secret: whoever has it can post. */
        webhookUrl: secretSchema,
        events: z.array(z.enum(SLACK_EVENTS)).min(1).default([...SLACK_EVENTS]),
        app: nameSchema.optional(),
        env: nameSchema.optional(),
      }),
    )
    .default([]),
  github: z
    .array(
      z.strictObject({
        name: notifierName,
        apiUrl: httpUrl.default('https://api.github.com'),
        token: secretSchema,
        /** app -> "owner/repo". */
        repos: z.record(nameSchema, z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be "owner/repo"')),
        env: nameSchema.optional(),
        mode: z.enum(['status', 'deployment']).default('status'),
        context: z.string().min(1).max(100).default('deploybus/{env}'),
      }),
    )
    .default([]),
  /** Jenkins jobs started after a deploy succeeds (APP, ENV, REF, SHA, DEPLOYMENT_ID as parameters). */
  jenkins: z
    .array(
      z.strictObject({
        name: notifierName,
        url: httpUrl,
        user: z.string().min(1).max(256),
        token: secretSchema,
        job: z.string().regex(/^(?!.*(^|\/)\.\.?(\/|$))[^\s\p{Cc}]{1,256}$/u, 'must be a Jenkins job name, folders joined by "/"'),
        app: nameSchema.optional(),
        env: nameSchema.optional(),
        parameters: z
          .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/, 'must be a parameter name').refine((n) => !['APP', 'ENV', 'REF', 'SHA', 'DEPLOYMENT_ID'].includes(n), 'APP, ENV, REF, SHA and DEPLOYMENT_ID are set by the notifier'), z.string().max(4096))
          .default({}),
      }),
    )
    .default([]),
};

export interface NotifierDeps {
  readonly log: EventLog;
  readonly sender: HttpSender;
  readonly timeoutMs: number;
}

type NotifiersConfig = z.output<z.ZodObject<typeof notifiersConfigShape>>;

export function notifierDestinations(config: NotifiersConfig, deps: NotifierDeps): Destination[] {
  const facts = new DeploymentFactsCache(deps.log);
  const link = config.links.deployment;
  const ids = new Set<string>();
  const unique = (d: Destination): Destination => {
    if (ids.has(d.id)) throw new RangeError(`two notifiers are named ${d.id}; names must differ`);
    ids.add(d.id);
    return d;
  };
  return [
    ...config.slack.map((s) => unique(slackDestination({ name: s.name, webhookUrl: s.webhookUrl.reveal(), events: s.events, app: s.app, env: s.env, link, timeoutMs: deps.timeoutMs }, { sender: deps.sender, facts }))),
    ...config.github.map((g) =>
      unique(githubDestination({ name: g.name, apiUrl: g.apiUrl, token: g.token.reveal(), repos: g.repos, env: g.env, mode: g.mode, context: g.context, link, timeoutMs: deps.timeoutMs }, { sender: deps.sender, facts })),
    ),
    ...config.jenkins.map((j) =>
      unique(jenkinsDestination({ name: j.name, url: j.url, user: j.user, token: j.token, job: j.job, app: j.app, env: j.env, parameters: j.parameters, timeoutMs: deps.timeoutMs }, { facts })),
    ),
  ];
}
