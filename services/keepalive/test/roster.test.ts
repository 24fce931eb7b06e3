// The roster's logic on a fake clock: appear, time out once, come back, restart, retention, filters.
import { describe, expect, it } from 'vitest';
import { fitEntries, Roster, type HeartbeatPayload, type RosterOptions } from '../src/roster.js';

const OPTIONS: RosterOptions = { timeoutMultiplier: 3, minTimeoutMs: 5_000, retentionMs: 60_000 };
const T0 = Date.parse('2026-11-22T10:00:00.000Z');

/** A roster on a clock the test moves; heartbeats are "sent" at the fake now unless told. */
function setup(options: RosterOptions = OPTIONS) {
  let now = T0;
  const roster = new Roster(options, () => now);
  return {
    roster,
    advance(ms: number): void {
      now += ms;
    },
    beat(overrides: Partial<HeartbeatPayload> = {}, sentAt: number = now) {
      const payload: HeartbeatPayload = { service: 'deploy-agent', host: 'web1', instance: 'web1-100', version: '1.0.0', uptimeMs: 1_000, intervalMs: 2_000, ...overrides };
      return roster.observe(payload, new Date(sentAt).toISOString());
    },
  };
}

describe('Roster', () => {
  it('reports a daemon that appears as up, once', () => {
    const { roster, beat, advance } = setup();
    expect(beat()).toEqual([{ service: 'deploy-agent', host: 'web1', instance: 'web1-100', state: 'up', lastSeen: '2026-11-22T10:00:00.000Z', reason: 'appeared' }]);
    advance(2_000);
    expect(beat()).toEqual([]);
    expect(roster.check()).toEqual([]);
    expect(roster.entries()).toEqual([
      { service: 'deploy-agent', host: 'web1', instance: 'web1-100', version: '1.0.0', state: 'up', firstSeen: '2026-11-22T10:00:00.000Z', lastSeen: '2026-11-22T10:00:02.000Z', uptimeMs: 1_000, intervalMs: 2_000 },
    ]);
  });

  it('reports a daemon silent past multiplier x interval as down exactly once', () => {
    const { roster, beat, advance } = setup();
    beat({ intervalMs: 4_000 }); // timeout 12 s
    advance(12_000);
    expect(roster.check()).toEqual([]);
    advance(1);
    expect(roster.check()).toEqual([{ service: 'deploy-agent', host: 'web1', instance: 'web1-100', state: 'down', lastSeen: '2026-11-22T10:00:00.000Z', reason: 'timed-out' }]);
    advance(5_000);
    expect(roster.check()).toEqual([]);
    expect(roster.entries()[0]?.state).toBe('down');
  });

  it('never times out faster than minTimeoutMs, whatever the interval', () => {
    const { roster, beat, advance } = setup();
    beat({ intervalMs: 200 }); // 3 x 200 = 600 ms, floored to 5 s
    advance(4_999);
    expect(roster.check()).toEqual([]);
    advance(2);
    expect(roster.check().map((c) => c.state)).toEqual(['down']);
  });

  it('reports a daemon that comes back as up again, with the new lastSeen', () => {
    const { roster, beat, advance } = setup();
    beat();
    advance(6_001);
    expect(roster.check().map((c) => c.state)).toEqual(['down']);
    advance(1_000);
    expect(beat({ uptimeMs: 8_000 })).toEqual([{ service: 'deploy-agent', host: 'web1', instance: 'web1-100', state: 'up', lastSeen: '2026-11-22T10:00:07.001Z', reason: 'returned' }]);
    expect(roster.entries()[0]).toMatchObject({ state: 'up', uptimeMs: 8_000, firstSeen: '2026-11-22T10:00:00.000Z' });
  });

  it('does not bring a down daemon back on a late copy of an old heartbeat', () => {
    const { roster, beat, advance } = setup();
    beat();
    advance(2_000);
    beat();
    advance(6_001);
    expect(roster.check().map((c) => c.state)).toEqual(['down']);
    expect(beat({}, T0 + 1_000)).toEqual([]);
    expect(beat({}, T0 + 2_000)).toEqual([]);
    expect(roster.entries()[0]?.state).toBe('down');
  });

  it('shows a restart as the new instance up and the old one down after one missed beat, before its timeout', () => {
    const { roster, beat, advance } = setup();
    beat({ instance: 'web1-100' });
    advance(500);
    expect(beat({ instance: 'web1-200', uptimeMs: 10 })).toEqual([expect.objectContaining({ instance: 'web1-200', state: 'up', reason: 'appeared' })]);
    advance(2_400); // old silent 2.9 s: one interval (2 s) and a half not yet over
    expect(roster.check()).toEqual([]);
    advance(200);
    expect(roster.check()).toEqual([{ service: 'deploy-agent', host: 'web1', instance: 'web1-100', state: 'down', lastSeen: '2026-11-22T10:00:00.000Z', reason: 'replaced' }]);
    expect(roster.entries().map((e) => [e.instance, e.state])).toEqual([
      ['web1-100', 'down'],
      ['web1-200', 'up'],
    ]);
  });

  it('keeps two instances that run side by side both up', () => {
    const { roster, beat, advance } = setup();
    beat({ instance: 'a' });
    advance(1_000);
    beat({ instance: 'b' });
    for (let i = 0; i < 10; i++) {
      advance(1_000);
      beat({ instance: i % 2 === 0 ? 'a' : 'b' });
      expect(roster.check()).toEqual([]);
    }
    expect(roster.entries().map((e) => e.state)).toEqual(['up', 'up']);
  });

  it('does not take an instance on another host, or of another service, for a successor', () => {
    const { roster, beat, advance } = setup();
    beat({ instance: 'old' });
    advance(100);
    beat({ instance: 'other-host', host: 'web2' });
    beat({ instance: 'other-service', service: 'repo-updater' });
    advance(3_100);
    expect(roster.check()).toEqual([]);
  });

  it('forgets down entries after the retention time, and treats a later heartbeat as a new appearance', () => {
    const { roster, beat, advance } = setup();
    beat({ instance: 'gone' });
    beat({ instance: 'stays', host: 'web2' });
    advance(6_001);
    beat({ instance: 'stays', host: 'web2' });
    expect(roster.check().map((c) => [c.instance, c.state])).toEqual([['gone', 'down']]);
    advance(54_000); // 60.001 s since "gone" was last heard: retention is 60 s
    beat({ instance: 'stays', host: 'web2' });
    roster.check();
    expect(roster.entries().map((e) => e.instance)).toEqual(['stays']);
    expect(roster.size).toBe(1);
    expect(beat({ instance: 'gone' })).toEqual([expect.objectContaining({ instance: 'gone', state: 'up', reason: 'appeared' })]);
  });

  it('never drops an entry that is still up, whatever the retention', () => {
    const { roster, beat, advance } = setup({ ...OPTIONS, retentionMs: 0 });
    beat();
    advance(3_000);
    roster.check();
    expect(roster.entries()).toHaveLength(1);
  });

  it('does not count time while paused (keepalive lost the bus) as anyone\'s silence', () => {
    const { roster, beat, advance } = setup();
    beat(); // timeout 6 s
    advance(4_000);
    roster.pause();
    advance(60_000);
    expect(roster.check()).toEqual([]);
    roster.resume();
    // Its own 2 s of timeout left would end here, but daemons get the reconnect grace (15 s) to be heard.
    advance(14_999);
    expect(roster.check()).toEqual([]);
    advance(2);
    expect(roster.check()).toEqual([expect.objectContaining({ state: 'down', reason: 'timed-out' })]);
  });

  it('keeps the time a daemon had left after an outage when that is longer than the reconnect grace', () => {
    const { roster, beat, advance } = setup(); // timeout 6 s
    beat();
    roster.pause();
    advance(60_000);
    roster.resume();
    // Heard just before the outage: 6 s left, more than a 1 s grace.
    const graceOnly = setup({ ...OPTIONS, reconnectGraceMs: 1_000 });
    graceOnly.beat();
    graceOnly.roster.pause();
    graceOnly.advance(60_000);
    graceOnly.roster.resume();
    graceOnly.advance(5_999);
    expect(graceOnly.roster.check()).toEqual([]);
    graceOnly.advance(2);
    expect(graceOnly.roster.check()).toEqual([expect.objectContaining({ state: 'down' })]);
    advance(14_999);
    expect(roster.check()).toEqual([]);
  });

  it('holds at most maxEntries: a new instance takes the place of the one down longest, and is not tracked when none is down', () => {
    const { roster, beat, advance } = setup({ ...OPTIONS, maxEntries: 3 });
    for (const host of ['web1', 'web2', 'web3']) beat({ host, instance: `${host}-1` });
    expect(beat({ host: 'web4', instance: 'web4-1' })).toEqual([]);
    expect(roster.refused).toBe(1);
    expect(roster.entries().map((e) => e.instance)).toEqual(['web1-1', 'web2-1', 'web3-1']);

    advance(3_000);
    beat({ host: 'web2', instance: 'web2-1' });
    beat({ host: 'web3', instance: 'web3-1' });
    advance(3_000);
    beat({ host: 'web3', instance: 'web3-1' });
    advance(4_000); // web1 silent 10 s, web2 7 s: both past their 6 s timeout
    expect(roster.check().map((c) => [c.instance, c.state])).toEqual([
      ['web1-1', 'down'],
      ['web2-1', 'down'],
    ]);
    expect(beat({ host: 'web4', instance: 'web4-1' }).map((c) => [c.instance, c.state, c.reason])).toEqual([['web4-1', 'up', 'appeared']]);
    expect(roster.entries().map((e) => e.instance)).toEqual(['web2-1', 'web3-1', 'web4-1']); // web1, down longest, made room
    beat({ host: 'web5', instance: 'web5-1' });
    expect(roster.entries().map((e) => e.instance)).toEqual(['web3-1', 'web4-1', 'web5-1']);
    expect(beat({ host: 'web6', instance: 'web6-1' })).toEqual([]);
    expect(roster.refused).toBe(2);
    expect(roster.size).toBe(3);
  });

  it('filters by service and host (host names compare case-insensitively) and sorts the rest', () => {
    const { roster, beat } = setup();
    beat({ service: 'repo-updater', host: 'web2', instance: 'r2' });
    beat({ service: 'deploy-agent', host: 'web2', instance: 'd2' });
    beat({ service: 'deploy-agent', host: 'web1', instance: 'd1', apps: [{ app: 'shop', env: 'production', release: 'r1' }] });
    beat({ service: 'keepalive', host: 'ops1', instance: 'k1' });
    expect(roster.entries().map((e) => e.instance)).toEqual(['d1', 'd2', 'k1', 'r2']);
    expect(roster.entries({ service: 'deploy-agent' }).map((e) => e.instance)).toEqual(['d1', 'd2']);
    expect(roster.entries({ host: 'WEB2' }).map((e) => e.instance)).toEqual(['d2', 'r2']);
    expect(roster.entries({ service: 'deploy-agent', host: 'web1' })).toEqual([expect.objectContaining({ instance: 'd1', apps: [{ app: 'shop', env: 'production', release: 'r1' }] })]);
    expect(roster.entries({ service: 'conductor' })).toEqual([]);
  });
});

describe('fitEntries', () => {
  it('keeps every entry that fits and says when some were left out', () => {
    const { roster, beat } = setup();
    for (let i = 0; i < 50; i++) beat({ instance: `i-${String(i).padStart(2, '0')}` });
    const all = roster.entries();
    expect(fitEntries(all)).toEqual({ entries: all, truncated: false });
    const oneSize = Buffer.byteLength(JSON.stringify(all[0])) + 1;
    const cut = fitEntries(all, 16 * 1024 + 2 + oneSize * 10);
    expect(cut.truncated).toBe(true);
    expect(cut.entries).toEqual(all.slice(0, 10));
  });
});
