// deploy-agent's config: where mirrors and state live, which keys may sign commands, and per app
// the repository, deploy root, hooks, health check, releases kept and operator-defined actions.
// Checked once at start: a bad URL, a relative path or a duplicate name stops the daemon naming the key.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import { z } from 'zod';
import { assertRepoUrl, DEFAULT_ALLOWED_PROTOCOLS, GitInputError } from '@deploybus/git';
import { nameSchema } from '@deploybus/protocol';
import { daemonConfigSchema } from '@deploybus/runtime';

const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((path) => isAbsolute(path), 'must be an absolute path');

/** A program and its arguments, run without a shell. */
const argv = z.array(z.string().min(1).max(4096)).min(1).max(200);

const hookSchema = z.strictObject({
  command: argv,
  timeoutMs: z.number().int().min(100).max(3_600_000).default(300_000),
});
/** A hook: an argument list, or { command, timeoutMs }. */
const hook = z.union([argv.transform((command) => ({ command, timeoutMs: 300_000 })), hookSchema]);

export const HOOK_NAMES = ['preDeploy', 'preLink', 'restart', 'postDeploy'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

const healthTiming = {
  timeoutMs: z.number().int().min(50).max(600_000).default(5_000),
  /** Tries after the first failed one. */
  retries: z.number().int().min(0).max(100).default(3),
  intervalMs: z.number().int().min(0).max(600_000).default(1_000),
};
// One strict object per kind, so a misspelt key is an error rather than silently dropped.
const healthCheckSchema = z.union([
  z.strictObject({ http: z.url({ protocol: /^https?$/ }), ...healthTiming }),
  z.strictObject({ tcp: z.strictObject({ host: z.string().min(1).max(253), port: z.number().int().min(1).max(65_535) }), ...healthTiming }),
  z.strictObject({ command: argv, ...healthTiming }),
]);

const PARAM_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const paramSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('string'),
    /** Anchored: the whole value must match. */
    pattern: z
      .string()
      .min(1)
      .max(1024)
      .refine((source) => {
        try {
          new RegExp(source, 'u');
          return true;
        } catch {
          return false;
        }
      }, 'must be a valid regular expression'),
  }),
  z
    .strictObject({ type: z.literal('integer'), min: z.number().int().optional(), max: z.number().int().optional() })
    .refine((spec) => spec.min === undefined || spec.max === undefined || spec.min <= spec.max, { message: 'min must not be above max (no value would pass)', path: ['min'] }),
  z.strictObject({ type: z.literal('boolean') }),
]);
export type ParamSpec = z.output<typeof paramSchema>;

const actionSchema = z
  .strictObject({
    name: nameSchema,
    /** `{param}` as a whole argument is replaced by that parameter's value; nothing else is substituted. */
    command: argv,
    params: z.record(z.string().regex(PARAM_NAME, 'parameter names are letters, digits and _'), paramSchema).default({}),
    timeoutMs: z.number().int().min(100).max(3_600_000).default(300_000),
  })
  .superRefine((action, ctx) => {
    action.command.forEach((arg, index) => {
      const placeholder = /^\{([A-Za-z][A-Za-z0-9_]{0,63})\}$/.exec(arg);
      if (placeholder && !(placeholder[1]! in action.params)) ctx.addIssue({ code: 'custom', path: ['command', index], message: `placeholder ${arg} names no declared parameter` });
      else if (!placeholder && /\{[A-Za-z][A-Za-z0-9_]*\}/.test(arg)) ctx.addIssue({ code: 'custom', path: ['command', index], message: 'a placeholder must be a whole argument, e.g. "{name}"' });
    });
  });

const appSchema = z.strictObject({
  name: nameSchema,
  env: nameSchema,
  /** Repository name: the mirror is `<mirrorsDir>/<repo>.git`, shared with repo-updater. */
  repo: nameSchema,
  /** Where the mirror is cloned from when it is missing; checked against `allowedProtocols`. */
  url: z.string().min(1).max(2048),
  deployRoot: absolutePath,
  strategy: z.literal('git-release').default('git-release'),
  hooks: z
    .strictObject({ preDeploy: hook.optional(), preLink: hook.optional(), restart: hook.optional(), postDeploy: hook.optional() })
    .default({}),
  healthCheck: healthCheckSchema.optional(),
  keepReleases: z.number().int().min(2).max(1000).default(5),
  /**
   * Old releases are removed this long after a deploy, once the app has had no command meanwhile:
   * deleting a big tree (node_modules) takes seconds nobody should wait for, and on a busy server it
   * competes with the next deploy. 0: right after the reply. More than keepReleases + 5 releases are
   * removed at once whatever this says, so a burst of deploys cannot fill the disk.
   */
  pruneDelayMs: z.number().int().min(0).max(3_600_000).default(10_000),
  /**
   * Release trees built ahead of a deploy, kept at most: when repo-updater on this server fetched a
   * green build of `repo` (repo.updated naming it), the agent exports its tree at once, and a deploy
   * of that commit only moves it into place. 0 turns preparing off.
   */
  preparedReleases: z.number().int().min(0).max(20).default(2),
  roles: z.array(nameSchema).max(100).optional(),
  actions: z.array(actionSchema).max(1000).default([]),
});

