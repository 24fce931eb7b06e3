// The conductor daemon: config, the ledger, and the DeployCoordinator on the bus.
import { GitClient } from '@deploybus/git';
import { hostSchema, nameSchema } from '@deploybus/protocol';
import { daemonConfigSchema, secretSchema, type DaemonDefinition } from '@deploybus/runtime';
import { openLedger } from '@deploybus/store';
import { z } from 'zod';
import { DeployCoordinator } from './deploy-coordinator.js';
import { githubBuildStatus } from './github-build-status.js';
import { remoteRefResolver } from './ref-resolver.js';
import { remoteTagLister } from './repo-tags.js';

/** Inside the directory the conductor's systemd unit may write (StateDirectory=deploybus/conductor). */
export const DEFAULT_LEDGER_URL = 'sqlite:/var/lib/deploybus/conductor/ledger.db';
export const DEFAULT_EVENT_RETENTION_MS = 7 * 86_400_000;

export const conductorConfigSchema = daemonConfigSchema({
  ledger: z.strictObject({ url: z.string().min(1).default(DEFAULT_LEDGER_URL) }).default({ url: DEFAULT_LEDGER_URL }),
  /** The Ed25519 key commands are signed with; agents trust its public half under `keyId`. */
  signing: z.strictObject({ keyId: z.string().min(1).max(128), privateKey: secretSchema }),
  roster: z.strictObject({
    /** The keepalive hosts asked with roster.query; the first complete answer wins. */
    keepaliveHosts: z.array(hostSchema).min(1),
    timeoutMs: z.number().int().min(50).max(600_000).default(5_000),
  }),
  commands: z.strictObject({ ttlMs: z.number().int().min(1_000).max(86_400_000).default(600_000) }).default({ ttlMs: 600_000 }),
  /** How long the lease of an app/env outlives a conductor that stopped renewing it. */
  leaseTtlMs: z.number().int().min(100).max(3_600_000).default(30_000),
  /** Requesters allowed to force a deploy past the lock and build gates. */
  admins: z.array(z.string().min(1).max(128)).default([]),
  /** Per app: the repository whose builds gate it (default: the repository named like the app), and the git URL tags and branches resolve against. */
  /** How long the event log (deploy.*, task.started/completed, lock.state) is kept for replay; default 7 days. */
  events: z.strictObject({ retentionMs: z.number().int().min(60_000).max(366 * 86_400_000).default(DEFAULT_EVENT_RETENTION_MS) }).default({ retentionMs: DEFAULT_EVENT_RETENTION_MS }),
  /** The build gate's second source: GitHub's combined commit status, for apps whose CI reports there. */
  githubStatus: z
    .strictObject({
      apiUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).default('https://api.github.com'),
      token: secretSchema,
      /** app -> "owner/repo". */
      repos: z.record(nameSchema, z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be "owner/repo"')),
      /** Contexts that must be "success" (default: every context but the ignored ones, and at least one). */
      requiredContexts: z.array(z.string().min(1).max(255)).min(1).optional(),
      ignoreContexts: z.array(z.string().min(1).max(255)).default(['deploybus/']),
      timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
    })
    .optional(),
  apps: z.record(nameSchema, z.strictObject({ buildRepo: nameSchema.optional(), repoUrl: z.string().min(1).optional() })).default({}),
});

export type ConductorConfig = z.output<typeof conductorConfigSchema>;

export const conductorDaemon: DaemonDefinition<typeof conductorConfigSchema> = {
  service: 'conductor',
  version: '0.1.0',
  configSchema: conductorConfigSchema,
  async start({ config, bus, logger, host, instance }) {
    const ledger = await openLedger(config.ledger.url);
    try {
      const applied = await ledger.migrate();
      if (applied.length > 0) logger.info({ migrations: applied }, 'ledger migrated');
      const repoUrls = new Map<string, string>();
      for (const [app, settings] of Object.entries(config.apps)) if (settings.repoUrl !== undefined) repoUrls.set(app, settings.repoUrl);
      const git = new GitClient();
      const coordinator = new DeployCoordinator({
        bus,
        ledger,
        logger,
        source: { service: 'conductor', host },
        instance,
        signing: { keyId: config.signing.keyId, privateKey: config.signing.privateKey.reveal() },
        roster: config.roster,
        commandTtlMs: config.commands.ttlMs,
        leaseTtlMs: config.leaseTtlMs,
        admins: config.admins,
        resolveRef: remoteRefResolver(repoUrls, git),
        listTags: remoteTagLister(repoUrls, git),
        hasRepository: (app) => repoUrls.has(app),
        buildRepoOf: (app) => config.apps[app]?.buildRepo ?? app,
        eventRetentionMs: config.events.retentionMs,
        ...(config.githubStatus === undefined
          ? {}
          : {
              buildStatusOf: githubBuildStatus({
                apiUrl: config.githubStatus.apiUrl,
                token: config.githubStatus.token.reveal(),
                repos: config.githubStatus.repos,
                requiredContexts: config.githubStatus.requiredContexts,
                ignoreContexts: config.githubStatus.ignoreContexts,
                timeoutMs: config.githubStatus.timeoutMs,
                onProblem: (app, sha, problem) => logger.warn({ app, sha, problem }, 'GitHub combined status not read; the build gate stays closed for it'),
              }),
            }),
      });
      await coordinator.start();
      logger.info({ ledger: config.ledger.url.startsWith('sqlite:') ? config.ledger.url : '(postgres)', replyTo: coordinator.replyAddress }, 'conductor ready');
      return {
        async stop() {
          await coordinator.stop();
          await ledger.close();
        },
      };
    } catch (error) {
      await ledger.close();
      throw error;
    }
  },
};
