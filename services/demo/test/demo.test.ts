// The `npm start` demo really moves messages: a commit leads to a green build, and the fleet's
// state is gathered with the silent agent reported by name.
import { afterEach, expect, it } from 'vitest';
import { startDemo, type RunningDemo } from '../src/index.js';

let demo: RunningDemo | undefined;
afterEach(async () => {
  await demo?.stop();
});

it('runs the chain commit -> build -> fleet state on the in-memory bus', async () => {
  const lines: string[] = [];
  const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  demo = await startDemo({ busUrl: `memory://demo-${Date.now()}`, logger: silent, print: (l) => lines.push(l), commitEveryMs: 60_000 });
  const deadline = Date.now() + 10_000;
  while (!lines.some((l) => l.includes('state of the fleet')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(lines.some((l) => l.includes('git-watcher@git1 commit.pushed demo refs/heads/main'))).toBe(true);
  expect(lines.some((l) => l.includes('build.succeeded demo-ci #1'))).toBe(true);
  expect(lines.find((l) => l.includes('state of the fleet'))).toBe('  state of the fleet after build 1: answered web1, web2; no answer from web3');
});
