// The progress reporter's batching, on the in-memory bus: long lines go out in batches that fit a bus
// message, every line arrives, in order.
import { afterEach, expect, it } from 'vitest';
import { connectBus, type Bus } from '@deploybus/bus';
import { encodeMessage, type Message } from '@deploybus/protocol';
import { TaskReporter } from '../src/index.js';
import { randomName, waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { CaptureLogger } from '../../../packages/bus/test/support/capture-logger.js';

const buses: Bus[] = [];
afterEach(async () => {
  for (const bus of buses.splice(0)) await bus.close();
});

it('sends long lines in batches that fit a bus message (1 MiB), whatever logBatchLines says, and loses none', async () => {
  const url = `memory://${randomName('reporter')}`;
  const agent = await connectBus(url, { service: 'deploy-agent', host: 'web1' });
  const watcher = await connectBus(url, { service: 'conductor', host: 'ops1' });
  buses.push(agent, watcher);
  const batches: Message[] = [];
  await watcher.subscribe({ patterns: ['task.log.#'] }, (m) => void batches.push(m));
  const logger = new CaptureLogger();
  const reporter = new TaskReporter({ bus: agent, logger, scope: { deploymentId: 'd-long-lines', app: 'shop', env: 'production', host: 'web1' }, correlationId: 'c-1', batchMs: 60_000, batchLines: 200 });
  reporter.started('build');
  // 400 lines of 6,000 characters (minified-bundle warnings), some of them quoting: 200 of them came to 1.2 MB.
  const lines = Array.from({ length: 400 }, (_, i) => `${i}: ${(i % 3 === 0 ? '"' : 'x').repeat(6_000)}`);
  for (const text of lines) reporter.line({ stream: 'stdout', text, at: new Date().toISOString() });
  reporter.completed('build', true, 10);
  await reporter.drain();
  await waitFor('every line', () => batches.flatMap((b) => (b.payload as { lines: unknown[] }).lines).length === 400);
  for (const batch of batches) expect(encodeMessage(batch).byteLength).toBeLessThan(1_048_576);
  expect(batches.flatMap((b) => (b.payload as { lines: { text: string }[] }).lines.map((l) => l.text))).toEqual(lines);
  expect(batches.map((b) => (b.payload as { seq: number }).seq)).toEqual(batches.map((_, i) => i));
  expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
});
