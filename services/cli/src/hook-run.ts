// `deploybus hook post-receive|post-commit`: turns what git tells a hook into commit.pushed events and
// gets them onto the bus without ever holding up or failing a push. The bus gets a short, fixed time
// budget; whatever cannot be sent in it goes to a DiskSpool, which every run drains first (and the
// git-watcher daemon drains too), so nothing is lost. Messages are built once and spooled as built,
// so a resend carries the same id. This function never throws.
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { connectBus, type Bus } from '@deploybus/bus';
import { createMessage, HOST_PATTERN, type Message } from '@deploybus/protocol';
import { GitClient, headInfo, parseHookInput, repoLayout, type RefUpdate, type RepoLayout } from '@deploybus/git';
import { DiskSpool, type Env } from '@deploybus/runtime';
import { loadCliConfig, type CliConfigView } from './cli-config.js';
import { chooseRepoName, commitPushedPayload, pusherFromEnv, ZERO_SHA, type HookOrigin } from './hook-events.js';

export const HOOK_SERVICE = 'git-hook';
const DEFAULT_BUDGET_MS = 3_000;

export interface HookRunOptions {
  readonly kind: HookOrigin;
  readonly cwd: string;
  readonly env: Env;
  /** The hook's stdin (post-receive); ignored by post-commit. */
  readonly input: string;
  readonly repo?: string | undefined;
  readonly busUrl?: string | undefined;
  readonly spoolDir?: string | undefined;
  readonly configFile?: string | undefined;
  /** One line per call, for the person pushing (git shows a hook's stderr as "remote: ..."). */
  readonly report: (line: string) => void;
  /** Time the bus gets, connect included (default 3 s). */
  readonly budgetMs?: number;
  readonly git?: GitClient;
  readonly host?: string;
}

export interface HookRunResult {
  readonly published: number;
  readonly spooled: number;
  /** Messages sent from the spool that earlier runs left. */
  readonly drained: number;
  /** Input lines or refs skipped, each reported with its reason. */
  readonly skipped: number;
  readonly spoolDir: string | undefined;
}

/** The machine's name as a valid host name for a message source. */
export function safeHostName(raw: string = hostname()): string {
  const cleaned = raw.replace(/[^A-Za-z0-9.-]/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 253);
  return HOST_PATTERN.test(cleaned) ? cleaned : 'localhost';
}

