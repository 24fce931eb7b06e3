// `deploybus logs` (a deployment's output, optionally followed live) and `deploybus tail` (live bus
// events, filtered by the server). Both read the SSE stream through the API client; `tail` reopens a
// dropped stream with the last SSE id it was sent as Last-Event-ID (a ledger seq, or a live event's
// message id, which the server looks up in the ledger), so the recorded events it missed come first,
// and runs until Ctrl-C.
import type { Command } from 'commander';
import { taskLog } from '@deploybus/protocol';
import { abortableSleep } from './abortable-sleep.js';
import type { BusEvent, DeploybusApi, LogLine } from './api-client.js';
import { apiClient, withApiOptions, type ApiFlags } from './api-options.js';
import { parseHost, parseLimit, parseName, parseNonNegativeInt, parseTypeList } from './cli-arguments.js';
import { ApiUnavailableError, ApiUnreachableError, CliError, EXIT } from './cli-errors.js';
import { printJson, printJsonLine, type CliIo } from './cli-io.js';
import { finalStateOf } from './deploy-progress.js';
import { describeEvent } from './event-lines.js';
import { formatTime, printable } from './human-format.js';

const TERMINAL = new Set(['deploy.succeeded', 'deploy.failed', 'deploy.cancelled']);

export function registerStreamCommands(program: Command, io: CliIo): void {
  withApiOptions(
    program
      .command('logs')
      .description('the output of a deployment\'s steps on its hosts.')
      .argument('<deployment-id>', 'the deployment, as deploy, status or history show it')
      .option('--host <host>', 'only this host', parseHost)
      .option('--tail <n>', 'only the last N lines (1 to 1000)', parseLimit)
      .option('--offset <n>', 'skip this many lines (paging; not with --tail)', parseNonNegativeInt)
      .option('--limit <n>', 'at most this many lines (1 to 1000; default 1000)', parseLimit)
      .option('-f, --follow', 'keep printing new lines until the deployment ends'),
  )
    .addHelpText('after', '\nExamples:\n  deploybus logs d-709902e161e54a4a617b384e\n  deploybus logs d-709902e161e54a4a617b384e --host web1 --tail 50\n  deploybus logs d-709902e161e54a4a617b384e --follow')
    .action(async (deploymentId: string, flags: ApiFlags & { host?: string; tail?: number; offset?: number; limit?: number; follow?: boolean }) => {
      if (flags.tail !== undefined && flags.offset !== undefined) throw new CliError('INVALID_INPUT', 'give --tail or --offset, not both', EXIT.usage);
      const api = apiClient(flags, io.env, io.cwd);
      const query = flags.tail !== undefined ? { host: flags.host, tail: flags.tail } : { host: flags.host, offset: flags.offset, limit: flags.limit ?? 1_000 };
      if (!flags.follow) {
        const { lines, cutTail } = await readLogs(api, deploymentId, query);
        // No lines and no such deployment: say so (exit 4), as --follow does, rather than print nothing.
        if (lines.length === 0) await api.deployment(deploymentId);
        if (cutTail) io.stderr(cutTailNotice(lines.length, query.tail));
        if (flags.json) return printJson(io, lines);
        for (const line of lines) io.stdout(`${logLine(line)}\n`);
        return;
      }
      await followLogs(api, deploymentId, query, flags, io);
    });

  withApiOptions(
    program
      .command('tail')
      .description('live events from the bus (deploys, steps, logs, presence, locks), filtered; runs until Ctrl-C.')
      .option('-t, --type <types>', 'only these types, exact or a prefix like \'deploy.*\' (comma-separated; repeatable)', parseTypeList)
      .option('--app <app>', 'only events of this application', parseName)
      .option('-e, --env <env>', 'only events of this environment', parseName)
      .option('--deployment <id>', 'only events of this deployment')
      .option('--after <seq>', 'first replay the recorded events after this ledger position (0: all)', parseNonNegativeInt),
  )
    .addHelpText('after', '\nExamples:\n  deploybus tail\n  deploybus tail --type \'deploy.*\' --env production\n  deploybus tail --type task.log --app shop --json | jq -r \'.payload.lines[].text\'')
    .action(async (flags: ApiFlags & { type?: string[]; app?: string; env?: string; deployment?: string; after?: number }) => {
      const api = apiClient(flags, io.env, io.cwd);
      // The server filters, live and replayed alike.
      const filter = { types: flags.type, deploymentId: flags.deployment, app: flags.app, env: flags.env };
      // The SSE id of the last event printed: the server's resume point (it carries over events the
      // ledger never records, so it always names one the server can find).
      let lastEventId: string | undefined;
      // Events already printed, by id: a reconnect's replay may overlap what the old stream sent last.
      const printed = new RecentIds(10_000);
      let failures = 0;
      const onReplayFailed = (problem: { message: string }): void => {
        io.stderr(`deploybus: the events missed while the stream was down could not be replayed (${problem.message}); going on with live events\n`);
      };
      for (;;) {
        try {
          const events = await api.openStream({ ...filter, after: lastEventId === undefined ? flags.after : undefined }, { signal: io.signal, lastEventId, onReplayFailed });
          if (failures > 0) io.stderr('deploybus: event stream back\n');
          failures = 0;
          for await (const event of events) {
            lastEventId = event.streamId ?? lastEventId;
            if (!printed.add(event.id)) continue;
            if (flags.json) printJsonLine(io, withoutStreamId(event));
            else io.stdout(`${printable(describeEvent(event))}\n`);
          }
        } catch (error) {
          if (io.signal?.aborted) return;
          if (!(error instanceof ApiUnreachableError) && !(error instanceof ApiUnavailableError)) throw error;
          failures += 1;
          if (failures > 8) throw error;
          io.stderr(`deploybus: ${error.message}; trying again\n`);
        }
        if (io.signal?.aborted) return;
        await abortableSleep(Math.min(5_000, 250 * 2 ** failures), io.signal);
      }
    });
}

