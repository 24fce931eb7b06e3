// What status, history and tail show people, from the API's answers (parsed by the client's schemas).
import { describe, expect, it } from 'vitest';
import { deploymentSummarySchema, lockSchema, matrixSchema, busEventSchema } from '../src/api-client.js';
import { renderHistory, renderStatus } from '../src/state-commands.js';
import { describeEvent } from '../src/event-lines.js';
import { cutTailNotice, readLogs, RecentIds } from '../src/stream-commands.js';

const deployment = deploymentSummarySchema.parse({
  deploymentId: 'd-1',
  app: 'shop',
  env: 'production',
  ref: 'v1.4.1',
  sha: null,
  state: 'failed',
  requestedBy: 'ada',
  requestedAt: '2026-11-22T10:00:00.000Z',
  startedAt: '2026-11-22T10:00:01.000Z',
  finishedAt: '2026-11-22T10:01:06.000Z',
  durationMs: null,
  reason: 'web2: health-check failed',
});

describe('status', () => {
  it('shows the queue, the locks, and each matrix with mixed versions and drift marked', () => {
    const lock = lockSchema.parse({ env: 'production', by: 'ada', reason: 'freeze', at: '2026-11-22T09:00:00.000Z' });
    const matrix = matrixSchema.parse({
      app: 'shop',
      env: 'production',
      commonRef: 'v1.4.0',
      lastDeployedRef: 'v1.4.0',
      hosts: [
        { host: 'web1', ref: 'v1.4.0', release: 'r1', sha: null, at: '2026-11-22T08:00:00.000Z', drift: false, differsFromCommon: false },
        { host: 'web2', ref: 'v1.3.9', release: 'r0', at: '2026-11-21T08:00:00.000Z', drift: true, differsFromCommon: true },
      ],
    });
    expect(renderStatus([{ ...deployment, state: 'running' }], [lock], [matrix])).toBe(
      [
        'Running and queued:',
        '  ID   APP   ENV         REF     STATE    BY   SINCE',
        '  d-1  shop  production  v1.4.1  running  ada  2026-11-22 10:00:01',
        '',
        'Locks:',
        '  ENV         APP    BY   SINCE                REASON',
        '  production  (all)  ada  2026-11-22 09:00:00  freeze',
        '',
        'Releases of shop in production, last deployed v1.4.0, most hosts on v1.4.0: (MIXED versions)',
        '  HOST  REF     SHA  RELEASE  SINCE                FLAGS',
        '  web1  v1.4.0  -    r1       2026-11-22 08:00:00',
        '  web2  v1.3.9  -    r0       2026-11-21 08:00:00  DRIFT differs',
        '',
      ].join('\n'),
    );
    expect(renderStatus([], [], [], { app: 'shop' })).toBe('Running and queued: none\n\nLocks: none\n\nReleases: no agent reports serving shop\n');
  });

  it('history: one row per deployment with its duration and reason', () => {
    expect(renderHistory([deployment])).toBe(
      ['ID   APP   ENV         REF     STATE   BY   REQUESTED            DURATION  REASON', 'd-1  shop  production  v1.4.1  failed  ada  2026-11-22 10:00:00  1m05s     web2: health-check failed', ''].join('\n'),
    );
  });

  it('reads the ledger\'s own names (id, createdAt) as well', () => {
    const old = deploymentSummarySchema.parse({ id: 'd-2', app: 'a', env: 'e', ref: 'r', state: 'queued', createdAt: '2026-11-22T10:00:00.000Z' });
    expect([old.deploymentId, old.requestedAt]).toEqual(['d-2', '2026-11-22T10:00:00.000Z']);
    expect(deploymentSummarySchema.safeParse({ app: 'a', env: 'e', ref: 'r', state: 'queued' }).success).toBe(false);
  });
});

