// Following one deployment: its events in, lines for people and the outcome out. Pure, so what a
// person sees for each event, and which events end the deployment, are tested without a server.
// Payloads are read with the protocol's own schemas; an event that does not fit is skipped, not fatal.
import {
  deployBatch,
  deployCancelled,
  deployFailed,
  deployHostResult,
  deployQueued,
  deployStarted,
  deploySucceeded,
  taskCompleted,
  taskLog,
  taskStarted,
} from '@deploybus/protocol';
import { EXIT } from './cli-errors.js';
import { formatDuration, printable, shortSha } from './human-format.js';

export type FinalState = 'succeeded' | 'failed' | 'cancelled';

export interface DeployOutcome {
  readonly state: FinalState;
  readonly reason: string | undefined;
  readonly succeededHosts: readonly string[];
  readonly failedHosts: readonly string[];
  readonly durationMs: number | undefined;
}

export interface ProgressEvent {
  readonly id: string;
  readonly type: string;
  readonly payload: unknown;
}

export interface ProgressStep {
  /** The event is this deployment's and new (not a repeat): machine output shows it. */
  readonly fresh: boolean;
  /** Lines for people, without newlines. */
  readonly lines: readonly string[];
  /** Set once the deployment has ended. */
  readonly outcome?: DeployOutcome;
}

/** `web1  succeeded  20261122100012-v1.4.1  2.1 s` or `web2  failed  health-check failed`: a host's result, from an event or the record. */
export function hostLine(result: { host: string; outcome: string; release?: string | undefined; durationMs?: number | undefined; error?: string | undefined }): string {
  const detail = [result.release, result.durationMs === undefined ? undefined : formatDuration(result.durationMs), result.error].filter((x) => x !== undefined);
  return `${result.host}  ${result.outcome}${detail.map((x) => `  ${x}`).join('')}`;
}

export function exitCodeOf(state: FinalState): number {
  return state === 'succeeded' ? EXIT.ok : state === 'failed' ? EXIT.failed : EXIT.cancelled;
}

/** A finished ledger state (history, GET /api/deploys/:id) as an outcome state; undefined while unfinished. */
export function finalStateOf(state: string): FinalState | undefined {
  if (state === 'succeeded' || state === 'failed' || state === 'cancelled') return state;
  if (state === 'superseded') return 'cancelled';
  return undefined;
}

export class DeployProgress {
  #total = 0;
  readonly #done = new Set<string>();
  readonly #seen = new Set<string>();
  #outcome: DeployOutcome | undefined;

  constructor(
    readonly deploymentId: string,
    private readonly options: { readonly verbose: boolean },
  ) {}

  /** Target hosts (0 until deploy.started). */
  get total(): number {
    return this.#total;
  }

  /** Hosts with a result. */
  get done(): number {
    return this.#done.size;
  }

  /** Hosts whose result was shown. */
  get reportedHosts(): readonly string[] {
    return [...this.#done];
  }

  get outcome(): DeployOutcome | undefined {
    return this.#outcome;
  }

  /** Feeds one event; events of other deployments and repeats (same id: replay and live overlap) give nothing. */
  apply(event: ProgressEvent): ProgressStep {
    if (this.#seen.has(event.id)) return { fresh: false, lines: [] };
    const lines = this.#lines(event);
    if (lines === undefined) return { fresh: false, lines: [] };
    this.#seen.add(event.id);
    return this.#outcome === undefined ? { fresh: true, lines } : { fresh: true, lines, outcome: this.#outcome };
  }

  /** undefined: not an event of this deployment. */
  #lines(event: ProgressEvent): string[] | undefined {
    const mine = <T extends { deploymentId: string }>(parsed: { success: true; data: T } | { success: false }): T | undefined =>
      parsed.success && parsed.data.deploymentId === this.deploymentId ? parsed.data : undefined;
    switch (event.type) {
      case 'deploy.queued': {
        const p = mine(deployQueued.payload.safeParse(event.payload));
        if (!p) return undefined;
        // The first line (from the API's answer) already says where it is in the queue.
        return [];
      }
      case 'deploy.started': {
        const p = mine(deployStarted.payload.safeParse(event.payload));
        if (!p) return undefined;
        this.#total = p.hosts.length;
        const batches = p.batches.length === 1 ? 'one batch' : `${p.batches.length} batches`;
        return [`started: ${p.ref} (${shortSha(p.sha)}) on ${p.hosts.length} host(s) in ${batches}, asked by ${p.requestedBy}`];
      }
      case 'deploy.batch': {
        const p = mine(deployBatch.payload.safeParse(event.payload));
        if (!p) return undefined;
        return [`batch ${p.index}/${p.total}: ${p.hosts.join(', ')}`];
      }
      case 'deploy.host-result': {
        const p = mine(deployHostResult.payload.safeParse(event.payload));
        if (!p) return undefined;
        this.#done.add(p.host);
        return [hostLine(p)];
      }
      case 'deploy.succeeded':
      case 'deploy.failed': {
        const schema = event.type === 'deploy.succeeded' ? deploySucceeded.payload : deployFailed.payload;
        const p = mine(schema.safeParse(event.payload));
        if (!p) return undefined;
        const reason = 'reason' in p && typeof p.reason === 'string' ? p.reason : undefined;
        const state: FinalState = event.type === 'deploy.succeeded' ? 'succeeded' : 'failed';
        this.#outcome = { state, reason, succeededHosts: p.succeededHosts, failedHosts: p.failedHosts, durationMs: p.durationMs };
        const hosts = `${p.succeededHosts.length} host(s) deployed${p.failedHosts.length > 0 ? `, ${p.failedHosts.length} not (${p.failedHosts.join(', ')})` : ''}`;
        return [state === 'succeeded' ? `succeeded: ${p.ref}, ${hosts}, in ${formatDuration(p.durationMs)}` : `failed: ${reason ?? 'no reason given'}; ${hosts}`];
      }
      case 'deploy.cancelled': {
        const p = mine(deployCancelled.payload.safeParse(event.payload));
        if (!p) return undefined;
        this.#outcome = { state: 'cancelled', reason: p.reason, succeededHosts: [], failedHosts: [], durationMs: undefined };
        return [`cancelled by ${p.cancelledBy}: ${p.reason}`];
      }
      case 'task.started': {
        const p = mine(taskStarted.payload.safeParse(event.payload));
        if (!p) return undefined;
        return this.options.verbose ? [`${p.host}  ${p.step} ...`] : [];
      }
      case 'task.completed': {
        const p = mine(taskCompleted.payload.safeParse(event.payload));
        if (!p) return undefined;
        if (!this.options.verbose) return [];
        return [`${p.host}  ${p.step} ${p.ok ? 'ok' : 'FAILED'}${p.exitCode === undefined ? '' : ` (exit ${p.exitCode})`}  ${formatDuration(p.durationMs)}`];
      }
      case 'task.log': {
        const p = mine(taskLog.payload.safeParse(event.payload));
        if (!p) return undefined;
        return this.options.verbose ? p.lines.map((l) => `${p.host}  | ${l.text}`) : [];
      }
      default:
        return undefined;
    }
  }
}

/** Lines from the server are shown as text, never as terminal control sequences. */
export function safeLines(lines: readonly string[]): string[] {
  return lines.map(printable);
}