/**
 * The lines asked for, over as many pages as it takes: one answer holds fewer lines than asked when
 * they are long (a bus message has a size limit), and the rest follow from offset + lines received.
 */
export async function readLogs(api: Pick<DeploybusApi, 'logs'>, deploymentId: string, query: Parameters<DeploybusApi['logs']>[1]): Promise<{ lines: LogLine[]; cutTail: boolean }> {
  // A tail that does not fit keeps its newest lines; the older ones cannot be asked for by a tail, so
  // the caller says how many came back (cutTail) and how to page to the rest.
  if (query.tail !== undefined) {
    const { lines, truncated } = await api.logs(deploymentId, query);
    return { lines, cutTail: truncated };
  }
  const wanted = query.limit ?? 1_000;
  const lines: LogLine[] = [];
  let offset = query.offset ?? 0;
  while (lines.length < wanted) {
    const page = (await api.logs(deploymentId, { ...query, offset, limit: wanted - lines.length })).lines;
    if (page.length === 0) break;
    lines.push(...page);
    offset += page.length;
  }
  return { lines, cutTail: false };
}

export function cutTailNotice(received: number, asked: number | undefined): string {
  return `deploybus: only the last ${received} of the ${asked ?? '?'} lines asked for fit in one answer (long lines); page through the whole log with --offset and --limit\n`;
}

async function followLogs(api: DeploybusApi, deploymentId: string, query: Parameters<DeploybusApi['logs']>[1], flags: ApiFlags & { host?: string }, io: CliIo): Promise<void> {
  const print = (line: LogLine): void => (flags.json ? printJsonLine(io, line) : io.stdout(`${logLine(line)}\n`));
  // Connect first, then read what is recorded: a line logged in between is in both, and printed once.
  const connection = new AbortController();
  const stop = (): void => connection.abort();
  io.signal?.addEventListener('abort', stop, { once: true });
  try {
    const events = await api.openStream({ deploymentId, types: ['task.log', 'deploy.*'] }, { signal: connection.signal });
    const [detail, recorded] = await Promise.all([api.deployment(deploymentId), readLogs(api, deploymentId, query)]);
    const printed = new Set<string>();
    if (recorded.cutTail) io.stderr(cutTailNotice(recorded.lines.length, query.tail));
    for (const line of recorded.lines) {
      printed.add(keyOf(line));
      print(line);
    }
    if (finalStateOf(detail.state) !== undefined) return;
    for await (const event of events) {
      if (TERMINAL.has(event.type)) return;
      for (const line of logLinesOf(event)) {
        if ((flags.host !== undefined && line.host.toLowerCase() !== flags.host.toLowerCase()) || printed.has(keyOf(line))) continue;
        printed.add(keyOf(line));
        print(line);
      }
    }
    if (!io.signal?.aborted) throw new CliError('OUTCOME_UNKNOWN', `the event stream ended before deployment ${deploymentId} did; run the command again to go on`, EXIT.outcomeUnknown);
  } finally {
    io.signal?.removeEventListener('abort', stop);
    connection.abort();
  }
}

/** A bounded set of the ids seen last: `add` is false for one already in it. */
export class RecentIds {
  readonly #ids = new Set<string>();
  constructor(private readonly max: number) {}

  add(id: string): boolean {
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    // A Set iterates in insertion order: the first is the oldest.
    if (this.#ids.size > this.max) for (const oldest of this.#ids) {
      this.#ids.delete(oldest);
      break;
    }
    return true;
  }
}

function logLinesOf(event: BusEvent): LogLine[] {
  if (event.type !== 'task.log') return [];
  const parsed = taskLog.payload.safeParse(event.payload);
  if (!parsed.success) return [];
  const p = parsed.data;
  return p.lines.map((l) => ({ host: p.host, seq: p.seq, at: l.at, stream: l.stream, line: l.text }));
}

function keyOf(line: LogLine): string {
  return `${line.host}\u0000${line.at}\u0000${line.line}`;
}

function logLine(line: LogLine): string {
  const marker = line.stream === 'stderr' ? '!' : '|';
  return printable(`${formatTime(line.at).slice(11) || line.at}  ${line.host} ${marker} ${line.line}`);
}

function withoutStreamId(event: BusEvent): unknown {
  const { streamId: _streamId, ...rest } = event;
  return rest;
}
