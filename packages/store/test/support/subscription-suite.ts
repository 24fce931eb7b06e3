// One test suite for the notifier's subscription store, run on each engine.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerInputError, type SubscriptionStore } from '../../src/index.js';

export interface OpenedStore {
  readonly store: SubscriptionStore;
  cleanup(): Promise<void>;
}

const sub = (id: string, over: Record<string, unknown> = {}) => ({
  id,
  url: `https://hooks.example.com/${id}`,
  events: ['deploy.*'],
  app: 'shop',
  env: undefined,
  secret: 'a-long-enough-secret-value',
  description: 'chat room',
  createdBy: 'ada',
  createdAt: '2026-11-22T10:00:00.000Z',
  ...over,
});

export function subscriptionSuite(name: string, open: () => Promise<OpenedStore>): void {
  describe(`subscription store on ${name}`, () => {
    let opened: OpenedStore;
    let store: SubscriptionStore;
    beforeEach(async () => {
      opened = await open();
      store = opened.store;
      expect(await store.migrate()).toEqual(['0001-subscriptions', '0002-leases']);
      expect(await store.migrate()).toEqual([]);
    });
    afterEach(() => opened.cleanup());

    it('stores subscriptions with a starting position, refuses a taken id, deletes both', async () => {
      expect(await store.createSubscription(sub('s-1'), 7)).toBe(true);
      expect(await store.createSubscription(sub('s-1', { url: 'https://other.example.com/' }), 0)).toBe(false);
      expect(await store.createSubscription(sub('s-2', { app: undefined, env: 'production', events: ['*'], createdAt: '2026-11-22T11:00:00.000Z' }), 0)).toBe(true);
      expect(await store.subscription('s-1')).toEqual({ ...sub('s-1'), env: undefined });
      expect((await store.subscriptions()).map((s) => [s.id, s.app, s.env, s.events])).toEqual([
        ['s-1', 'shop', undefined, ['deploy.*']],
        ['s-2', undefined, 'production', ['*']],
      ]);
      expect(await store.position('s-1')).toMatchObject({ cursor: 7, state: 'active', failures: 0, lastError: undefined });
      expect(await store.deleteSubscription('s-1')).toBe(true);
      expect(await store.deleteSubscription('s-1')).toBe(false);
      expect(await store.subscription('s-1')).toBeUndefined();
      expect(await store.position('s-1')).toBeUndefined();
    });

    it('gives the delivery lease to one owner at a time, until it expires or is released', async () => {
      const now = new Date('2026-11-22T10:00:00.000Z');
      expect(await store.tryAcquireLease('deliver', 'a', 30_000, now)).toBe(true);
      expect(await store.tryAcquireLease('deliver', 'b', 30_000, now)).toBe(false);
      expect(await store.tryAcquireLease('deliver', 'a', 30_000, new Date(now.getTime() + 10_000))).toBe(true);
      expect(await store.tryAcquireLease('deliver', 'b', 30_000, new Date(now.getTime() + 39_000))).toBe(false);
      expect(await store.tryAcquireLease('deliver', 'b', 30_000, new Date(now.getTime() + 40_000))).toBe(true);
      expect(await store.releaseLease('deliver', 'a')).toBe(false);
      expect(await store.releaseLease('deliver', 'b')).toBe(true);
      expect(await store.tryAcquireLease('deliver', 'a', 30_000, now)).toBe(true);
      await expect(store.tryAcquireLease('deliver', 'a', 0, now)).rejects.toThrow(/ttlMs/);
    });

    it('saves and replaces positions, with state and the last error', async () => {
      await store.savePosition('slack:ops', { cursor: 3, state: 'active', failures: 0, at: new Date() });
      await store.savePosition('slack:ops', { cursor: 5, state: 'failing', failures: 2, lastError: 'HTTP 500', at: '2026-11-22T12:00:00.000Z' });
      expect(await store.position('slack:ops')).toEqual({ destination: 'slack:ops', cursor: 5, state: 'failing', failures: 2, lastError: 'HTTP 500', updatedAt: '2026-11-22T12:00:00.000Z' });
      expect((await store.positions()).map((p) => p.destination)).toEqual(['slack:ops']);
      await expect(store.savePosition('x', { cursor: -1, state: 'active', failures: 0, at: new Date() })).rejects.toBeInstanceOf(LedgerInputError);
      await expect(store.savePosition('x', { cursor: 1, state: 'active', failures: 0, at: 'yesterday' })).rejects.toThrow(/at/);
    });
  });
}
