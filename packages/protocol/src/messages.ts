// Every message type deploybus speaks: payload schema, routing key and example.
// docs/protocol.md and the JSON Schema files are generated from this file, descriptions included.
import { z } from 'zod';
import { defineMessage } from './catalog-types.js';
import { commandRoutingKey } from './destinations.js';
import { hostSchema, nameSchema, routingSegment as seg } from './names.js';
import { FULL_SHA_PATTERN, refSchema as ref } from './ref-name.js';

const sha = z.string().regex(FULL_SHA_PATTERN, 'must be a full hex commit id (40 or 64 characters)');
const isoTime = z.iso.datetime({ offset: true });
const durationMs = z.number().int().nonnegative();
const url = z.url({ protocol: /^https?$/ });

const person = z.string().min(1).max(128).describe('Who asked: a user name or a token\'s name.');
const deploymentId = z.string().min(8).max(128).describe('The conductor\'s id for one deployment; every event of that deployment carries it.');
const commandId = z.string().min(8).max(128).describe('Unique id of the command; an agent carries out a command id at most once.');
// A release name becomes a directory name on agents, so it is one path component: no "/", no "..", no leading "." or "-".
const release = z
  .string()
  .regex(/^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_.+@-]{0,254}$/, 'must be one directory name: letters, digits and _ . + @ -, not starting with "." or "-", without ".."')
  .describe('Name of a release directory on the host, e.g. "20261122100012-v1.4.1".');

const commit = z.object({
  sha: sha.describe('Commit id.'),
  author: z.string().max(256).describe('Author as git shows it, "Name <email>".'),
  subject: z.string().max(1024).describe('First line of the commit message.'),
});

const exampleSha = '9fceb02d0ae598e95dc970b74767f19372d61af8';
const exampleTime = '2026-11-22T10:00:00.000Z';
const zeroSha = z.literal('0000000000000000000000000000000000000000');

export const commitPushed = defineMessage({
  type: 'commit.pushed',
  summary: 'A ref was updated in a repository (git hook, webhook or polling). Sent by git-watcher; heard by jenkins-trigger and repo-updater.',
  payload: z.object({
    repo: nameSchema.describe('Repository name as configured in deploybus.'),
    ref: ref.describe('The ref that moved, e.g. "refs/heads/main".'),
    before: sha.or(zeroSha).describe('Commit the ref pointed at before; all zeros when the ref was created.'),
    after: sha.or(zeroSha).describe('Commit the ref points at now; all zeros when the ref was deleted.'),
    commits: z.array(commit).max(1000).describe('New commits, oldest first (may be truncated by the sender).'),
    pusher: z.string().max(256).describe('Who pushed, as the hook or webhook named them.'),
    origin: z.enum(['post-receive', 'post-commit', 'github', 'gitlab', 'dockerhub', 'poll']).describe('How git-watcher learned of the push.'),
  }),
  routingTemplate: 'commit.pushed.{repo}',
  routingKey: (p) => `commit.pushed.${seg(p.repo)}`,
  example: {
    repo: 'shop',
    ref: 'refs/heads/main',
    before: '0000000000000000000000000000000000000000',
    after: exampleSha,
    commits: [{ sha: exampleSha, author: 'Ada <ada@example.com>', subject: 'Fix the basket total' }],
    pusher: 'ada',
    origin: 'post-receive',
  },
});

const buildBase = {
  repo: nameSchema.describe('Repository name.'),
  ref: ref.describe('The ref that was built.'),
  sha: sha.describe('The commit that was built.'),
  job: z.string().min(1).max(256).describe('Jenkins job name (folders joined by "/").'),
};
const buildNumber = z.number().int().positive().describe('Jenkins build number.');
const buildUrl = url.describe('The build\'s page in Jenkins.');

export const buildRequested = defineMessage({
  type: 'build.requested',
  summary: 'jenkins-trigger asked Jenkins to build a commit; `queueUrl` is Jenkins\' queue item.',
  payload: z.object({ ...buildBase, queueUrl: url.optional().describe('Jenkins\' queue item for the build.') }),
  routingTemplate: 'build.requested.{repo}',
  routingKey: (p) => `build.requested.${seg(p.repo)}`,
  example: { repo: 'shop', ref: 'refs/heads/main', sha: exampleSha, job: 'shop-ci', queueUrl: 'http://jenkins.example.com/queue/item/17/' },
});

export const buildStarted = defineMessage({
  type: 'build.started',
  summary: 'A Jenkins build for a commit started running. Sent by jenkins-trigger.',
  payload: z.object({ ...buildBase, number: buildNumber, url: buildUrl }),
  routingTemplate: 'build.started.{repo}',
  routingKey: (p) => `build.started.${seg(p.repo)}`,
  example: { repo: 'shop', ref: 'refs/heads/main', sha: exampleSha, job: 'shop-ci', number: 42, url: 'http://jenkins.example.com/job/shop-ci/42/' },
});

export const buildSucceeded = defineMessage({
  type: 'build.succeeded',
  summary: 'A build passed. Sent by jenkins-trigger; repo-updater fetches on it; the conductor\'s build gate records it.',
  payload: z.object({ ...buildBase, number: buildNumber, url: buildUrl, durationMs: durationMs.optional().describe('How long the build ran.') }),
  routingTemplate: 'build.succeeded.{repo}',
  routingKey: (p) => `build.succeeded.${seg(p.repo)}`,
  example: { repo: 'shop', ref: 'refs/heads/main', sha: exampleSha, job: 'shop-ci', number: 42, url: 'http://jenkins.example.com/job/shop-ci/42/', durationMs: 81000 },
});

