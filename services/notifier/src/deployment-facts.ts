// What a notifier needs to say about a deployment that its event may not carry (deploy.succeeded has no
// requestedBy or sha): taken from the event when it has it, else asked of the ledger once and kept in a
// small cache (most recent deployments).
import type { DeploymentFacts, EventLog, LogEvent } from './event-log.js';

const CACHE_SIZE = 256;

export interface DeploymentSummary {
  readonly deploymentId: string;
  readonly app: string;
  readonly env: string;
  readonly ref: string | undefined;
  readonly sha: string | undefined;
  readonly requestedBy: string | undefined;
}

export class DeploymentFactsCache {
  readonly #cache = new Map<string, DeploymentFacts>();
  constructor(private readonly log: EventLog) {}

  /** The deployment behind a deploy.* event, with what the event says first and the ledger filling gaps. */
  async summaryOf(event: LogEvent): Promise<DeploymentSummary | undefined> {
    const p = (event.payload ?? {}) as { deploymentId?: unknown; app?: unknown; env?: unknown; ref?: unknown; sha?: unknown; requestedBy?: unknown };
    const id = typeof p.deploymentId === 'string' ? p.deploymentId : event.deploymentId;
    const app = typeof p.app === 'string' ? p.app : event.app;
    const env = typeof p.env === 'string' ? p.env : event.env;
    if (id === undefined || app === undefined || env === undefined) return undefined;
    let ref = typeof p.ref === 'string' ? p.ref : undefined;
    let sha = typeof p.sha === 'string' ? p.sha : undefined;
    let requestedBy = typeof p.requestedBy === 'string' ? p.requestedBy : undefined;
    if (ref === undefined || sha === undefined || requestedBy === undefined) {
      const facts = await this.#facts(id);
      ref ??= facts?.ref;
      sha ??= facts?.sha;
      requestedBy ??= facts?.requestedBy;
    }
    return { deploymentId: id, app, env, ref, sha, requestedBy };
  }

  async #facts(id: string): Promise<DeploymentFacts | undefined> {
    const cached = this.#cache.get(id);
    if (cached !== undefined) return cached;
    const facts = await this.log.deployment(id);
    if (facts === undefined) return undefined;
    this.#cache.set(id, facts);
    if (this.#cache.size > CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value ?? id);
    return facts;
  }
}

/** "{deploymentId}", "{app}", "{env}" in a configured link, filled in (URL-encoded). */
export function linkFor(template: string | undefined, s: { deploymentId: string; app: string; env: string }): string | undefined {
  if (template === undefined) return undefined;
  return template.replace(/\{(deploymentId|app|env)\}/g, (_m, key: 'deploymentId' | 'app' | 'env') => encodeURIComponent(s[key]));
}

/** "9.1 s", "2 min 5 s". */
export function humanDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}
