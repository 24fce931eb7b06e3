// Drives one rollout: batch after batch, a signed deploy command per host, the agents' replies
// collected against a per-host timeout, a stop at the first failure, and a rollback of the hosts
// already done when the request asks for one. Transport-free: commands leave through an AgentGateway,
// replies come in through deliverReply(), events go out through `emit`, time comes from a RolloutTimer.
//
// Rules it keeps:
// - A host gets at most one deploy command per rollout (checked before every send).
// - A host whose final reply does not come within hostTimeoutMs is `no-response`, never success; a
//   reply that comes later is ignored. "accepted" is not final.
// - A batch always runs to its end (hosts in flight finish) before the rollout stops, fails or is
//   cancelled. cancel() stops before the next batch (a pause is cut short) and rolls nothing back;
//   a cancel that comes during the last batch changes nothing.
// - Rollback goes back through the batches that were done, latest first, each batch at once, so it
//   never takes more hosts down at a time than the rollout did. It always runs to its end.
import type { PayloadInputOf, PayloadOf } from '@deploybus/protocol';
import type { CommandFactory, SignedCommand } from './command-signer.js';
import { ConductorError } from './errors.js';

/** Where commands leave: the bus in the daemon, a fake in tests. */
export interface AgentGateway {
  send(host: string, command: SignedCommand): Promise<void>;
}

export interface RolloutTimer {
  now(): number;
  /** Calls `fn` once after `ms`; returns a function that cancels the call. */
  schedule(ms: number, fn: () => void): () => void;
}

/** The real clock. It reads the globals on every call, so vitest's fake timers drive it in tests. */
export const systemTimer: RolloutTimer = {
  now: () => Date.now(),
  schedule(ms, fn) {
    const handle = setTimeout(fn, ms);
    return () => clearTimeout(handle);
  },
};

type EventOf<T extends 'deploy.started' | 'deploy.batch' | 'deploy.host-result' | 'deploy.succeeded' | 'deploy.failed' | 'deploy.cancelled'> = {
  readonly type: T;
  readonly payload: PayloadInputOf<T>;
};

export type RolloutEvent =
  | EventOf<'deploy.started'>
  | EventOf<'deploy.batch'>
  | EventOf<'deploy.host-result'>
  | EventOf<'deploy.succeeded'>
  | EventOf<'deploy.failed'>
  | EventOf<'deploy.cancelled'>;

export type AgentReply = PayloadOf<'agent.reply'>;
export type HostOutcome = PayloadOf<'deploy.host-result'>['outcome'];

export interface RolloutSpec {
  readonly deploymentId: string;
  readonly app: string;
  readonly env: string;
  readonly ref: string;
  /** The full commit id the ref resolved to. */
  readonly sha: string;
  readonly requestedBy: string;
  /** From planRollout: the hosts of each batch, in order. */
  readonly batches: readonly (readonly string[])[];
  readonly pauseMs: number;
  readonly hostTimeoutMs: number;
  readonly rollbackOnFailure: boolean;
  /** The release each host ran before (from the roster); a rollback names it when known. */
  readonly previousReleases?: ReadonlyMap<string, string>;
}

export interface RolloutRunnerDeps {
  readonly gateway: AgentGateway;
  readonly commands: CommandFactory;
  /**
   * Publishes (and records) one event. It must hand the event on (to the bus, to the event log) before
   * it first waits: calls overlap when hosts finish together, and the order of calls is the order the
   * events leave in. A host's result settles before any event that follows it is emitted.
   */
  readonly emit: (event: RolloutEvent) => Promise<void> | void;
  /** An event that could not be emitted: the rollout goes on regardless, so this must report it. */
  readonly onEmitError: (error: unknown, event: RolloutEvent) => void;
  /**
   * Writes the outcome down (the ledger) before the final event leaves. false: the deployment was
   * finished by someone else meanwhile (a conductor that took the app/env over), so no final event is
   * emitted. A write that throws is reported through onEmitError and the final event still leaves.
   */
  readonly settle?: (outcome: { readonly status: RolloutStatus; readonly reason?: string | undefined }) => Promise<boolean>;
  readonly timer?: RolloutTimer;
}

export interface HostResult {
  readonly host: string;
  readonly action: 'deploy' | 'rollback';
  readonly outcome: HostOutcome;
  readonly release?: string;
  readonly durationMs: number;
  readonly error?: string;
  /** A deploy that timed out after the agent accepted it: the host may still be deploying, and may finish. */
  readonly mayStillRun?: true;
}

