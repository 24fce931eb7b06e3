// The subscription store suite on embedded SQLite: a temp file, and next to a ledger in the same file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { openLedger, openSubscriptionStore } from '../src/index.js';
import { subscriptionSuite } from './support/subscription-suite.js';

subscriptionSuite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deploybus-subscriptions-'));
  const store = await openSubscriptionStore(`sqlite:${join(dir, 'notifier.db')}`);
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

it('shares one SQLite file with the ledger: each migrates its own tables', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deploybus-subscriptions-'));
  const url = `sqlite:${join(dir, 'shared.db')}`;
  const ledger = await openLedger(url);
  const store = await openSubscriptionStore(url);
  try {
    expect(await ledger.migrate()).toEqual(['0001-initial']);
    expect(await store.migrate()).toEqual(['0001-subscriptions', '0002-leases']);
    expect(await ledger.migrate()).toEqual([]);
  } finally {
    await store.close();
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
