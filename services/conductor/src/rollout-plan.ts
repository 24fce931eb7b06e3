// Splits the target hosts into the batches of a rollout. Pure and deterministic: the same hosts and
// options give the same batches on every conductor.
//
// - Hosts are sorted and de-duplicated first; canaries are the first `canary` hosts, each a batch of its own.
// - The other hosts go in batches of `batchSize`: a count, or a percentage of ALL target hosts
//   (canaries included), rounded up and at least 1, so "25%" of 10 hosts is 3.
// - No batch is larger than `maxUnavailable` (default: the batch size), since every host of a batch is
//   out of service at the same time.
import type { PayloadOf } from '@deploybus/protocol';
import { RolloutOptionsError } from './errors.js';
import { compareHosts } from './target-selection.js';

export type RolloutOptions = PayloadOf<'deploy.requested'>['rollout'];
export type PlanOptions = Pick<RolloutOptions, 'canary' | 'batchSize'> & { readonly maxUnavailable?: number | undefined };

const PERCENT = /^(100|[1-9][0-9]?)%$/;

/** The hosts of each batch, in rollout order. No host appears twice. */
export function planRollout(hosts: readonly string[], options: PlanOptions): string[][] {
  const ordered = [...new Set(hosts)].sort(compareHosts);
  const canary = options.canary;
  if (!Number.isInteger(canary) || canary < 0) throw new RolloutOptionsError('canary', `must be a whole number from 0, got ${String(canary)}`);
  const size = Math.min(batchSizeOf(options.batchSize, ordered.length), maxUnavailableOf(options));

  const batches: string[][] = ordered.slice(0, canary).map((host) => [host]);
  const rest = ordered.slice(canary);
  for (let i = 0; i < rest.length; i += size) batches.push(rest.slice(i, i + size));
  return batches;
}

/** The number of hosts per batch for `total` target hosts. */
export function batchSizeOf(batchSize: number | string, total: number): number {
  if (typeof batchSize === 'number') {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RolloutOptionsError('batchSize', `must be a whole number from 1 or a percentage like "25%", got ${batchSize}`);
    return batchSize;
  }
  if (!PERCENT.test(batchSize)) throw new RolloutOptionsError('batchSize', `must be a whole number from 1 or a percentage from "1%" to "100%", got ${JSON.stringify(batchSize)}`);
  const percent = Number(batchSize.slice(0, -1));
  return Math.max(1, Math.ceil((total * percent) / 100));
}

function maxUnavailableOf(options: PlanOptions): number {
  const value = options.maxUnavailable;
  if (value === undefined) return Number.POSITIVE_INFINITY;
  if (!Number.isInteger(value) || value < 1) throw new RolloutOptionsError('maxUnavailable', `must be a whole number from 1, got ${value}`);
  return value;
}
