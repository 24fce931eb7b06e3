// `deploybus deploy`, `rollback` and `cancel`: ask the API, then (unless --no-wait) follow the
// deployment live to its end. The exit code is the outcome: 0 succeeded, 1 failed, 2 refused,
// 3 cancelled (see EXIT), so a script can branch on it without reading the output.
import type { Command } from 'commander';
import type { DeploybusApi, QueuedDeploy } from './api-client.js';
import { apiClient, withApiOptions, type ApiFlags } from './api-options.js';
import { parseBatch, parseCanary, parseHostList, parseName, parseNonNegativeInt, parsePatternList, parseRef } from './cli-arguments.js';
import { CliError, EXIT } from './cli-errors.js';
import { printJson, printJsonLine, type CliIo } from './cli-io.js';
import { followDeployment } from './deploy-follow.js';
import { exitCodeOf, type DeployOutcome } from './deploy-progress.js';
import { shortSha } from './human-format.js';
import { LiveOutput } from './live-output.js';

interface FollowFlags extends ApiFlags {
  readonly wait: boolean;
  readonly verbose?: boolean;
}

interface DeployFlags extends FollowFlags {
  readonly env: string;
  readonly hosts?: string[];
  readonly pattern?: string[];
  readonly role?: string[];
  readonly batch?: number | string;
  readonly canary?: number;
  readonly pauseMs?: number;
  readonly force?: boolean;
}

const FOLLOW_HELP = `
The deploy is followed live until it ends: a progress bar (hosts done / total) on a terminal, one line
per host result, and with --verbose one line per step and the agents' output. Ctrl-C stops following,
not the deploy. With --json, each event is one JSON object per line, and the last line is
{"deploymentId", "outcome"}.

Exit status: 0 succeeded, 1 failed, 2 refused (locked, build not passed, no targets ...), 3 cancelled,
5 outcome unknown (the stream was lost), 64 bad usage, 65 the API named a bad field, 69 the API cannot be
reached, 77 no or wrong token.`;