export const buildFailed = defineMessage({
  type: 'build.failed',
  summary: 'A build failed, or could not be started (then `number` is absent and `reason` says why). Sent by jenkins-trigger.',
  payload: z.object({
    ...buildBase,
    number: buildNumber.optional(),
    url: buildUrl.optional(),
    result: z.enum(['FAILURE', 'UNSTABLE', 'ABORTED', 'NOT_BUILT', 'ERROR']).describe('Jenkins\' result; ERROR when the build could not be started.'),
    reason: z.string().max(2048).describe('What went wrong, for people.'),
  }),
  routingTemplate: 'build.failed.{repo}',
  routingKey: (p) => `build.failed.${seg(p.repo)}`,
  example: { repo: 'shop', ref: 'refs/heads/main', sha: exampleSha, job: 'shop-ci', number: 43, url: 'http://jenkins.example.com/job/shop-ci/43/', result: 'FAILURE', reason: 'tests failed' },
});

export const repoUpdated = defineMessage({
  type: 'repo.updated',
  summary: 'repo-updater fetched into a server\'s local mirror (or failed to; then `error` says why). The deploy-agent on that server hears its own host\'s and prepares the release of the newest green build in `built`.',
  payload: z.object({
    repo: nameSchema.describe('Repository name.'),
    host: hostSchema.describe('The server whose mirror was updated.'),
    head: sha.optional().describe('The mirror\'s default branch head after the fetch.'),
    tags: z.array(ref).max(10000).describe('Tags the mirror holds after the fetch.'),
    error: z.string().max(2048).optional().describe('Why the fetch failed; absent on success.'),
    built: z
      .array(z.object({ ref: ref.describe('The ref the build was for.'), sha: sha.describe('The commit that passed.') }))
      .max(100)
      .optional()
      .describe('The green builds this fetch was for (build.succeeded messages coalesced into it), oldest first. Deploy-agents on the host prepare a release of the newest one, so that a deploy of it only switches.'),
  }),
  routingTemplate: 'repo.updated.{repo}.{host}',
  routingKey: (p) => `repo.updated.${seg(p.repo)}.${seg(p.host)}`,
  example: { repo: 'shop', host: 'web1.example.com', head: exampleSha, tags: ['v1.4.0', 'v1.4.1'], built: [{ ref: 'refs/tags/v1.4.1', sha: exampleSha }] },
});

export const packageUpdated = defineMessage({
  type: 'package.updated',
  summary: 'A package was published to a package repository (by a webhook or a publishing script); repo-updater refreshes the index where it matters.',
  payload: z.object({
    package: z.string().min(1).max(256).describe('Package name.'),
    version: z.string().min(1).max(128).describe('The version published.'),
    repository: z.string().min(1).max(256).describe('The package repository (suite or channel) it went to.'),
  }),
  routingTemplate: 'package.updated.{package}',
  routingKey: (p) => `package.updated.${seg(p.package)}`,
  example: { package: 'shop-assets', version: '1.4.1-1', repository: 'internal-stable' },
});

export const packageRefreshed = defineMessage({
  type: 'package.refreshed',
  summary: 'repo-updater ran a server\'s package refresh command (e.g. apt-get update) after a package.updated it cares about; `ok` false with `error` when it failed or timed out.',
  payload: z.object({
    host: hostSchema.describe('The server whose package index was refreshed.'),
    package: z.string().min(1).max(256).describe('The package whose package.updated caused the refresh.'),
    version: z.string().min(1).max(128).describe('The version that package.updated announced.'),
    ok: z.boolean().describe('Whether the refresh command exited with status 0 in time.'),
    exitCode: z.number().int().optional().describe('The command\'s exit status; absent when it could not start or was killed.'),
    error: z.string().max(2048).optional().describe('What went wrong (exit status, timeout, not found), for people; absent on success.'),
    durationMs: durationMs.describe('How long the command ran.'),
  }),
  routingTemplate: 'package.refreshed.{package}.{host}',
  routingKey: (p) => `package.refreshed.${seg(p.package)}.${seg(p.host)}`,
  example: { host: 'web1.example.com', package: 'shop-assets', version: '1.4.1-1', ok: true, exitCode: 0, durationMs: 2300 },
});

export const imagePushed = defineMessage({
  type: 'image.pushed',
  summary: 'A container image tag was pushed to a registry (a Docker Hub webhook). Sent by git-watcher. Images are not commits, so this is not a commit.pushed.',
  payload: z.object({
    repository: z
      .string()
      .max(255)
      .regex(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/, 'must be an image repository name such as "library/nginx" (lower-case letters, digits, ".", "_", "-", "/"-separated)')
      .describe('Image repository, "namespace/name".'),
    tag: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'must be an image tag: letters, digits, "_", "." and "-", at most 128, not starting with "." or "-"')
      .describe('The tag that was pushed, e.g. "latest" or "1.4.1".'),
    pusher: z.string().max(256).describe('Who pushed, as the registry named them.'),
    origin: z.enum(['dockerhub']).describe('How git-watcher learned of the push.'),
  }),
  routingTemplate: 'image.pushed.{repository}',
  routingKey: (p) => `image.pushed.${seg(p.repository)}`,
  example: { repository: 'acme/shop', tag: '1.4.1', pusher: 'ada', origin: 'dockerhub' },
});

const rolloutOptions = z
  .object({
    canary: z.number().int().min(0).max(1000).default(0).describe('Hosts deployed first, alone.'),
    batchSize: z
      .union([z.number().int().positive(), z.string().regex(/^(100|[1-9][0-9]?)%$/)])
      .default(1)
      .describe('Hosts per batch: a count or a percentage such as "25%".'),
    maxUnavailable: z.number().int().positive().optional().describe('Most hosts out of service at once; defaults to the batch size.'),
    pauseMs: durationMs.max(86_400_000).default(0).describe('Pause between batches, at most a day.'),
    hostTimeoutMs: z.number().int().positive().max(86_400_000).default(600_000).describe('How long to wait for one host\'s reply before counting it as no-response.'),
    rollbackOnFailure: z.boolean().default(true).describe('Roll the finished hosts back when a host fails.'),
  })
  .describe('How to roll out.');

