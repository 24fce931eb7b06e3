// Test runner config. Unit tests run in parallel; tests against the real RabbitMQ and PostgreSQL run
// one file at a time, because some of them stop and start the broker.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const alias = {
  '@deploybus/protocol': fileURLToPath(new URL('./packages/protocol/src/index.ts', import.meta.url)),
  '@deploybus/demo': fileURLToPath(new URL('./services/demo/src/index.ts', import.meta.url)),
  '@deploybus/bus': fileURLToPath(new URL('./packages/bus/src/index.ts', import.meta.url)),
};

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts'],
          exclude: ['**/*.broker.test.ts', '**/node_modules/**'],
          testTimeout: 20_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'broker',
          include: ['packages/*/test/**/*.broker.test.ts', 'services/*/test/**/*.broker.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
