// Package updates this server cares about, turned into runs of the refresh command: one at a time,
// and a burst of updates arriving while one runs folded into exactly one more run. Every update a
// run covers is reported with that run's outcome. Pure logic: the command is injected.
import type { BusLogger } from '@deploybus/bus';
import { CoalescingRunner } from './coalescing-runner.js';
import type { RefreshCommandRunner, RefreshOutcome } from './package-refresher.js';
import { wantsPackage } from './patterns.js';

export interface PackageEvent {
  readonly package: string;
  readonly version: string;
  readonly messageId?: string;
}

export interface PackageRefreshQueueOptions {
  /** Package name patterns this server cares about (see patterns.ts). */
  readonly names: readonly string[];
  readonly runCommand: RefreshCommandRunner;
  /** Called once per run with the distinct updates it covers. A throw is logged. */
  readonly report: (outcome: RefreshOutcome, events: readonly PackageEvent[]) => Promise<void>;
  readonly logger: BusLogger;
}

export class PackageRefreshQueue {
  private readonly runner: CoalescingRunner<'refresh', PackageEvent>;

  constructor(private readonly options: PackageRefreshQueueOptions) {
    this.runner = new CoalescingRunner(
      (_key, events) => this.refresh(events),
      (_key, error) => options.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'package refresh failed unexpectedly'),
    );
  }

  wants(name: string): boolean {
    return wantsPackage(this.options.names, name);
  }

  /** Asks for a refresh covering `event`; undefined when the package does not concern this server. */
  offer(event: PackageEvent): Promise<void> | undefined {
    if (!this.wants(event.package)) return undefined;
    return this.runner.request('refresh', event);
  }

  idle(): Promise<void> {
    return this.runner.idle();
  }

  close(): Promise<void> {
    return this.runner.close();
  }

  private async refresh(events: readonly PackageEvent[]): Promise<void> {
    const { logger } = this.options;
    const distinct = [...new Map(events.map((e) => [`${e.package}\u0000${e.version}`, e])).values()];
    let outcome: RefreshOutcome;
    try {
      outcome = await this.options.runCommand();
    } catch (error) {
      outcome = { ok: false, exitCode: undefined, error: error instanceof Error ? error.message : String(error), durationMs: 0, output: '' };
    }
    const fields = { packages: distinct.slice(0, 20).map((e) => `${e.package}@${e.version}`), exitCode: outcome.exitCode, durationMs: outcome.durationMs, output: outcome.output };
    if (outcome.ok) logger.info(fields, 'package index refreshed');
    else logger.warn({ ...fields, err: outcome.error }, 'package refresh failed');
    try {
      await this.options.report(outcome, distinct);
    } catch (error) {
      logger.error({ err: error instanceof Error ? error.message : String(error) }, 'could not report a package refresh');
    }
  }
}