const trustedKeySchema = z.strictObject({
  keyId: z.string().min(1).max(128),
  /** PEM text (SPKI), or { file } holding it. */
  publicKey: z.union([z.string().min(1), z.strictObject({ file: absolutePath })]),
});

export const deployAgentConfigSchema = daemonConfigSchema({
  mirrorsDir: absolutePath.default('/var/lib/deploybus/mirrors'),
  /** Executed command ids are kept here, so a replay is refused after a restart too. */
  stateDir: absolutePath.default('/var/lib/deploybus/deploy-agent'),
  allowedProtocols: z
    .array(z.enum(['https', 'http', 'ssh', 'git', 'file']))
    .min(1)
    .default([...DEFAULT_ALLOWED_PROTOCOLS]),
  trustedKeys: z.array(trustedKeySchema).max(100).default([]),
  /** A command whose expiresAt lies further ahead than this is refused (bounds how long ids must be kept). */
  commandMaxAgeMs: z.number().int().min(1_000).max(86_400_000).default(600_000),
  /**
   * How far the conductor's clock may run ahead of this agent's: a command may claim an expiresAt up
   * to commandMaxAgeMs + this far ahead. Without it, a conductor whose clock is a few ms ahead, with
   * commands.ttlMs equal to commandMaxAgeMs (both default to 10 minutes), had every command refused.
   */
  maxClockSkewMs: z.number().int().min(0).max(3_600_000).default(60_000),
  /** Batches of hook output: sent when this old or this many lines. */
  logBatchMs: z.number().int().min(10).max(60_000).default(250),
  logBatchLines: z.number().int().min(1).max(1000).default(200),
  apps: z.array(appSchema).max(1000).default([]),
}).superRefine((config, ctx) => {
  const seen = new Set<string>();
  config.apps.forEach((app, index) => {
    if (seen.has(app.name)) ctx.addIssue({ code: 'custom', path: ['apps', index, 'name'], message: `app "${app.name}" is configured twice` });
    seen.add(app.name);
    try {
      assertRepoUrl(app.url, config.allowedProtocols);
    } catch (error) {
      if (!(error instanceof GitInputError)) throw error;
      ctx.addIssue({ code: 'custom', path: ['apps', index, 'url'], message: error.message });
    }
    const actions = new Set<string>();
    app.actions.forEach((action, a) => {
      if (actions.has(action.name)) ctx.addIssue({ code: 'custom', path: ['apps', index, 'actions', a, 'name'], message: `action "${action.name}" is configured twice` });
      actions.add(action.name);
    });
  });
  // Two apps in one deploy root (or one inside another, or inside the agent's own dirs) would switch and
  // prune each other's releases.
  const roots = config.apps.map((app) => ({ path: resolve(app.deployRoot), what: `app "${app.name}"` }));
  const own = [
    { path: resolve(config.stateDir), what: 'stateDir' },
    { path: resolve(config.mirrorsDir), what: 'mirrorsDir' },
  ];
  const inside = (a: string, b: string): boolean => a === b || a.startsWith(`${b}${sep}`) || b.startsWith(`${a}${sep}`);
  roots.forEach((root, index) => {
    for (const other of [...roots.slice(0, index), ...own]) {
      if (inside(root.path, other.path)) ctx.addIssue({ code: 'custom', path: ['apps', index, 'deployRoot'], message: `${root.path} overlaps the directory of ${other.what} (${other.path}); each app needs a deploy root of its own` });
    }
  });
  const keys = new Set<string>();
  config.trustedKeys.forEach((key, index) => {
    if (keys.has(key.keyId)) ctx.addIssue({ code: 'custom', path: ['trustedKeys', index, 'keyId'], message: `key "${key.keyId}" is configured twice` });
    keys.add(key.keyId);
  });
});

export type DeployAgentConfig = z.output<typeof deployAgentConfigSchema>;
export type AppConfig = DeployAgentConfig['apps'][number];
export type ActionConfig = AppConfig['actions'][number];
export type HealthCheckConfig = NonNullable<AppConfig['healthCheck']>;
export type HookConfig = NonNullable<AppConfig['hooks'][HookName]>;

/** The trusted public keys as PEM text by key id, files read now. */
export function loadTrustedKeys(keys: DeployAgentConfig['trustedKeys']): Map<string, string> {
  return new Map(
    keys.map((key) => {
      if (typeof key.publicKey === 'string') return [key.keyId, key.publicKey];
      try {
        return [key.keyId, readFileSync(key.publicKey.file, 'utf8')];
      } catch (error) {
        throw new Error(`the public key file of key "${key.keyId}", ${key.publicKey.file}, cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
      }
    }),
  );
}
