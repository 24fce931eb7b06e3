// Rollout planning: canaries alone first, then batches by count or percentage, capped by maxUnavailable.
import { describe, expect, it } from 'vitest';
import { batchSizeOf, planRollout, RolloutOptionsError } from '../src/index.js';

const hosts = (n: number): string[] => Array.from({ length: n }, (_, i) => `web${String(i + 1).padStart(2, '0')}`);

describe('planRollout', () => {
  it('puts each canary in a batch of its own, then batches by count', () => {
    expect(planRollout(hosts(7), { canary: 2, batchSize: 2 })).toEqual([['web01'], ['web02'], ['web03', 'web04'], ['web05', 'web06'], ['web07']]);
  });

  it('sorts and de-duplicates the hosts, so the order never depends on the roster order', () => {
    expect(planRollout(['web3', 'web1', 'web2', 'web1'], { canary: 1, batchSize: 5 })).toEqual([['web1'], ['web2', 'web3']]);
  });

  it('takes a percentage of all target hosts, rounded up', () => {
    expect(planRollout(hosts(10), { canary: 0, batchSize: '25%' })).toEqual([
      ['web01', 'web02', 'web03'],
      ['web04', 'web05', 'web06'],
      ['web07', 'web08', 'web09'],
      ['web10'],
    ]);
    expect(planRollout(hosts(10), { canary: 1, batchSize: '25%' }).map((b) => b.length)).toEqual([1, 3, 3, 3]);
  });

  it('makes a percentage at least one host', () => {
    expect(planRollout(hosts(3), { canary: 0, batchSize: '1%' })).toEqual([['web01'], ['web02'], ['web03']]);
    expect(batchSizeOf('1%', 0)).toBe(1);
  });

  it('deploys everything at once at 100% when nothing caps it', () => {
    expect(planRollout(hosts(4), { canary: 0, batchSize: '100%' })).toEqual([['web01', 'web02', 'web03', 'web04']]);
  });

  it('caps every batch at maxUnavailable', () => {
    expect(planRollout(hosts(4), { canary: 0, batchSize: '100%', maxUnavailable: 1 })).toEqual([['web01'], ['web02'], ['web03'], ['web04']]);
    expect(planRollout(hosts(5), { canary: 1, batchSize: 3, maxUnavailable: 2 })).toEqual([['web01'], ['web02', 'web03'], ['web04', 'web05']]);
  });

  it('ignores a maxUnavailable larger than the batch size', () => {
    expect(planRollout(hosts(4), { canary: 0, batchSize: 2, maxUnavailable: 10 })).toEqual([['web01', 'web02'], ['web03', 'web04']]);
  });

  it('plans one host as one batch, canary or not', () => {
    expect(planRollout(['web1'], { canary: 0, batchSize: 5 })).toEqual([['web1']]);
    expect(planRollout(['web1'], { canary: 1, batchSize: 5 })).toEqual([['web1']]);
    expect(planRollout(['web1'], { canary: 0, batchSize: '100%', maxUnavailable: 1 })).toEqual([['web1']]);
  });

  it('makes every host a canary when canary >= hosts', () => {
    expect(planRollout(hosts(3), { canary: 3, batchSize: 10 })).toEqual([['web01'], ['web02'], ['web03']]);
    expect(planRollout(hosts(3), { canary: 50, batchSize: 10 })).toEqual([['web01'], ['web02'], ['web03']]);
  });

  it('plans nothing for no hosts', () => {
    expect(planRollout([], { canary: 2, batchSize: '50%' })).toEqual([]);
  });

  it('covers every host exactly once for any size', () => {
    for (let n = 1; n <= 23; n++) {
      for (const batchSize of [1, 2, 5, '10%', '33%', '100%'] as const) {
        for (const canary of [0, 1, 4]) {
          for (const maxUnavailable of [undefined, 1, 3]) {
            const batches = planRollout(hosts(n), { canary, batchSize, maxUnavailable });
            expect(batches.flat()).toEqual(hosts(n));
            expect(batches.every((b) => b.length >= 1 && b.length <= (maxUnavailable ?? Infinity))).toBe(true);
            expect(batches.slice(0, Math.min(canary, n)).every((b) => b.length === 1)).toBe(true);
          }
        }
      }
    }
  });

  it('refuses options no plan can satisfy, naming the option', () => {
    const bad = [
      [{ canary: 0, batchSize: 0 }, 'batchSize'],
      [{ canary: 0, batchSize: 1.5 }, 'batchSize'],
      [{ canary: 0, batchSize: '0%' }, 'batchSize'],
      [{ canary: 0, batchSize: '101%' }, 'batchSize'],
      [{ canary: 0, batchSize: 'half' }, 'batchSize'],
      [{ canary: -1, batchSize: 1 }, 'canary'],
      [{ canary: 0, batchSize: 1, maxUnavailable: 0 }, 'maxUnavailable'],
    ] as const;
    for (const [options, option] of bad) {
      let caught: unknown;
      try {
        planRollout(hosts(3), options);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(RolloutOptionsError);
      expect((caught as RolloutOptionsError).option).toBe(option);
    }
  });
});
