// Test runner config. Unit tests run in parallel; tests against the real RabbitMQ and PostgreSQL run
// one file at a time, because some of them stop and start the broker, and so do the end-to-end runs of
// whole systems (tests/**/*.e2e.test.ts), which are heavy.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const workspaces = {
  '@deploybus/protocol': 'packages/protocol',
  '@deploybus/bus': 'packages/bus',
  '@deploybus/runtime': 'packages/runtime',
  '@deploybus/git': 'packages/git',
  '@deploybus/store': 'packages/store',
  '@deploybus/jenkins': 'packages/jenkins',
  '@deploybus/deploy-agent': 'services/deploy-agent',
  '@deploybus/conductor': 'services/conductor',
  '@deploybus/git-watcher': 'services/git-watcher',
  '@deploybus/jenkins-trigger': 'services/jenkins-trigger',
  '@deploybus/repo-updater': 'services/repo-updater',
  '@deploybus/keepalive': 'services/keepalive',
  '@deploybus/cli': 'services/cli',
  '@deploybus/web': 'services/web',
  '@deploybus/notifier': 'services/notifier',
  '@deploybus/all-in-one': 'all-in-one',
};
// Tests run on the TypeScript sources of every workspace, not on their build output: each entry of a
// workspace's package.json `exports` ("." and subpaths such as "./launch") maps, by exact name, to the
// source file its "types" names.
type Exports = Record<string, { types?: string }>;
const alias = Object.entries(workspaces).flatMap(([name, dir]) => {
  const exports = (JSON.parse(readFileSync(new URL(`./${dir}/package.json`, import.meta.url), 'utf8')) as { exports?: Exports }).exports ?? {};
  return Object.entries(exports).flatMap(([subpath, target]) =>
    target.types === undefined
      ? []
      : [{ find: new RegExp(`^${(subpath === '.' ? name : `${name}/${subpath.slice(2)}`).replace(/[/.]/g, '\\$&')}$`), replacement: fileURLToPath(new URL(`./${dir}/${target.types.slice(2)}`, import.meta.url)) }],
  );
});

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'all-in-one/test/**/*.test.ts'],
          exclude: ['**/*.broker.test.ts', '**/node_modules/**'],
          testTimeout: 20_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'broker',
          include: ['packages/*/test/**/*.broker.test.ts', 'services/*/test/**/*.broker.test.ts', 'tests/**/*.broker.test.ts', 'tests/**/*.e2e.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