const targetFilter = z
  .object({
    hosts: z.array(hostSchema).min(1).max(10000).optional().describe('Only these hosts; each must be a live agent serving the app that the patterns and roles keep, or the request is refused.'),
    patterns: z.array(z.string().min(1).max(255)).min(1).max(100).optional().describe('Host glob patterns; the longest matching pattern wins.'),
    roles: z.array(nameSchema).min(1).max(100).optional().describe('Only hosts with one of these roles.'),
  })
  .describe('Narrows the live agents serving the app; each part given narrows further, and none given means all of them. A list is never empty: leave it out instead.');

const deployRef = {
  deploymentId,
  app: nameSchema.describe('Application name.'),
  env: nameSchema.describe('Environment name, e.g. "production".'),
};

export const deployRequested = defineMessage({
  type: 'deploy.requested',
  summary: 'A person or script asks for app at ref in env. The conductor answers on `replyTo` with deploy.queued or deploy.refused.',
  payload: z.object({
    app: deployRef.app,
    env: deployRef.env,
    ref: ref.describe('What to deploy: a tag, branch or full commit id.'),
    sha: sha
      .optional()
      .describe('Pins the commit: the conductor deploys exactly this commit, not what `ref` names now, and `ref` is only its label. A rollback sends the commit that ran before, under the ref it was deployed as, so a branch or tag moved since cannot change what it goes back to. A `ref` that is itself a full commit id must be this one.'),
    targets: targetFilter.default({}),
    rollout: rolloutOptions.default({
      canary: 0,
      batchSize: 1,
      pauseMs: 0,
      hostTimeoutMs: 600_000,
      rollbackOnFailure: true,
    }),
    requestedBy: person,
    force: z.boolean().default(false).describe('Skip the lock and build gates (admins only).'),
  }),
  routingTemplate: 'deploy.requested.{app}.{env}',
  routingKey: (p) => `deploy.requested.${seg(p.app)}.${seg(p.env)}`,
  example: { app: 'shop', env: 'production', ref: 'v1.4.1', targets: { patterns: ['web*'] }, rollout: { canary: 1, batchSize: '25%' }, requestedBy: 'ada' },
});