export function registerDeployCommands(program: Command, io: CliIo): void {
  withApiOptions(
    program
      .command('deploy')
      .description('deploy APP at REF (a tag, branch or full commit id) to an environment, and follow it live.')
      .argument('<app>', 'application name', parseName)
      .argument('<ref>', 'what to deploy: a tag, branch or full commit id', parseRef)
      .requiredOption('-e, --env <env>', 'environment, e.g. production', parseName)
      .option('--hosts <hosts>', 'only these hosts (comma-separated; repeatable)', parseHostList)
      .option('--pattern <glob>', 'only hosts matching this glob, e.g. \'web*\' (comma-separated; repeatable)', parsePatternList)
      .option('--role <roles>', 'only hosts with one of these roles (comma-separated; repeatable)', (v: string, prev: string[] = []) => [...prev, ...v.split(',').map(parseName)])
      .option('--batch <size>', 'hosts per batch: a number, or a percentage of the targets like 25%', parseBatch)
      .option('--canary <n>', 'hosts deployed first, in a batch of their own', parseCanary)
      .option('--pause-ms <ms>', 'pause between batches, in milliseconds', parseNonNegativeInt)
      .option('--force', 'skip the lock and build gates (if your token may)')
      .option('--no-wait', 'return once the deploy is queued (prints its id)')
      .option('-v, --verbose', 'also show each step and the agents\' output'),
  )
    .addHelpText(
      'after',
      `${FOLLOW_HELP}

Examples:
  deploybus deploy shop v1.4.1 --env production
  deploybus deploy shop v1.4.1 --env production --pattern 'web*' --canary 1 --batch 25%
  deploybus deploy shop main --env staging --hosts web1,web2 --verbose
  id=$(deploybus deploy shop v1.4.1 --env production --no-wait --json | jq -r .deploymentId)`,
    )
    .action(async (app: string, ref: string, flags: DeployFlags) => {
      const api = apiClient(flags, io.env, io.cwd);
      const queued = await api.deploy({
        app,
        env: flags.env,
        ref,
        ...(flags.hosts ? { hosts: flags.hosts } : {}),
        ...(flags.pattern ? { patterns: flags.pattern } : {}),
        ...(flags.role ? { roles: flags.role } : {}),
        ...(flags.batch === undefined ? {} : { batchSize: flags.batch }),
        ...(flags.canary === undefined ? {} : { canary: flags.canary }),
        ...(flags.pauseMs === undefined ? {} : { pauseMs: flags.pauseMs }),
        ...(flags.force ? { force: true } : {}),
      });
      await afterQueued(api, queued, flags, io);
    });

  withApiOptions(
    program
      .command('rollback')
      .description('deploy again the ref of the last succeeded deployment before the current one, and follow it live.')
      .argument('<app>', 'application name', parseName)
      .requiredOption('-e, --env <env>', 'environment', parseName)
      .option('--no-wait', 'return once the rollback is queued')
      .option('-v, --verbose', 'also show each step and the agents\' output'),
  )
    .addHelpText('after', `${FOLLOW_HELP}\n\nExamples:\n  deploybus rollback shop --env production\n  deploybus rollback shop --env production --no-wait --json`)
    .action(async (app: string, flags: FollowFlags & { env: string }) => {
      const api = apiClient(flags, io.env, io.cwd);
      const queued = await api.rollback({ app, env: flags.env });
      await afterQueued(api, queued, flags, io);
    });

  withApiOptions(
    program
      .command('cancel')
      .description('cancel a queued deployment, or stop a running one before its next batch.')
      .argument('<deployment-id>', 'the deployment, as deploy, status or history show it'),
  )
    .addHelpText('after', '\nExamples:\n  deploybus cancel d-709902e161e54a4a617b384e\n\nExit status: 0 cancelled or cancelling, 2 it had already finished or is already ending (too late to cancel), 4 no such deployment.')
    .action(async (deploymentId: string, flags: ApiFlags) => {
      const result = await apiClient(flags, io.env, io.cwd).cancel(deploymentId);
      if (flags.json) printJson(io, result);
      const said: Record<string, string> = {
        cancelled: `cancelled ${result.deploymentId} (it had not started)`,
        cancelling: `cancelling ${result.deploymentId}: it stops before its next batch (the batch in flight finishes)`,
        'not-found': `no deployment ${result.deploymentId} is queued or running`,
        'already-finished': `${result.deploymentId} had already finished; nothing to cancel`,
      };
      if (!flags.json) io.stdout(`${said[result.result] ?? `${result.deploymentId}: ${result.result}`}\n`);
      if (result.result === 'not-found') throw new CliError('API_NOT_FOUND', said['not-found'] ?? 'not found', EXIT.notFound);
      if (result.result === 'already-finished') throw new CliError('DEPLOY_FAILED', said['already-finished'] ?? 'already finished', EXIT.failed);
    });
}

async function afterQueued(api: DeploybusApi, queued: QueuedDeploy, flags: FollowFlags, io: CliIo): Promise<void> {
  const json = flags.json === true;
  const headline = `${queued.deploymentId}: ${queued.app} ${queued.ref}${queued.sha ? ` (${shortSha(queued.sha)})` : ''} to ${queued.env}, ${queued.position === 0 ? 'starting now' : `queued behind ${queued.position}`}`;
  if (!flags.wait) {
    if (json) printJson(io, queued);
    else io.stdout(`${headline}\n`);
    return;
  }
  if (json) printJsonLine(io, queued);
  const output = new LiveOutput(io.stdout, io.stdoutIsTty === true && !json);
  if (!json) output.line(headline);
  const outcome = await followDeployment(api, queued.deploymentId, {
    verbose: flags.verbose === true,
    jsonLine: json ? (value) => printJsonLine(io, value) : undefined,
    output,
    columns: io.columns ?? 80,
    signal: io.signal,
  });
  endWith(queued.deploymentId, outcome);
}

/** A deploy that did not succeed ends the command with its own exit code and one sentence on stderr. */
function endWith(deploymentId: string, outcome: DeployOutcome): void {
  if (outcome.state === 'succeeded') return;
  const reason = outcome.reason ? `: ${outcome.reason}` : '';
  throw new CliError(outcome.state === 'failed' ? 'DEPLOY_FAILED' : 'DEPLOY_CANCELLED', `deployment ${deploymentId} ${outcome.state}${reason}`, exitCodeOf(outcome.state));
}
