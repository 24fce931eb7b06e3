// `deploybus status`, `history`, `roster`, `lock` and `unlock`: one API call or a few, rendered as
// aligned columns for people or passed through as one JSON document with --json.
import type { Command } from 'commander';
import type { DeploybusApi, DeploymentSummary, Lock, ReleaseMatrix } from './api-client.js';
import { apiClient, withApiOptions, type ApiFlags } from './api-options.js';
import { parseLimit, parseName, parseNonNegativeInt } from './cli-arguments.js';
import { CliError, EXIT } from './cli-errors.js';
import { printJson, type CliIo } from './cli-io.js';
import { formatDuration, formatTime, renderTable, shortSha } from './human-format.js';

export function registerStateCommands(program: Command, io: CliIo): void {
  withApiOptions(
    program
      .command('status')
      .description('what is running and queued, the locks, and which release runs on which host (the release matrix).')
      .argument('[app]', 'only this application', parseName)
      .option('-e, --env <env>', 'only this environment', parseName),
  )
    .addHelpText('after', '\nExamples:\n  deploybus status\n  deploybus status shop --env production\n  deploybus status --json | jq \'.queue[].deploymentId\'')
    .action(async (app: string | undefined, flags: ApiFlags & { env?: string }) => {
      const api = apiClient(flags, io.env, io.cwd);
      const [queue, locks, matrices] = await Promise.all([api.queue({ app, env: flags.env }), api.locks({ env: flags.env, app }), matricesOf(api, app, flags.env)]);
      if (flags.json) return printJson(io, { queue, locks, matrices });
      io.stdout(renderStatus(queue, locks, matrices, { app, env: flags.env }));
    });

  withApiOptions(
    program
      .command('history')
      .description('past deployments, newest first: who, what, when, result, duration.')
      .argument('[app]', 'only this application', parseName)
      .option('-e, --env <env>', 'only this environment', parseName)
      .option('-n, --limit <n>', 'at most this many (1 to 1000; default 20)', parseLimit)
      .option('--offset <n>', 'skip this many newest first (for paging)', parseNonNegativeInt),
  )
    .addHelpText('after', '\nExamples:\n  deploybus history\n  deploybus history shop --env production --limit 5\n  deploybus history --json | jq -r \'.[] | select(.state == "failed") | .deploymentId\'')
    .action(async (app: string | undefined, flags: ApiFlags & { env?: string; limit?: number; offset?: number }) => {
      const rows = await apiClient(flags, io.env, io.cwd).history({ app, env: flags.env, limit: flags.limit ?? 20, offset: flags.offset });
      if (flags.json) return printJson(io, rows);
      io.stdout(rows.length === 0 ? 'no deployments yet\n' : renderHistory(rows));
    });

  withApiOptions(program.command('roster').description('every daemon keepalive knows: service, host, up or down, version, last heartbeat, and what each agent runs.'))
    .addHelpText('after', '\nExamples:\n  deploybus roster\n  deploybus roster --json | jq -r \'.[] | select(.state == "down") | .host\'')
    .action(async (flags: ApiFlags) => {
      const rows = await apiClient(flags, io.env, io.cwd).roster();
      if (flags.json) return printJson(io, rows);
      if (rows.length === 0) return io.stdout('no daemons known (is keepalive running?)\n');
      io.stdout(
        renderTable(
          ['SERVICE', 'HOST', 'STATE', 'VERSION', 'LAST SEEN', 'RUNS'],
          rows.map((r) => [r.service, r.host, r.state, r.version ?? '-', formatTime(r.lastSeen), (r.apps ?? []).map((a) => `${a.app}/${a.env}${a.ref ?? a.release ? `@${a.ref ?? a.release}` : ''}`).join(' ') || '-']),
        ),
      );
    });

  withApiOptions(
    program
      .command('lock')
      .description('lock an environment (or one app in it): deploys to it are refused until it is unlocked.')
      .argument('<env>', 'environment', parseName)
      .option('--app <app>', 'lock only this application in the environment', parseName)
      .requiredOption('-r, --reason <text>', 'why, for the people whose deploys are refused')
      .option('--force', 'take the lock over from whoever holds it (if your token may)'),
  )
    .addHelpText('after', '\nExamples:\n  deploybus lock production --reason "release freeze until Monday"\n  deploybus lock staging --app shop --reason "load test running"')
    .action(async (env: string, flags: ApiFlags & { app?: string; reason: string; force?: boolean }) => {
      if (flags.reason.trim() === '') throw new CliError('INVALID_INPUT', '--reason must say why', EXIT.usage);
      const result = await apiClient(flags, io.env, io.cwd).lock({ env, app: flags.app, reason: flags.reason, ...(flags.force ? { force: true } : {}) });
      if (flags.json) return printJson(io, result);
      io.stdout(`locked ${flags.app === undefined ? env : `${flags.app} in ${env}`}: ${flags.reason}\n`);
    });

  withApiOptions(
    program
      .command('unlock')
      .description('unlock an environment (or one app in it).')
      .argument('<env>', 'environment', parseName)
      .option('--app <app>', 'unlock only this application\'s lock', parseName)
      .option('--force', 'unlock a lock someone else holds (if your token may)'),
  )
    .addHelpText('after', '\nExamples:\n  deploybus unlock production\n  deploybus unlock staging --app shop\n\nExit status: 0 unlocked, 2 someone else holds it, 4 it was not locked.')
    .action(async (env: string, flags: ApiFlags & { app?: string; force?: boolean }) => {
      const result = await apiClient(flags, io.env, io.cwd).unlock(env, flags.app, flags.force === true);
      if (flags.json) return printJson(io, result ?? null);
      io.stdout(`unlocked ${flags.app === undefined ? env : `${flags.app} in ${env}`}\n`);
    });
}

