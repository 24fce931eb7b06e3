// Follows one deployment to its end over the live event stream. Every connection is opened with
// after=0, so the server first replays what already happened to this deployment (nothing is lost
// between the POST and the connect, or while a dropped stream was down), then goes live; replay and
// live overlap, and DeployProgress drops repeats by event id. Because an outcome must never
// be guessed, the deployment's recorded state is the last word: it is checked whenever the stream
// ends, and now and then while it is quiet (a missed final event cannot leave the CLI waiting forever).
import { runsNewRelease } from '@deploybus/protocol';
import { abortableSleep } from './abortable-sleep.js';
import { type BusEvent, type DeploybusApi, type DeploymentDetail } from './api-client.js';
import { ApiUnavailableError, ApiUnreachableError, CliError, EXIT } from './cli-errors.js';
import { DeployProgress, finalStateOf, hostLine, type DeployOutcome } from './deploy-progress.js';
import { progressBar } from './human-format.js';
import type { LiveOutput } from './live-output.js';

export interface FollowOptions {
  readonly verbose: boolean;
  /** Machine output: each event as one JSON line (instead of lines for people). */
  readonly jsonLine?: ((value: unknown) => void) | undefined;
  readonly output: LiveOutput;
  readonly columns: number;
  /** Ctrl-C: stop following (the deployment goes on). */
  readonly signal?: AbortSignal | undefined;
  /** How often the recorded state is checked while the stream is quiet. */
  readonly checkEveryMs?: number;
  /** Stream connections tried in a row before giving up. */
  readonly maxReconnects?: number;
}

export class FollowInterrupted extends CliError {
  override readonly name = 'FollowInterrupted';
  constructor(deploymentId: string) {
    super('FOLLOW_INTERRUPTED', `stopped following; deployment ${deploymentId} goes on (watch it: deploybus logs ${deploymentId} --follow; stop it: deploybus cancel ${deploymentId})`, EXIT.interrupted);
  }
}

export class OutcomeUnknownError extends CliError {
  override readonly name = 'OutcomeUnknownError';
  constructor(deploymentId: string, reason: string, options?: { cause?: unknown }) {
    super('OUTCOME_UNKNOWN', `lost track of deployment ${deploymentId} (${reason}); its outcome is unknown: deploybus history or deploybus logs ${deploymentId}`, EXIT.outcomeUnknown, options);
  }
}

export async function followDeployment(api: DeploybusApi, deploymentId: string, options: FollowOptions): Promise<DeployOutcome> {
  const progress = new DeployProgress(deploymentId, { verbose: options.verbose });
  const out = options.output;
  // No bar until deploy.started says how many hosts there are.
  const drawBar = (): void => (progress.total > 0 ? out.status(progressBar(progress.done, progress.total, options.columns)) : undefined);
  const maxReconnects = options.maxReconnects ?? 8;
  let failures = 0;
  let lastProblem: unknown;
  /** Set once, by the stream's final event or by the record; a late answer of an old check is ignored. */
  let settled: DeployOutcome | undefined;

  const finishFrom = (detail: DeploymentDetail): DeployOutcome | undefined => {
    const state = finalStateOf(detail.state);
    if (state === undefined) return undefined;
    // The stream missed the end: say what the record says, for hosts not reported yet too.
    out.done();
    const reported = new Set(progress.reportedHosts);
    for (const host of detail.hosts) if (!reported.has(host.host)) emitLine(hostLine(host));
    const outcome: DeployOutcome = {
      state,
      reason: detail.reason,
      succeededHosts: detail.hosts.filter((h) => runsNewRelease(h.outcome)).map((h) => h.host),
      failedHosts: detail.hosts.filter((h) => !runsNewRelease(h.outcome)).map((h) => h.host),
      durationMs: detail.durationMs,
    };
    emitLine(`${state}${detail.reason ? `: ${detail.reason}` : ''}`);
    options.jsonLine?.({ deploymentId, outcome });
    return outcome;
  };
  function emitLine(line: string): void {
    if (options.jsonLine === undefined) out.line(line);
  }

  for (;;) {
    if (options.signal?.aborted) throw new FollowInterrupted(deploymentId);
    const connection = new AbortController();
    const abortConnection = (): void => connection.abort();
    options.signal?.addEventListener('abort', abortConnection, { once: true });
    const watchdog = setInterval(() => {
      api.deployment(deploymentId).then(
        (detail) => {
          if (settled === undefined && progress.outcome === undefined && finalStateOf(detail.state) !== undefined) {
            settled = finishFrom(detail);
            connection.abort();
          }
        },
        () => undefined, // the stream's own errors say what is wrong
      );
    }, options.checkEveryMs ?? 10_000);
    try {
      const events = await api.openStream({ deploymentId, after: 0 }, { signal: connection.signal });
      failures = 0;
      drawBar();
      for await (const event of events) {
        const step = progress.apply(event);
        if (options.jsonLine !== undefined) {
          // Every event of the deployment; the steps and their output only with --verbose, as for people.
          if (step.fresh && (options.verbose || !event.type.startsWith('task.'))) options.jsonLine(eventJson(event));
        } else {
          // The bar goes before the last lines, so a finished deploy leaves only text behind.
          if (step.outcome !== undefined) out.done();
          for (const line of step.lines) out.line(line);
          if (step.outcome === undefined) drawBar();
        }
        if (step.outcome !== undefined) {
          settled = step.outcome;
          if (options.jsonLine !== undefined) options.jsonLine({ deploymentId, outcome: step.outcome });
          return step.outcome;
        }
      }
    } catch (error) {
      if (settled !== undefined) return settled;
      if (options.signal?.aborted) throw new FollowInterrupted(deploymentId);
      // Only a lost connection is worth another try; a 401 or 404 will not change.
      if (!(error instanceof ApiUnreachableError) && !(error instanceof ApiUnavailableError)) throw error;
      lastProblem = error;
      failures += 1;
    } finally {
      clearInterval(watchdog);
      options.signal?.removeEventListener('abort', abortConnection);
      out.done();
    }
    if (settled !== undefined) return settled;
    if (options.signal?.aborted) throw new FollowInterrupted(deploymentId);
    // The stream ended (or broke) before the deployment did, as far as the stream said: ask the record.
    try {
      const detail = await api.deployment(deploymentId);
      if (settled !== undefined) return settled;
      settled = finishFrom(detail);
      if (settled !== undefined) return settled;
    } catch (error) {
      if (!(error instanceof ApiUnreachableError) && !(error instanceof ApiUnavailableError)) throw error;
      lastProblem = error;
      failures += 1;
    }
    if (failures > maxReconnects) throw new OutcomeUnknownError(deploymentId, lastProblem instanceof Error ? lastProblem.message : 'the event stream kept ending', { cause: lastProblem });
    await abortableSleep(Math.min(5_000, 250 * 2 ** failures), options.signal);
  }
}

function eventJson(event: BusEvent): unknown {
  const { streamId: _streamId, ...rest } = event;
  return rest;
}