export async function runHook(options: HookRunOptions): Promise<HookRunResult> {
  const say = (line: string): void => options.report(`deploybus: ${line}`);
  const result = { published: 0, spooled: 0, drained: 0, skipped: 0, spoolDir: undefined as string | undefined };
  const startedAt = Date.now();
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const host = options.host ?? safeHostName();

  const gitEnvDir = options.env['GIT_DIR'];
  let layout: RepoLayout;
  try {
    layout = await repoLayout(gitEnvDir ? resolve(options.cwd, gitEnvDir) : options.cwd);
  } catch (error) {
    say(`not inside a git repository (${firstLine(error)}); nothing published`);
    return result;
  }

  let config: CliConfigView = { busUrl: undefined, repo: undefined, spoolDir: undefined };
  let configProblem: string | undefined;
  try {
    config = loadCliConfig(options.configFile, options.env);
  } catch (error) {
    configProblem = firstLine(error);
    say(`${configProblem}; the bus URL from it is unknown, so events are spooled`);
  }
  const spoolDir = resolve(options.cwd, options.spoolDir ?? (options.env['DEPLOYBUS_SPOOL_DIR'] || undefined) ?? config.spoolDir ?? join(layout.gitDir, 'deploybus-spool'));
  result.spoolDir = spoolDir;
  const spool = new DiskSpool(spoolDir);

  const name = chooseRepoName(options.repo, config.repo, layout.gitDir);
  if (!name.ok) {
    say(`${name.reason}; nothing published`);
    return result;
  }

  const updates = await refUpdates(options, layout, (line) => {
    result.skipped += 1;
    say(line);
  });
  const git = options.git ?? new GitClient({ timeoutMs: 30_000 });
  const pusher = pusherFromEnv(options.env);
  const messages: Message[] = [];
  for (const update of updates) {
    let commits: Awaited<ReturnType<GitClient['commitsBetween']>> = [];
    try {
      commits = await git.commitsBetween(layout.gitDir, update.before, update.after);
    } catch (error) {
      say(`could not list the commits of ${update.ref} (${firstLine(error)}); sending its event without them`);
    }
    try {
      const payload = commitPushedPayload({ repo: name.name, update, commits, pusher, origin: options.kind });
      messages.push(createMessage('commit.pushed', payload, { source: { service: HOOK_SERVICE, host } }));
    } catch (error) {
      result.skipped += 1;
      say(`skipped ${update.ref}: ${firstLine(error)}`);
    }
  }

  const busUrl = options.busUrl ?? config.busUrl;
  let bus: Bus | undefined;
  let unreachable: string | undefined;
  if (busUrl === undefined) unreachable = configProblem === undefined ? 'no bus configured (set DEPLOYBUS_BUS_URL, --bus-url or a --config file)' : 'the config is invalid';
  else {
    try {
      const left = Math.max(500, budgetMs - (Date.now() - startedAt));
      bus = await connectBus(busUrl, {
        service: HOOK_SERVICE,
        host,
        logger: pino({ level: 'silent' }),
        connectTimeoutMs: left,
        publishTimeoutMs: left,
        reconnect: { initialMs: 100, maxMs: 500 },
      });
    } catch (error) {
      unreachable = `bus unreachable (${firstLine(error)})`;
    }
  }

  let pending = messages;
  if (bus !== undefined) {
    const connected = bus;
    try {
      const drain = await spool.drain((m) => connected.publish(m));
      result.drained = drain.sent;
      if (drain.sent > 0) say(`sent ${drain.sent} spooled event(s) left by an earlier run`);
      if (drain.rejected > 0) say(`${drain.rejected} spooled file(s) in ${spoolDir} do not hold a valid message; moved aside as *.bad`);
    } catch (error) {
      say(`could not drain the spool ${spoolDir} (${firstLine(error)})`);
    }
    for (const [index, message] of messages.entries()) {
      try {
        await connected.publish(message);
        result.published += 1;
      } catch (error) {
        unreachable = `publish failed (${firstLine(error)})`;
        pending = messages.slice(index);
        break;
      }
      pending = messages.slice(index + 1);
    }
    await Promise.race([connected.close().catch(() => undefined), new Promise((r) => setTimeout(r, 1_000).unref())]);
  }

  if (pending.length > 0) {
    for (const message of pending) {
      try {
        await spool.put(message);
        result.spooled += 1;
      } catch (error) {
        say(`could not spool the event for ${refOf(message)} (${firstLine(error)}); it is lost`);
      }
    }
    say(`${unreachable ?? 'bus unavailable'}; spooled ${result.spooled} event(s) in ${spoolDir}; they are sent by the next hook run or git-watcher's spool drain`);
  } else if (result.published > 0) {
    say(`published ${result.published} commit.pushed event(s) for ${name.name}`);
  }
  return result;
}

async function refUpdates(options: HookRunOptions, layout: RepoLayout, skip: (line: string) => void): Promise<RefUpdate[]> {
  if (options.kind === 'post-receive') {
    const parsed = parseHookInput(options.input);
    for (const problem of parsed.problems) skip(`skipped input line ${problem.line} ${JSON.stringify(problem.text.slice(0, 100))}: ${problem.reason}`);
    return [...parsed.updates];
  }
  const head = await headInfo(layout.workTree ?? layout.gitDir);
  if (head.sha === undefined) {
    skip('HEAD has no commit yet; nothing to publish');
    return [];
  }
  if (head.ref === undefined) {
    skip('HEAD is detached; a commit on no branch is not published');
    return [];
  }
  const parsed = parseHookInput(`${head.parent ?? ZERO_SHA} ${head.sha} ${head.ref}\n`);
  for (const problem of parsed.problems) skip(`skipped ${head.ref}: ${problem.reason}`);
  return [...parsed.updates];
}

function refOf(message: Message): string {
  return message.type === 'commit.pushed' ? message.payload.ref : message.type;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]?.slice(0, 300) ?? '';
}