/** Matrices of one app and env, of every env of one app, or of every app and env the roster knows. */
async function matricesOf(api: DeploybusApi, app: string | undefined, env: string | undefined): Promise<ReleaseMatrix[]> {
  if (app !== undefined && env !== undefined) return [await api.matrix({ app, env })];
  const apps = await api.apps();
  const pairs = apps.filter((a) => app === undefined || a.app === app).flatMap((a) => a.envs.filter((e) => env === undefined || e === env).map((e) => ({ app: a.app, env: e })));
  return Promise.all(pairs.map((pair) => api.matrix(pair)));
}

export function renderStatus(queue: readonly DeploymentSummary[], locks: readonly Lock[], matrices: readonly ReleaseMatrix[], scope: { app?: string | undefined; env?: string | undefined } = {}): string {
  const parts: string[] = [];
  parts.push(
    queue.length === 0
      ? 'Running and queued: none\n'
      : `Running and queued:\n${indent(renderTable(['ID', 'APP', 'ENV', 'REF', 'STATE', 'BY', 'SINCE'], queue.map((d) => [d.deploymentId, d.app, d.env, d.ref, d.state, d.requestedBy ?? '-', formatTime(d.startedAt ?? d.requestedAt)])))}`,
  );
  parts.push(
    locks.length === 0
      ? 'Locks: none\n'
      : `Locks:\n${indent(renderTable(['ENV', 'APP', 'BY', 'SINCE', 'REASON'], locks.map((l) => [l.env, l.app ?? '(all)', l.by, formatTime(l.at ?? l.since), l.reason])))}`,
  );
  if (matrices.length === 0) {
    const what = scope.app === undefined ? `any application${scope.env === undefined ? '' : ` in ${scope.env}`}` : `${scope.app}${scope.env === undefined ? '' : ` in ${scope.env}`}`;
    parts.push(`Releases: no agent reports serving ${what}\n`);
  }
  for (const m of matrices) {
    const head = `Releases of ${m.app} in ${m.env}${m.lastDeployedRef ? `, last deployed ${m.lastDeployedRef}` : ''}${m.commonRef ? `, most hosts on ${m.commonRef}` : ''}:`;
    if (m.hosts.length === 0) {
      parts.push(`${head} none recorded\n`);
      continue;
    }
    const mixed = new Set(m.hosts.map((h) => h.ref ?? '')).size > 1;
    const rows = m.hosts.map((h) => [h.host, h.ref ?? '-', shortSha(h.sha), h.release ?? '-', formatTime(h.at), [h.drift ? 'DRIFT' : '', h.differsFromCommon ? 'differs' : ''].filter(Boolean).join(' ')]);
    parts.push(`${head}${mixed ? ' (MIXED versions)' : ''}\n${indent(renderTable(['HOST', 'REF', 'SHA', 'RELEASE', 'SINCE', 'FLAGS'], rows))}`);
  }
  return parts.join('\n');
}

export function renderHistory(rows: readonly DeploymentSummary[]): string {
  return renderTable(
    ['ID', 'APP', 'ENV', 'REF', 'STATE', 'BY', 'REQUESTED', 'DURATION', 'REASON'],
    rows.map((d) => [d.deploymentId, d.app, d.env, d.ref, d.state, d.requestedBy ?? '-', formatTime(d.requestedAt), formatDuration(d.durationMs ?? durationOf(d)), d.reason ?? '']),
  );
}

function durationOf(d: DeploymentSummary): number | undefined {
  if (d.startedAt === undefined || d.finishedAt === undefined) return undefined;
  const ms = Date.parse(d.finishedAt) - Date.parse(d.startedAt);
  return Number.isFinite(ms) ? ms : undefined;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : `  ${line}`))
    .join('\n');
}