export type RolloutStatus = 'succeeded' | 'failed' | 'cancelled';

export interface RolloutResult {
  readonly status: RolloutStatus;
  /** Hosts that run the new release at the end. */
  readonly succeededHosts: readonly string[];
  /** Hosts that failed, did not answer, or were rolled back. */
  readonly failedHosts: readonly string[];
  readonly rolledBackHosts: readonly string[];
  /** Every host's deploy and rollback results, in the order they finished. */
  readonly results: readonly HostResult[];
  readonly durationMs: number;
  readonly reason?: string;
}

type Final = { readonly kind: 'reply'; readonly reply: AgentReply } | { readonly kind: 'timeout'; readonly accepted: boolean } | { readonly kind: 'send-failed'; readonly error: unknown };

interface Pending {
  readonly host: string;
  accepted: boolean;
  finish(final: Final): void;
}

const MAX_TEXT = 4096;

export class RolloutRunner {
  readonly #spec: RolloutSpec;
  readonly #deps: RolloutRunnerDeps;
  readonly #timer: RolloutTimer;
  readonly #pending = new Map<string, Pending>();
  readonly #deployed = new Set<string>();
  readonly #results: HostResult[] = [];
  /** finishing: a batch failed (rolling back, then the final event) or the last batch is done; too late to cancel. */
  #state: 'idle' | 'running' | 'finishing' | 'finished' = 'idle';
  #cancel: { by: string; reason: string } | undefined;
  #wakePause: (() => void) | undefined;
  /** Emits not awaited where they were made (deploy.started, deploy.batch); the final event waits for them. */
  readonly #handedOn: Promise<void>[] = [];

  constructor(spec: RolloutSpec, deps: RolloutRunnerDeps) {
    validateSpec(spec);
    this.#spec = spec;
    this.#deps = deps;
    this.#timer = deps.timer ?? systemTimer;
  }

  get state(): 'idle' | 'running' | 'finishing' | 'finished' {
    return this.#state;
  }

  /** Runs the rollout to its end; resolves with the outcome (never rejects for anything an agent does). */
  async run(): Promise<RolloutResult> {
    if (this.#state !== 'idle') throw new ConductorError('ROLLOUT_ALREADY_RUN', `rollout ${this.#spec.deploymentId} has already been run; a rollout runs once`);
    this.#state = 'running';
    const spec = this.#spec;
    const startedAt = this.#timer.now();
    // deploy.started and each deploy.batch are handed on before the commands that follow them, which is
    // all their order needs; the commands do not wait for them to be confirmed. The final event does.
    this.#handedOn.push(
      this.#emit({
        type: 'deploy.started',
        payload: { ...this.#ref(), ref: spec.ref, sha: spec.sha, requestedBy: spec.requestedBy, hosts: spec.batches.flat(), batches: spec.batches.map((b) => [...b]) },
      }),
    );

