// The subscription store suite on the real PostgreSQL, each run in a fresh random schema dropped afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { subscriptionSuite } from './support/subscription-suite.js';
import { openSubscriptionStore } from '../src/index.js';

const POSTGRES_URL = process.env['DEPLOYBUS_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

subscriptionSuite('PostgreSQL', async () => {
  const schema = `notifier_test_${randomBytes(6).toString('hex')}`;
  const store = await openSubscriptionStore(POSTGRES_URL, { schema });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
});