describe('tail', () => {
  it('describes known events in one line, and shows unknown ones as compact JSON', () => {
    const event = (type: string, payload: unknown): ReturnType<typeof busEventSchema.parse> => busEventSchema.parse({ id: 'm1', type, time: '2026-11-22T10:00:05.000Z', payload });
    expect(describeEvent(event('deploy.host-result', { deploymentId: 'd-0000001', app: 'shop', env: 'production', host: 'web1', outcome: 'failed', error: 'exit 3' }))).toBe(
      '10:00:05  deploy.host-result  shop/production d-0000001 web1 failed: exit 3',
    );
    expect(describeEvent(event('presence.changed', { service: 'deploy-agent', host: 'web1', instance: 'i', state: 'down', lastSeen: '2026-11-22T10:00:00.000Z' }))).toBe('10:00:05  presence.changed  deploy-agent@web1 down');
    expect(describeEvent(event('something.new', { a: 1 }))).toBe('10:00:05  something.new  {"a":1}');
  });

  it('tail drops an event it already printed (a replay overlapping the old stream), remembering the last ids only', () => {
    const seen = new RecentIds(2);
    expect(seen.add('a')).toBe(true);
    expect(seen.add('a')).toBe(false);
    expect(seen.add('b')).toBe(true);
    expect(seen.add('c')).toBe(true); // 'a' is forgotten
    expect(seen.add('b')).toBe(false);
    expect(seen.add('a')).toBe(true);
  });
});

describe('logs', () => {
  it('reads on from the lines received when an answer holds fewer than asked, until it has them or the log ends', async () => {
    // 2,500 lines; the API answers at most 300 per request, as when long lines fill a bus answer.
    const all = Array.from({ length: 2_500 }, (_, i) => ({ host: 'web1', seq: i, at: '2026-11-23T10:00:00.000Z', stream: 'stdout' as const, line: `line ${i}` }));
    const asked: Array<{ offset?: number | undefined; limit?: number | undefined }> = [];
    const api = {
      logs: async (_id: string, query: { offset?: number | undefined; limit?: number | undefined }) => {
        asked.push({ offset: query.offset, limit: query.limit });
        const offset = query.offset ?? 0;
        const page = all.slice(offset, offset + Math.min(query.limit ?? 1_000, 300));
        return { lines: page, truncated: page.length < (query.limit ?? 1_000) && offset + page.length < all.length };
      },
    };
    const { lines, cutTail } = await readLogs(api, 'd-1', { limit: 1_000 });
    expect(cutTail).toBe(false);
    expect(lines.map((l) => l.seq)).toEqual(all.slice(0, 1_000).map((l) => l.seq));
    expect(asked[1]).toEqual({ offset: 300, limit: 700 });
    const end = (await readLogs(api, 'd-1', { offset: 2_400, limit: 1_000 })).lines;
    expect(end.map((l) => l.seq)).toEqual(all.slice(2_400).map((l) => l.seq));
  });

  it('a tail that did not fit comes back cut (its newest lines), and the notice says how many of how many', async () => {
    const all = Array.from({ length: 500 }, (_, i) => ({ host: 'web1', seq: i, at: '2026-11-23T10:00:00.000Z', stream: 'stdout' as const, line: `line ${i}` }));
    const api = {
      logs: async (_id: string, query: { tail?: number | undefined }) => {
        const wanted = all.slice(-(query.tail ?? 0));
        const fits = wanted.slice(-120); // the newest 120 fit in one answer
        return { lines: fits, truncated: fits.length < wanted.length };
      },
    };
    const cut = await readLogs(api, 'd-1', { tail: 200 });
    expect(cut.cutTail).toBe(true);
    expect(cut.lines.map((l) => l.seq)).toEqual(all.slice(-120).map((l) => l.seq));
    expect(cutTailNotice(cut.lines.length, 200)).toBe('deploybus: only the last 120 of the 200 lines asked for fit in one answer (long lines); page through the whole log with --offset and --limit\n');
    expect((await readLogs(api, 'd-1', { tail: 50 })).cutTail).toBe(false);
  });
});