    const done: string[][] = [];
    const succeeded: string[] = [];
    try {
      for (const [index, batch] of spec.batches.entries()) {
        if (index > 0 && spec.pauseMs > 0 && this.#cancel === undefined) await this.#pause(spec.pauseMs);
        if (this.#cancel !== undefined) return await this.#finishCancelled(startedAt, succeeded);

        this.#handedOn.push(this.#emit({ type: 'deploy.batch', payload: { ...this.#ref(), index: index + 1, total: spec.batches.length, hosts: [...batch] } }));
        const results = await Promise.all(batch.map((host) => this.#deployHost(host)));
        const ok = results.filter((r) => r.outcome === 'succeeded').map((r) => r.host);
        succeeded.push(...ok);
        done.push(ok);
        const failures = results.filter((r) => r.outcome !== 'succeeded');
        if (failures.length > 0) {
          this.#state = 'finishing';
          return await this.#finishFailed(startedAt, done, succeeded, failures);
        }
      }
      this.#state = 'finishing';
      const result: RolloutResult = { status: 'succeeded', succeededHosts: [...succeeded], failedHosts: [], rolledBackHosts: [], results: [...this.#results], durationMs: this.#timer.now() - startedAt };
      await this.#emitFinal(result, { type: 'deploy.succeeded', payload: { ...this.#ref(), ref: spec.ref, durationMs: result.durationMs, succeededHosts: succeeded, failedHosts: [] } });
      return result;
    } finally {
      this.#state = 'finished';
    }
  }

  /**
   * Hands the runner an agent.reply. Returns whether it answered a command this rollout is waiting
   * for; replies to other commands, from another host than the command's, or after the timeout are ignored.
   */
  deliverReply(reply: AgentReply): boolean {
    const pending = this.#pending.get(reply.commandId);
    if (pending === undefined || pending.host.toLowerCase() !== reply.host.toLowerCase()) return false;
    if (reply.status === 'accepted') {
      pending.accepted = true;
      return true;
    }
    pending.finish({ kind: 'reply', reply });
    return true;
  }

  /**
   * Stops the rollout before its next batch; the batch in flight finishes. Returns false when the
   * rollout is finishing (see state) or finished, or was cancelled already (the first cancel counts).
   */
  cancel(by: string, reason: string): boolean {
    if (this.#state === 'finishing' || this.#state === 'finished' || this.#cancel !== undefined) return false;
    this.#cancel = { by, reason };
    this.#wakePause?.();
    return true;
  }

  async #deployHost(host: string): Promise<HostResult> {
    const key = host.toLowerCase();
    // validateSpec already refuses a host listed twice; this guards the rule itself.
    if (this.#deployed.has(key)) throw new ConductorError('INVALID_ROLLOUT', `host ${host} was already sent a deploy command in rollout ${this.#spec.deploymentId}`);
    this.#deployed.add(key);
    const spec = this.#spec;
    // The command expires when the conductor stops waiting for it: an agent that had not taken it by
    // then (restarting, busy with the app's earlier commands) refuses it, instead of deploying a host
    // this rollout already reported as no-response.
    const command = this.#deps.commands.deploy(host, { deploymentId: spec.deploymentId, app: spec.app, env: spec.env, ref: spec.ref, sha: spec.sha, ttlMs: spec.hostTimeoutMs });
    const sentAt = this.#timer.now();
    const final = await this.#send(host, command);
    const durationMs = this.#timer.now() - sentAt;
    const result = deployResult(host, final, durationMs, spec.hostTimeoutMs);
    await this.#record(result);
    return result;
  }

  async #rollbackHost(host: string): Promise<HostResult> {
    const spec = this.#spec;
    const release = spec.previousReleases?.get(host);
    const command = this.#deps.commands.rollback(host, { deploymentId: spec.deploymentId, app: spec.app, env: spec.env, release, ttlMs: spec.hostTimeoutMs });
    const sentAt = this.#timer.now();
    const final = await this.#send(host, command);
    const durationMs = this.#timer.now() - sentAt;
    const deployed = this.#results.find((r) => r.host === host && r.action === 'deploy' && r.outcome === 'succeeded');
    const result = rollbackResult(host, final, durationMs, spec, deployed);
    await this.#record(result);
    return result;
  }

  /** Sends one command and waits for its final reply, the timeout, or the send's failure. */
  #send(host: string, command: SignedCommand): Promise<Final> {
    const commandId = command.payload.commandId;
    return new Promise<Final>((resolve) => {
      let settled = false;
      const pending: Pending = {
        host,
        accepted: false,
        finish: (final) => {
          if (settled) return;
          settled = true;
          cancelTimer();
          this.#pending.delete(commandId);
          resolve(final);
        },
      };
      // Registered before sending: an in-process bus may deliver the reply before send() resolves.
      this.#pending.set(commandId, pending);
      const cancelTimer = this.#timer.schedule(this.#spec.hostTimeoutMs, () => pending.finish({ kind: 'timeout', accepted: pending.accepted }));
      void (async () => {
        try {
          await this.#deps.gateway.send(host, command);
        } catch (error) {
          pending.finish({ kind: 'send-failed', error });
        }
      })();
    });
  }

  async #finishFailed(startedAt: number, done: readonly string[][], succeeded: string[], failures: readonly HostResult[]): Promise<RolloutResult> {
    const spec = this.#spec;
    const failedHosts = failures.map((f) => f.host);
    let reason = failures.map(describeFailure).join('; ');
    const rolledBack: string[] = [];
    // A host that accepted and then went quiet may still be deploying, and may yet succeed: it is sent a
    // rollback too (its agent runs it after the deploy). Not waited for before the other hosts' rollbacks:
    // such a host is most often a dead agent, and waiting would keep every healthy host on the bad release
    // for another hostTimeoutMs.
    const quiet = failures.filter((f) => f.mayStillRun === true).map((f) => f.host);
    if (spec.rollbackOnFailure && (succeeded.length > 0 || quiet.length > 0)) {
      const notRolledBack: HostResult[] = [];
      const tally = (results: readonly HostResult[]): void => {
        for (const r of results) {
          if (r.outcome === 'rolled-back') rolledBack.push(r.host);
          else notRolledBack.push(r);
        }
      };
      const quietRollbacks = Promise.all(quiet.map((host) => this.#rollbackHost(host)));
      for (const batch of [...done].reverse()) {
        if (batch.length === 0) continue;
        tally(await Promise.all(batch.map((host) => this.#rollbackHost(host))));
      }
      tally(await quietRollbacks);
      // A host whose rollback went unanswered may run either release: it is not counted as running the new one.
      const unknown = new Set(notRolledBack.filter((r) => r.outcome === 'no-response').map((r) => r.host));
      const moved = new Set([...rolledBack, ...unknown]);
      const still = succeeded.filter((h) => !moved.has(h));
      succeeded.length = 0;
      succeeded.push(...still);
      failedHosts.push(...rolledBack, ...unknown);
      reason += rolledBack.length > 0 ? `; rolled back ${rolledBack.join(', ')}` : '';
      if (notRolledBack.length > 0) reason += `; rollback did not complete on ${notRolledBack.map((r) => r.host).join(', ')}`;
    }
    const result: RolloutResult = {
      status: 'failed',
      succeededHosts: [...succeeded],
      // A host that did not answer its deploy and was then rolled back is listed once.
      failedHosts: [...new Set(failedHosts)],
      rolledBackHosts: rolledBack,
      results: [...this.#results],
      durationMs: this.#timer.now() - startedAt,
      reason: clip(reason),
    };
    await this.#emitFinal(result, {
      type: 'deploy.failed',
      payload: { ...this.#ref(), ref: spec.ref, durationMs: result.durationMs, succeededHosts: [...result.succeededHosts], failedHosts: [...result.failedHosts], reason: clip(reason) },
    });
    return result;
  }

  async #finishCancelled(startedAt: number, succeeded: readonly string[]): Promise<RolloutResult> {
    const cancel = this.#cancel ?? { by: 'unknown', reason: 'cancelled' };
    const result: RolloutResult = {
      status: 'cancelled',
      succeededHosts: [...succeeded],
      failedHosts: [],
      rolledBackHosts: [],
      results: [...this.#results],
      durationMs: this.#timer.now() - startedAt,
      reason: cancel.reason,
    };
    await this.#emitFinal(result, { type: 'deploy.cancelled', payload: { ...this.#ref(), cancelledBy: cancel.by, reason: clip(cancel.reason, 2048) } });
    return result;
  }

  #pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const cancelTimer = this.#timer.schedule(ms, wake);
      function wake(): void {
        cancelTimer();
        resolve();
      }
      this.#wakePause = wake;
    }).finally(() => {
      this.#wakePause = undefined;
    });
  }

  async #record(result: HostResult): Promise<void> {
    this.#results.push(result);
    const payload: PayloadInputOf<'deploy.host-result'> = { ...this.#ref(), host: result.host, outcome: result.outcome, durationMs: result.durationMs };
    if (result.release !== undefined) payload.release = result.release;
    if (result.error !== undefined) payload.error = result.error;
    await this.#emit({ type: 'deploy.host-result', payload });
  }

  /**
   * Emits at once: the gateway's emit hands the event on before it first waits, so events leave in the
   * order they are emitted, and hosts finishing together do not queue behind each other's confirms and
   * writes. Every later event of the rollout (the next batch, the final event) is emitted only once the
   * host results before it have settled, since each host's deploy waits for its own.
   */
  async #emit(event: RolloutEvent): Promise<void> {
    try {
      await this.#deps.emit(event);
    } catch (error) {
      this.#deps.onEmitError(error, event);
    }
  }

  /** The rollout's last event, once every event before it has settled and the outcome is written down. */
  async #emitFinal(result: RolloutResult, event: RolloutEvent): Promise<void> {
    await Promise.all(this.#handedOn.splice(0));
    if (this.#deps.settle !== undefined) {
      let settled = true;
      try {
        settled = await this.#deps.settle({ status: result.status, reason: result.reason });
      } catch (error) {
        this.#deps.onEmitError(error, event);
      }
      if (!settled) return;
    }
    await this.#emit(event);
  }

  #ref(): { deploymentId: string; app: string; env: string } {
    return { deploymentId: this.#spec.deploymentId, app: this.#spec.app, env: this.#spec.env };
  }
}

function deployResult(host: string, final: Final, durationMs: number, timeoutMs: number): HostResult {
  const base = { host, action: 'deploy' as const, durationMs };
  switch (final.kind) {
    case 'timeout':
      return {
        ...base,
        outcome: 'no-response',
        ...(final.accepted ? { mayStillRun: true as const } : {}),
        error: clip(
          `no final reply within ${timeoutMs} ms${final.accepted ? ' (the agent accepted the command and may still finish it)' : '; the agent had not accepted the command, which expired with this timeout, so it will not run it later'}`,
        ),
      };
    case 'send-failed':
      return { ...base, outcome: 'failed', error: clip(`the deploy command could not be sent: ${errorText(final.error)}`) };
    case 'reply': {
      const { reply } = final;
      if (reply.status === 'succeeded') return reply.release === undefined ? { ...base, outcome: 'succeeded' } : { ...base, outcome: 'succeeded', release: reply.release };
      const outcome = reply.status === 'refused' ? 'refused' : 'failed';
      return { ...base, outcome, error: clip(replyError(reply)) };
    }
  }
}

/**
 * A rollback that was refused, failed or never sent leaves the host on the release it deployed: that is
 * `rollback-failed` with that release, never `failed` (which would say the host's deploy failed). For a
 * host whose deploy never answered (no `deployed` result) what it runs stays unknown: `no-response`.
 */
function rollbackResult(host: string, final: Final, durationMs: number, spec: RolloutSpec, deployed: HostResult | undefined): HostResult {
  const base = { host, action: 'rollback' as const, durationMs };
  const stillOnNew =
    deployed === undefined ? { ...base, outcome: 'no-response' as const } : { ...base, outcome: 'rollback-failed' as const, ...(deployed.release === undefined ? {} : { release: deployed.release }) };
  const runs = deployed === undefined ? `the host never answered its deploy and may run either release` : `the host still runs ${spec.ref}`;
  switch (final.kind) {
    case 'timeout':
      return { ...base, outcome: 'no-response', error: clip(`rollback: no final reply within ${spec.hostTimeoutMs} ms; the host may still run ${spec.ref}`) };
    case 'send-failed':
      return { ...stillOnNew, error: clip(`rollback command could not be sent, ${runs}: ${errorText(final.error)}`) };
    case 'reply': {
      const { reply } = final;
      if (reply.status === 'succeeded') return reply.release === undefined ? { ...base, outcome: 'rolled-back' } : { ...base, outcome: 'rolled-back', release: reply.release };
      return { ...stillOnNew, error: clip(`rollback ${reply.status}, ${runs}: ${replyError(reply)}`) };
    }
  }
}

function replyError(reply: AgentReply): string {
  const step = reply.failedStep === undefined ? '' : ` at ${reply.failedStep}`;
  const exit = reply.exitCode === undefined ? '' : ` (exit ${reply.exitCode})`;
  return `${reply.status}${step}${exit}${reply.error === undefined ? '' : `: ${reply.error}`}`;
}

function describeFailure(result: HostResult): string {
  return `${result.host}: ${result.error ?? result.outcome}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function clip(text: string, max = MAX_TEXT): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function validateSpec(spec: RolloutSpec): void {
  const seen = new Set<string>();
  for (const batch of spec.batches) {
    if (batch.length === 0) throw new ConductorError('INVALID_ROLLOUT', `rollout ${spec.deploymentId} has an empty batch`);
    for (const host of batch) {
      const key = host.toLowerCase();
      if (seen.has(key)) throw new ConductorError('INVALID_ROLLOUT', `rollout ${spec.deploymentId} lists host ${host} twice; a host is deployed once per rollout`);
      seen.add(key);
    }
  }
  if (!Number.isInteger(spec.hostTimeoutMs) || spec.hostTimeoutMs < 1) throw new ConductorError('INVALID_ROLLOUT', `hostTimeoutMs must be a whole number from 1, got ${spec.hostTimeoutMs}`);
  if (!Number.isInteger(spec.pauseMs) || spec.pauseMs < 0) throw new ConductorError('INVALID_ROLLOUT', `pauseMs must be a whole number from 0, got ${spec.pauseMs}`);
}