export const deployQueued = defineMessage({
  type: 'deploy.queued',
  summary: 'The conductor accepted a request; `position` 0 means it starts now.',
  payload: z.object({
    ...deployRef,
    ref: ref.describe('The ref as requested.'),
    sha: sha.optional().describe('The commit the ref resolved to, when known.'),
    requestedBy: person,
    position: z.number().int().nonnegative().describe('Deployments of this app and environment ahead of this one.'),
  }),
  routingTemplate: 'deploy.queued.{app}.{env}',
  routingKey: (p) => `deploy.queued.${seg(p.app)}.${seg(p.env)}`,
  example: { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', ref: 'v1.4.1', sha: exampleSha, requestedBy: 'ada', position: 0 },
  inEventLog: true,
});

export const deployRefused = defineMessage({
  type: 'deploy.refused',
  summary: 'The conductor refused a request; `code` is stable, `reason` is for people.',
  payload: z.object({
    app: deployRef.app,
    env: deployRef.env,
    ref: ref.describe('The ref as requested.'),
    requestedBy: person,
    code: z.enum(['LOCKED', 'BUILD_NOT_PASSED', 'UNKNOWN_APP', 'BAD_REF', 'REF_LOOKUP_FAILED', 'ROSTER_UNAVAILABLE', 'NO_TARGETS', 'INVALID_REQUEST']).describe('Why, for programs. REF_LOOKUP_FAILED: the repository could not be asked what the ref names (git\'s error in `reason`); ROSTER_UNAVAILABLE: keepalive did not say which agents are up. In both, nothing was queued, and asking again may work.'),
    reason: z.string().max(2048).describe('Why, for people.'),
  }),
  routingTemplate: 'deploy.refused.{app}.{env}',
  routingKey: (p) => `deploy.refused.${seg(p.app)}.${seg(p.env)}`,
  example: { app: 'shop', env: 'production', ref: 'v1.4.1', requestedBy: 'ada', code: 'LOCKED', reason: 'production is locked by bob since 09:12: "incident 311"' },
  inEventLog: true,
});

export const deployStarted = defineMessage({
  type: 'deploy.started',
  summary: 'A rollout began; `hosts` lists the targets in rollout order, `batches` their grouping.',
  payload: z.object({
    ...deployRef,
    ref: ref.describe('The ref being deployed.'),
    sha: sha.describe('The commit it resolved to.'),
    requestedBy: person,
    hosts: z.array(hostSchema).describe('Target hosts in rollout order.'),
    batches: z.array(z.array(hostSchema)).describe('The hosts grouped into batches; a canary is a batch of its own.'),
  }),
  routingTemplate: 'deploy.started.{app}.{env}',
  routingKey: (p) => `deploy.started.${seg(p.app)}.${seg(p.env)}`,
  example: { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', ref: 'v1.4.1', sha: exampleSha, requestedBy: 'ada', hosts: ['web1', 'web2'], batches: [['web1'], ['web2']] },
  inEventLog: true,
});

export const deployBatch = defineMessage({
  type: 'deploy.batch',
  summary: 'A rollout begins one batch (after the pause before it, if any); its hosts are sent their commands now.',
  payload: z.object({
    ...deployRef,
    index: z.number().int().positive().describe('Which batch, counting from 1.'),
    total: z.number().int().positive().describe('How many batches the rollout has.'),
    hosts: z.array(hostSchema).min(1).describe('The hosts of this batch.'),
  }),
  routingTemplate: 'deploy.batch.{app}.{env}',
  routingKey: (p) => `deploy.batch.${seg(p.app)}.${seg(p.env)}`,
  example: { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', index: 2, total: 2, hosts: ['web2'] },
  inEventLog: true,
});

export const deployHostResult = defineMessage({
  type: 'deploy.host-result',
  summary: 'One host finished its part of a rollout. `no-response` means the agent never answered: never counted as success.',
  payload: z.object({
    ...deployRef,
    host: hostSchema.describe('The host.'),
    outcome: z
      .enum(['succeeded', 'failed', 'no-response', 'rolled-back', 'refused', 'rollback-failed'])
      .describe(
        'What happened on the host. A host deployed and then rolled back has two results: `succeeded`, then `rolled-back`, `rollback-failed` (its rollback was refused, failed or not sent: it still runs the new release, named in `release`) or `no-response` (it may run either).',
      ),
    release: release.optional().describe('The release the host runs after this: the new one, or for `rolled-back` the one it went back to.'),
    durationMs: durationMs.optional().describe('How long the host took.'),
    error: z.string().max(4096).optional().describe('What went wrong, for people.'),
  }),
  routingTemplate: 'deploy.host-result.{app}.{env}',
  routingKey: (p) => `deploy.host-result.${seg(p.app)}.${seg(p.env)}`,
  example: { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', host: 'web1', outcome: 'succeeded', release: '20261122100012-v1.4.1', durationMs: 2300 },
  inEventLog: true,
});

/** Whether a host with this deploy.host-result outcome (its last one) runs the deployment's new release. */
export function runsNewRelease(outcome: string): boolean {
  return outcome === 'succeeded' || outcome === 'rollback-failed';
}

const deployEnd = {
  ...deployRef,
  ref: ref.describe('The ref deployed.'),
  durationMs: durationMs.describe('How long the whole rollout took.'),
  succeededHosts: z.array(hostSchema).describe('Hosts that run the new release.'),
  failedHosts: z.array(hostSchema).describe('Hosts that failed, did not answer, or were rolled back.'),
};

export const deploySucceeded = defineMessage({
  type: 'deploy.succeeded',
  summary: 'Every target host runs the new release.',
  payload: z.object(deployEnd),
  routingTemplate: 'deploy.succeeded.{app}.{env}',
  routingKey: (p) => `deploy.succeeded.${seg(p.app)}.${seg(p.env)}`,
  example: { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', ref: 'v1.4.1', durationMs: 9100, succeededHosts: ['web1', 'web2'], failedHosts: [] },
  inEventLog: true,
});

export const deployFailed = defineMessage({
  type: 'deploy.failed',
  summary: 'The rollout stopped at a failure; `reason` names the host and step.',
  payload: z.object({ ...deployEnd, reason: z.string().max(4096).describe('The host and step that failed, for people.') }),
  routingTemplate: 'deploy.failed.{app}.{env}',
  routingKey: (p) => `deploy.failed.${seg(p.app)}.${seg(p.env)}`,
  example: { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', ref: 'v1.4.1', durationMs: 7200, succeededHosts: ['web1'], failedHosts: ['web2'], reason: 'web2: health-check failed after 3 tries' },
  inEventLog: true,
});

export const deployCancelled = defineMessage({
  type: 'deploy.cancelled',
  summary: 'A queued or running deploy was cancelled (or superseded by a newer request).',
  payload: z.object({ ...deployRef, cancelledBy: person, reason: z.string().max(2048).describe('Why, for people.') }),
  routingTemplate: 'deploy.cancelled.{app}.{env}',
  routingKey: (p) => `deploy.cancelled.${seg(p.app)}.${seg(p.env)}`,
  example: { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', cancelledBy: 'ada', reason: 'wrong tag' },
  inEventLog: true,
});

const actionParams = z
  .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/), z.union([z.string().max(4096), z.number(), z.boolean()]))
  .describe('Parameters of the operator-defined action; never interpolated into a shell.');
const commandHost = hostSchema.describe('The agent host the command is for.');

export const agentCommand = defineMessage({
  type: 'agent.command',
  summary: 'A signed command to one deploy-agent, on its durable queue. Agents refuse it unsigned, expired or replayed, and say so in an agent.reply.',
  payload: z.discriminatedUnion('action', [
    z.object({ action: z.literal('deploy').describe('Check out `ref` into a new release, switch to it, restart and health-check.'), commandId, host: commandHost, deploymentId, app: deployRef.app, env: deployRef.env, ref: ref.describe('The ref to deploy, as the person asked for it.'), sha: sha.optional().describe('The commit the conductor resolved `ref` to (and gated on): the agent deploys exactly this commit, so every host of a rollout gets the same one even if the ref moves meanwhile. Without it the agent resolves `ref` in its local mirror.') }),
    z.object({ action: z.literal('rollback').describe('Switch back to an earlier release.'), commandId, host: commandHost, deploymentId, app: deployRef.app, env: deployRef.env, release: release.optional().describe('Release to return to; the previous one when absent.') }),
    z.object({ action: z.literal('state').describe('Report the releases on the host in the reply\'s `result`.'), commandId, host: commandHost }),
    z.object({ action: z.literal('run').describe('Run an action the operator configured on the agent.'), commandId, host: commandHost, app: deployRef.app, name: nameSchema.describe('Name of an action the operator configured on the agent.'), params: actionParams }),
  ]),
  routingTemplate: 'agent.command.{host}',
  routingKey: (p) => commandRoutingKey(p.host),
  example: { action: 'deploy', commandId: 'c-0b1e9d44', host: 'web1', deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', ref: 'v1.4.1', sha: exampleSha },
  signedCommand: true,
});

export const agentReply = defineMessage({
  type: 'agent.reply',
  summary: 'An agent\'s answer to a command, sent to the command\'s `replyTo` with its `correlationId`.',
  payload: z.object({
    commandId: commandId.describe('The command answered.'),
    host: hostSchema.describe('The agent host answering.'),
    status: z.enum(['accepted', 'succeeded', 'failed', 'refused']).describe('The outcome; "accepted": the agent took the command and reports its progress as task.* events.'),
    error: z.string().max(4096).optional().describe('What went wrong or why it was refused, for people.'),
    failedStep: z.string().max(64).optional().describe('The step that failed.'),
    exitCode: z.number().int().optional().describe('Exit code of the failed step\'s command.'),
    release: release.optional(),
    steps: z
      .array(z.object({ name: z.string().max(64).describe('Step name.'), durationMs: durationMs.describe('How long the step took.') }))
      .max(100)
      .optional()
      .describe('The steps run, in order.'),
    result: z.record(z.string(), z.unknown()).optional().describe('Command-specific data, e.g. the releases for "state".'),
  }),
  routingTemplate: 'agent.reply.{host}',
  routingKey: (p) => `agent.reply.${seg(p.host)}`,
  example: { commandId: 'c-0b1e9d44', host: 'web1', status: 'succeeded', release: '20261122100012-v1.4.1', steps: [{ name: 'checkout', durationMs: 120 }, { name: 'health-check', durationMs: 300 }] },
  sentAsReply: true,
});

export const messageRejected = defineMessage({
  type: 'message.rejected',
  summary:
    'Sent to the `replyTo` of a message a work queue\'s consumer could not read (not valid JSON, an unknown type, a field that breaks its rules), with its `id` as `correlationId`, so the sender learns why instead of waiting; the message itself is dead-lettered.',
  payload: z.object({
    rejectedType: z.string().max(64).optional().describe('The type the rejected message claimed, when it had one.'),
    reason: z.string().max(2048).describe('What is wrong with it, naming the field.'),
    queue: z.string().max(255).describe('The queue it was taken from.'),
  }),
  routingTemplate: 'message.rejected.{queue}',
  routingKey: (p) => `message.rejected.${seg(p.queue)}`,
  example: { rejectedType: 'deploy.requested', reason: 'deploy.requested payload.ref: must be a valid ref name', queue: 'deploybus.conductor' },
  sentAsReply: true,
});

const taskRef = {
  ...deployRef,
  host: hostSchema.describe('The agent host.'),
  step: z.string().min(1).max(64).describe('fetch (only when the agent\'s mirror lacks the ref), checkout, pre-deploy, pre-link, switch, restart, health-check, post-deploy, rollback (putting current back after a failure), or an action\'s own step name.'),
};

export const taskStarted = defineMessage({
  type: 'task.started',
  summary: 'An agent began one step of a deploy (checkout, pre-deploy, switch, restart, health-check, post-deploy).',
  payload: z.object(taskRef),
  routingTemplate: 'task.started.{app}.{env}.{host}',
  routingKey: (p) => `task.started.${seg(p.app)}.${seg(p.env)}.${seg(p.host)}`,
  example: { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', host: 'web1', step: 'pre-deploy' },
  inEventLog: true,
});

export const taskCompleted = defineMessage({
  type: 'task.completed',
  summary: 'A step finished, with its duration and, for commands, the exit code.',
  payload: z.object({
    ...taskRef,
    ok: z.boolean().describe('Whether the step succeeded.'),
    durationMs: durationMs.describe('How long the step took.'),
    exitCode: z.number().int().optional().describe('Exit code, for steps that run a command.'),
  }),
  routingTemplate: 'task.completed.{app}.{env}.{host}',
  routingKey: (p) => `task.completed.${seg(p.app)}.${seg(p.env)}.${seg(p.host)}`,
  example: { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', host: 'web1', step: 'pre-deploy', ok: true, durationMs: 840, exitCode: 0 },
  inEventLog: true,
});

export const taskLog = defineMessage({
  type: 'task.log',
  summary: 'A batch of output lines from a step, in order (`seq` counts batches per deployment and host).',
  payload: z.object({
    ...taskRef,
    seq: z.number().int().nonnegative().describe('Batch number per deployment and host; receivers order by it. A deploy command\'s batches count from 0; a rollback of that deployment on the host, which comes after it, counts from 1,000,000.'),
    lines: z
      .array(
        z.object({
          stream: z.enum(['stdout', 'stderr']).describe('Which output the line came from.'),
          text: z.string().max(8192).describe('The line, without its newline.'),
          at: isoTime.describe('When the line was read.'),
        }),
      )
      .max(1000)
      .describe('The lines of this batch.'),
  }),
  routingTemplate: 'task.log.{app}.{env}.{host}',
  routingKey: (p) => `task.log.${seg(p.app)}.${seg(p.env)}.${seg(p.host)}`,
  example: { deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', host: 'web1', step: 'pre-deploy', seq: 0, lines: [{ stream: 'stdout', text: 'npm ci: 312 packages', at: exampleTime }] },
});

export const heartbeat = defineMessage({
  type: 'heartbeat',
  summary: 'Every daemon says it is alive on an interval; agents add what each app runs. keepalive listens.',
  payload: z.object({
    service: nameSchema.describe('The daemon, e.g. "deploy-agent".'),
    host: hostSchema.describe('The host it runs on.'),
    instance: z.string().min(1).max(128).describe('Distinguishes two daemons of one service on one host.'),
    version: z.string().max(64).describe('The daemon\'s version.'),
    uptimeMs: durationMs.describe('Time since the daemon started.'),
    intervalMs: z.number().int().positive().describe('Time until the next heartbeat; keepalive counts a daemon silent after a few of these.'),
    apps: z
      .array(
        z.object({
          app: deployRef.app,
          env: deployRef.env,
          release: release.optional().describe('The release `current` points at.'),
          ref: ref.optional().describe('The ref that release was made from.'),
          roles: z.array(nameSchema).max(100).optional().describe('Roles this host has for the app.'),
          prepared: z
            .array(sha)
            .max(20)
            .optional()
            .describe('Commits whose release tree this host has built ahead (after repo-updater fetched their green build): a deploy of one of them needs no checkout here.'),
        }),
      )
      .max(1000)
      .optional()
      .describe('Agents only: what each app runs on this host.'),
  }),
  routingTemplate: 'heartbeat.{service}.{host}',
  routingKey: (p) => `heartbeat.${seg(p.service)}.${seg(p.host)}`,
  example: { service: 'deploy-agent', host: 'web1', instance: 'web1-3121', version: '0.1.0', uptimeMs: 360000, intervalMs: 10000, apps: [{ app: 'shop', env: 'production', release: '20261122100012-v1.4.1', ref: 'v1.4.1', prepared: [exampleSha] }] },
});

export const presenceChanged = defineMessage({
  type: 'presence.changed',
  summary: 'keepalive saw a daemon appear, or stay silent past its timeout.',
  payload: z.object({
    service: nameSchema.describe('The daemon.'),
    host: hostSchema.describe('The host it runs on.'),
    instance: z.string().min(1).max(128).describe('The daemon instance, as in its heartbeat.'),
    state: z.enum(['up', 'down']).describe('"up": heartbeats arrive; "down": they stopped.'),
    lastSeen: isoTime.describe('Time of the last heartbeat.'),
    observer: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe('The keepalive instance that saw the change. Every keepalive instance reports what it sees, so a change may arrive once per instance: receivers treat presence as state, keyed by (service, host, instance), and drop repeats of the same (instance, state, lastSeen).'),
  }),
  routingTemplate: 'presence.changed.{service}.{host}',
  routingKey: (p) => `presence.changed.${seg(p.service)}.${seg(p.host)}`,
  example: { service: 'deploy-agent', host: 'web2', instance: 'web2-877', state: 'down', lastSeen: exampleTime, observer: 'ops1-4410-9c1f' },
});

export const rosterQuery = defineMessage({
  type: 'roster.query',
  summary: 'Asks every keepalive for its roster of daemons, narrowed by service and host when given. Sent with `replyTo`; each keepalive instance answers with a roster.reply.',
  payload: z.object({
    service: nameSchema.optional().describe('Only daemons of this service.'),
    host: hostSchema.optional().describe('Only daemons on this host.'),
  }),
  routingTemplate: 'roster.query',
  routingKey: () => 'roster.query',
  example: { service: 'deploy-agent' },
});

const rosterEntry = z.object({
  service: nameSchema.describe('The daemon.'),
  host: hostSchema.describe('The host it runs on.'),
  instance: z.string().min(1).max(128).describe('The daemon instance, as in its heartbeat.'),
  version: z.string().max(64).describe('The version its last heartbeat gave.'),
  state: z.enum(['up', 'down']).describe('"up": heartbeats arrive; "down": silent past its timeout, or replaced by a newer instance on the same host.'),
  firstSeen: isoTime.describe('Time of the first heartbeat this keepalive saw from the instance.'),
  lastSeen: isoTime.describe('Time of the last heartbeat.'),
  uptimeMs: durationMs.describe('The daemon\'s uptime as of its last heartbeat.'),
  intervalMs: z.number().int().positive().describe('Its heartbeat interval.'),
  apps: heartbeat.payload.shape.apps,
});

export const rosterReply = defineMessage({
  type: 'roster.reply',
  summary: 'A keepalive\'s answer to a roster.query, sent to the query\'s `replyTo` with its `correlationId`: every daemon it knows (down ones until their retention ends), sorted by service, host and instance.',
  payload: z.object({
    entries: z.array(rosterEntry).max(100_000).describe('The daemons, up and down.'),
    observer: z.string().min(1).max(128).describe('The keepalive instance answering.'),
    truncated: z.boolean().optional().describe('True when entries were left out to keep the reply under the body size limit; narrow the query.'),
  }),
  routingTemplate: 'roster.reply.{observer}',
  routingKey: (p) => `roster.reply.${seg(p.observer)}`,
  example: {
    entries: [
      { service: 'deploy-agent', host: 'web1', instance: 'web1-3121', version: '0.1.0', state: 'up', firstSeen: exampleTime, lastSeen: exampleTime, uptimeMs: 360000, intervalMs: 10000, apps: [{ app: 'shop', env: 'production', release: '20261122100012-v1.4.1', ref: 'v1.4.1' }] },
      { service: 'deploy-agent', host: 'web2', instance: 'web2-877', version: '0.1.0', state: 'down', firstSeen: exampleTime, lastSeen: exampleTime, uptimeMs: 120000, intervalMs: 10000 },
    ],
    observer: 'ops1-4410-9c1f',
  },
  sentAsReply: true,
});

const lockScope = {
  env: deployRef.env,
  app: deployRef.app.optional().describe('One app in the environment; absent: the whole environment.'),
};

export const lockRequested = defineMessage({
  type: 'lock.requested',
  summary: 'Locks or unlocks an environment (or one app in it). Sent with `replyTo`; one conductor (shared queue) answers with lock.state and publishes the same lock.state for everyone.',
  payload: z.object({
    ...lockScope,
    action: z.enum(['lock', 'unlock']).describe('What to do.'),
    by: person,
    reason: z.string().max(2048).optional().describe('Why, for people (shown to whoever is refused by the lock).'),
    force: z.boolean().default(false).describe('Unlock a lock someone else holds (admins only).'),
  }),
  routingTemplate: 'conductor.lock.requested.{env}',
  routingKey: (p) => `conductor.lock.requested.${seg(p.env)}`,
  example: { env: 'production', action: 'lock', by: 'bob', reason: 'incident 311' },
});

export const lockState = defineMessage({
  type: 'lock.state',
  summary: 'A lock changed, or was asked to: the conductor\'s answer to a lock.requested (to its `replyTo`, with its `correlationId`), also published on its routing key so UIs see lock changes.',
  payload: z.object({
    ...lockScope,
    locked: z.boolean().describe('Whether this environment (or app) is locked now.'),
    by: person.optional().describe('Who holds the lock, when locked.'),
    reason: z.string().max(2048).optional().describe('The lock\'s reason, when locked.'),
    since: isoTime.optional().describe('When the lock was taken, when locked.'),
    outcome: z
      .enum(['locked', 'already-locked', 'unlocked', 'not-locked', 'held-by-other', 'refused'])
      .describe('What the request did: `held-by-other` = someone else holds the lock (an admin may force); `refused` = not allowed, see `error`.'),
    requestedBy: person.optional().describe('Who asked.'),
    error: z.string().max(2048).optional().describe('Why the request was refused, for people.'),
  }),
  routingTemplate: 'conductor.lock.state.{env}',
  routingKey: (p) => `conductor.lock.state.${seg(p.env)}`,
  example: { env: 'production', locked: true, by: 'bob', reason: 'incident 311', since: exampleTime, outcome: 'locked', requestedBy: 'bob' },
  inEventLog: true,
});

export const deployCancelRequested = defineMessage({
  type: 'deploy.cancel-requested',
  summary: 'Asks to cancel a queued deployment, or a running rollout before its next batch. Every conductor sees it (private subscriptions); the one that can act answers on `replyTo` with deploy.cancel-result.',
  payload: z.object({ deploymentId, by: person, reason: z.string().min(1).max(2048).describe('Why, for people.') }),
  routingTemplate: 'conductor.deploy.cancel-requested',
  routingKey: () => 'conductor.deploy.cancel-requested',
  example: { deploymentId: 'd-7f3c2a10', by: 'ada', reason: 'wrong tag' },
});

export const deployCancelResult = defineMessage({
  type: 'deploy.cancel-result',
  summary:
    'The answer to a deploy.cancel-requested: `cancelled` (it was queued; deploy.cancelled published), `cancelling` (a running rollout stops before its next batch; deploy.cancelled follows when it ends, unless the batch in flight was its last or fails), `finishing` (too late: the rollout is rolling back after a failure, or its last batch is done; it ends as deploy.failed or deploy.succeeded without a cancel), `not-found`, `already-finished`.',
  payload: z.object({
    deploymentId,
    outcome: z.enum(['cancelled', 'cancelling', 'finishing', 'not-found', 'already-finished']).describe('What happened.'),
    state: z.string().max(32).optional().describe('The deployment\'s state in the ledger, when found.'),
  }),
  routingTemplate: 'conductor.deploy.cancel-result',
  routingKey: () => 'conductor.deploy.cancel-result',
  example: { deploymentId: 'd-7f3c2a10', outcome: 'cancelling', state: 'running' },
  sentAsReply: true,
});

export const stateQuery = defineMessage({
  type: 'state.query',
  summary: 'Asks the ledger (through any conductor, shared queue) for history, one deployment, releases, the release matrix, locks, the queue, a deployment\'s logs, the event log, or an app\'s tags. Fields are checked by the conductor, so a bad query is answered with a state.reply whose `error` names the field. Which fields each kind uses: history (app, env, offset, limit), deployment (deploymentId), releases (app, env, host, offset, limit), matrix (app, env: required), locks (env, app), queue (app, env, offset, limit), logs (deploymentId required, host, offset, limit, or tail = the last lines), events (after or afterId, limit, deploymentId, app, env, types: the ledger\'s event log oldest first as `{events: [{seq, id, type, time, deploymentId, app, env, payload}], cursor}`; pass `cursor` as the next `after`; `afterId` continues after the event with that id, for a client that saw a live event and knows only its message id; an id the ledger does not hold is an error naming afterId), tags (app required: `[{name, sha}]`, newest version first, from the app\'s repository).',
  payload: z.object({
    kind: z.string().min(1).max(64).describe('history, deployment, releases, matrix, locks, queue, logs, events or tags.'),
    app: z.string().max(255).optional().describe('Application name.'),
    env: z.string().max(255).optional().describe('Environment name.'),
    deploymentId: z.string().max(255).optional().describe('A deployment id (deployment, logs).'),
    host: z.string().max(255).optional().describe('Only this host (releases, logs).'),
    offset: z.number().optional().describe('Rows to skip (whole number, at most 100000).'),
    limit: z.number().optional().describe('Most rows to return: 1 to 1000, default 50.'),
    tail: z.number().optional().describe('logs: the last this many lines (1 to 1000) instead of offset/limit.'),
    after: z.number().optional().describe('events: the cursor (an event\'s seq) to continue after; 0 or absent: from the oldest kept.'),
    types: z.array(z.string().max(128)).max(32).optional().describe('events: exact types ("deploy.succeeded") or prefixes ("task.*"); absent: every type.'),
    afterId: z.string().max(255).optional().describe('events: continue after the event with this id (a message id, as live events carry); not with `after`. An id the ledger does not hold (not recorded yet, never recorded, or pruned) is an error naming afterId.'),
  }),
  routingTemplate: 'conductor.state.query.{kind}',
  routingKey: (p) => `conductor.state.query.${seg(p.kind)}`,
  example: { kind: 'history', app: 'shop', env: 'production', limit: 20 },
});

export const stateReply = defineMessage({
  type: 'state.reply',
  summary: 'A conductor\'s answer to a state.query, to its `replyTo` with its `correlationId`: the ledger\'s `result` (shaped per kind, see docs), or `error` naming the bad field.',
  payload: z.object({
    kind: z.string().max(64).describe('The kind asked for.'),
    result: z.unknown().optional().describe('The answer: a list (history, releases, locks, queue, logs) or an object (deployment with its hosts, matrix); null for a deployment that is not there.'),
    error: z.string().max(2048).optional().describe('Why the query was not answered, naming the field.'),
    truncated: z.boolean().optional().describe('True when rows were left out to stay under the body size limit; page with offset/limit.'),
  }),
  routingTemplate: 'conductor.state.reply',
  routingKey: () => 'conductor.state.reply',
  example: { kind: 'locks', result: [{ env: 'production', by: 'bob', reason: 'incident 311', at: exampleTime }] },
  sentAsReply: true,
});

const subscriptionView = z
  .object({
    id: z.string().max(128).describe('The subscription\'s id.'),
    url: z.string().max(2048).describe('Where events are POSTed.'),
    events: z.array(z.string().max(128)).max(32).describe('Event type patterns: exact ("deploy.succeeded"), a prefix ("deploy.*") or "*".'),
    app: z.string().max(255).optional().describe('Only events of this app.'),
    env: z.string().max(255).optional().describe('Only events of this environment.'),
    description: z.string().max(512).optional().describe('For people.'),
    createdBy: z.string().max(128).describe('Who made it.'),
    createdAt: isoTime.describe('When it was made.'),
    state: z.enum(['active', 'failing']).describe('`failing`: deliveries gave up after their retries; the backlog is kept and delivery resumes when the receiver answers again (probed now and then, or at once on `enable`).'),
    cursor: z.number().int().nonnegative().describe('The event log seq this subscription is done with.'),
    failures: z.number().int().nonnegative().describe('Deliveries given up on in a row.'),
    lastError: z.string().max(2048).optional().describe('The last delivery failure, for people.'),
  })
  .describe('A callback subscription as the notifier shows it (never with its secret).');

export const subscriptionRequested = defineMessage({
  type: 'subscription.requested',
  summary: 'Creates, lists, shows, deletes or re-enables HTTP callback subscriptions. Sent with `replyTo` to the notifier\'s shared queue; one notifier answers with subscription.state. Fields are checked by the notifier, so a bad request is answered with `outcome: refused` and `field` naming the bad field. create: url, events (required), app, env, secret (16 to 256 characters; generated and returned once when absent), description; get, delete, enable: id.',
  payload: z.object({
    action: z.string().min(1).max(32).describe('create, list, get, delete or enable.'),
    id: z.string().max(255).optional().describe('The subscription (get, delete, enable).'),
    url: z.string().max(4096).optional().describe('create: where to POST events; must be allowed by the notifier\'s destinations.'),
    events: z.array(z.string().max(255)).max(64).optional().describe('create: event type patterns, e.g. ["deploy.*", "task.completed"].'),
    app: z.string().max(255).optional().describe('create: only events of this app.'),
    env: z.string().max(255).optional().describe('create: only events of this environment.'),
    secret: z.string().max(1024).optional().describe('create: the HMAC-SHA256 signing secret; absent: the notifier makes one.'),
    description: z.string().max(1024).optional().describe('create: for people.'),
    by: person,
  }),
  routingTemplate: 'notifier.subscription.requested.{action}',
  routingKey: (p) => `notifier.subscription.requested.${seg(p.action)}`,
  example: { action: 'create', url: 'https://hooks.example.com/deploybus', events: ['deploy.*'], app: 'shop', env: 'production', by: 'ada' },
});

export const subscriptionState = defineMessage({
  type: 'subscription.state',
  summary: 'The notifier\'s answer to a subscription.requested (to its `replyTo`, with its `correlationId`); also published on its routing key when a subscription starts failing or recovers (`outcome` failing / recovered).',
  payload: z.object({
    outcome: z.enum(['created', 'listed', 'found', 'deleted', 'enabled', 'not-found', 'refused', 'unavailable', 'failing', 'recovered']).describe('What happened. `unavailable`: the notifier could not do it now (no conductor answered its event-log query); try again.'),
    subscription: subscriptionView.optional().describe('The subscription concerned.'),
    subscriptions: z.array(subscriptionView).optional().describe('list: every subscription, oldest first.'),
    secret: z.string().max(1024).optional().describe('created: the signing secret the notifier generated (shown this once).'),
    error: z.string().max(2048).optional().describe('refused: why, for people.'),
    field: z.string().max(128).optional().describe('refused: the request field at fault.'),
  }),
  routingTemplate: 'notifier.subscription.state',
  routingKey: () => 'notifier.subscription.state',
  example: { outcome: 'refused', error: 'url: 10.0.0.5 is a private address the notifier is not allowed to reach', field: 'url' },
  sentAsReply: true,
});

/** Every message type, in the order the docs list them. */
export const messageSpecs = [
  commitPushed,
  buildRequested,
  buildStarted,
  buildSucceeded,
  buildFailed,
  repoUpdated,
  packageUpdated,
  packageRefreshed,
  imagePushed,
  deployRequested,
  deployQueued,
  deployRefused,
  deployStarted,
  deployBatch,
  deployHostResult,
  deploySucceeded,
  deployFailed,
  deployCancelled,
  agentCommand,
  agentReply,
  messageRejected,
  taskStarted,
  taskCompleted,
  taskLog,
  heartbeat,
  presenceChanged,
  rosterQuery,
  rosterReply,
  lockRequested,
  lockState,
  deployCancelRequested,
  deployCancelResult,
  stateQuery,
  stateReply,
  subscriptionRequested,
  subscriptionState,
] as const;

type Spec = (typeof messageSpecs)[number];
export type MessageType = Spec['type'];
export type PayloadOf<T extends MessageType> = z.infer<Extract<Spec, { type: T }>['payload']>;
export type PayloadInputOf<T extends MessageType> = z.input<Extract<Spec, { type: T }>['payload']>;

export const messageSpecByType: ReadonlyMap<string, Spec> = new Map(messageSpecs.map((s) => [s.type, s]));

/** Whether the conductor keeps messages of `type` in the ledger's event log (so they can be replayed, and resumed after by id). */
export function isEventLogType(type: string): boolean {
  return messageSpecByType.get(type)?.inEventLog === true;
}
