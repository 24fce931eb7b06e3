// The rollout runner on a fake gateway that answers as scripted, on vitest's fake clock.
import { createMessage, generateSigningKeyPair, verifyMessage } from '@deploybus/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CommandSigner, ConductorError, RolloutRunner, type AgentReply, type RolloutEvent, type RolloutSpec, type SignedCommand } from '../src/index.js';

const keys = generateSigningKeyPair();
const trusted = new Map([['conductor-test', keys.publicKey]]);
const SHA = '9fceb02d0ae598e95dc970b74767f19372d61af8';
const REPLY_DELAY_MS = 10;

/** How a fake agent answers a command: with a final reply, "accepted" then nothing, nothing at all, or a send that throws. */
type Script = 'succeed' | 'succeed-no-release' | 'fail' | 'refuse' | 'silent' | 'accept-silent' | 'unsendable';

interface Sent {
  readonly at: number;
  readonly host: string;
  readonly action: string;
  readonly command: SignedCommand;
}

interface HarnessOptions {
  readonly deploy?: Record<string, Script>;
  readonly rollback?: Record<string, Script>;
  readonly onSend?: (sent: Sent, runner: RolloutRunner) => void;
  readonly emit?: (event: RolloutEvent) => Promise<void> | void;
}

function spec(overrides: Partial<RolloutSpec> = {}): RolloutSpec {
  return {
    deploymentId: 'd-7f3c2a10',
    app: 'shop',
    env: 'production',
    ref: 'v1.4.1',
    sha: SHA,
    requestedBy: 'ada',
    batches: [['web1'], ['web2'], ['web3']],
    pauseMs: 0,
    hostTimeoutMs: 60_000,
    rollbackOnFailure: true,
    ...overrides,
  };
}

function harness(rolloutSpec: RolloutSpec, options: HarnessOptions = {}) {
  const sent: Sent[] = [];
  const events: RolloutEvent[] = [];
  const emitErrors: unknown[] = [];
  const signer = new CommandSigner({ source: { service: 'conductor', host: 'ops1' }, replyTo: 'reply.conductor-test', privateKey: keys.privateKey, keyId: 'conductor-test', ttlMs: 120_000 });
  const runner: RolloutRunner = new RolloutRunner(rolloutSpec, {
    commands: signer,
    gateway: {
      async send(host, command) {
        // What an agent checks first: the signature over the message as it travels.
        expect(verifyMessage(JSON.parse(JSON.stringify(command)), trusted).ok).toBe(true);
        const entry = { at: Date.now(), host, action: command.payload.action, command };
        if (entry.action === 'deploy' && sent.some((s) => s.host === host && s.action === 'deploy')) throw new Error(`double deploy of ${host}`);
        sent.push(entry);
        options.onSend?.(entry, runner);
        const script = (entry.action === 'rollback' ? options.rollback : options.deploy)?.[host] ?? 'succeed';
        if (script === 'unsendable') throw new Error('broker connection lost');
        const reply = (status: AgentReply['status'], extra: Partial<AgentReply> = {}) => {
          setTimeout(() => runner.deliverReply({ commandId: command.payload.commandId, host, status, ...extra }), REPLY_DELAY_MS);
        };
        if (script === 'silent') return;
        reply('accepted');
        if (script === 'accept-silent') return;
        if (script === 'succeed') reply('succeeded', { release: entry.action === 'rollback' ? '20261120090000-v1.4.0' : '20261122100012-v1.4.1' });
        if (script === 'succeed-no-release') reply('succeeded');
        if (script === 'fail') reply('failed', { failedStep: 'health-check', exitCode: 1, error: 'GET /health answered 503' });
        if (script === 'refuse') reply('refused', { error: 'unknown app shop' });
      },
    },
    emit(event) {
      // Every event must be a valid message of its type.
      createMessage(event.type, event.payload as never, { source: { service: 'conductor', host: 'ops1' } });
      events.push(event);
      return options.emit?.(event);
    },
    onEmitError: (error) => emitErrors.push(error),
  });
  return {
    runner,
    sent,
    events,
    emitErrors,
    async run() {
      const done = runner.run();
      await vi.runAllTimersAsync();
      return done;
    },
    hostResults: () => events.flatMap((e) => (e.type === 'deploy.host-result' ? [`${e.payload.host}:${e.payload.outcome}`] : [])),
    types: () => events.map((e) => e.type),
  };
}

beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse('2026-11-22T10:00:00.000Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('RolloutRunner', () => {
  it('deploys batch after batch and reports success with every host', async () => {
    const h = harness(spec({ batches: [['web1'], ['web2', 'web3']] }));
    const result = await h.run();
    expect(result.status).toBe('succeeded');
    expect(result.succeededHosts).toEqual(['web1', 'web2', 'web3']);
    expect(h.sent.map((s) => `${s.action}:${s.host}`)).toEqual(['deploy:web1', 'deploy:web2', 'deploy:web3']);
    expect(h.types()).toEqual(['deploy.started', 'deploy.batch', 'deploy.host-result', 'deploy.batch', 'deploy.host-result', 'deploy.host-result', 'deploy.succeeded']);
    expect(h.events[0]?.payload).toMatchObject({ hosts: ['web1', 'web2', 'web3'], batches: [['web1'], ['web2', 'web3']], sha: SHA });
    expect(h.events[1]?.payload).toEqual({ deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', index: 1, total: 2, hosts: ['web1'] });
    expect(h.events[3]?.payload).toMatchObject({ index: 2, total: 2, hosts: ['web2', 'web3'] });
    expect(h.events[2]?.payload).toMatchObject({ host: 'web1', outcome: 'succeeded', release: '20261122100012-v1.4.1', durationMs: REPLY_DELAY_MS });
    expect(h.events.at(-1)?.payload).toMatchObject({ succeededHosts: ['web1', 'web2', 'web3'], failedHosts: [] });
    // The second batch starts only once the first has answered.
    expect(h.sent[1]!.at - h.sent[0]!.at).toBe(REPLY_DELAY_MS);
    expect(h.sent[0]!.command.payload).toMatchObject({ deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', ref: 'v1.4.1', sha: SHA });
  });

  it('stops at a failure on host 2 and rolls host 1 back to its previous release', async () => {
    const h = harness(spec({ previousReleases: new Map([['web1', '20261120090000-v1.4.0']]) }), { deploy: { web2: 'fail' } });
    const result = await h.run();
    expect(result.status).toBe('failed');
    expect(h.sent.map((s) => `${s.action}:${s.host}`)).toEqual(['deploy:web1', 'deploy:web2', 'rollback:web1']);
    expect(h.sent[2]!.command.payload).toMatchObject({ action: 'rollback', release: '20261120090000-v1.4.0' });
    expect(h.hostResults()).toEqual(['web1:succeeded', 'web2:failed', 'web1:rolled-back']);
    expect(result).toMatchObject({ succeededHosts: [], failedHosts: ['web2', 'web1'], rolledBackHosts: ['web1'] });
    const failed = h.events.at(-1);
    expect(failed?.type).toBe('deploy.failed');
    expect(failed?.payload).toMatchObject({ succeededHosts: [], failedHosts: ['web2', 'web1'] });
    expect(result.reason).toContain('web2: failed at health-check (exit 1): GET /health answered 503');
    expect(result.reason).toContain('rolled back web1');
  });

  it('leaves the finished hosts alone when rollbackOnFailure is off', async () => {
    const h = harness(spec({ rollbackOnFailure: false }), { deploy: { web2: 'fail' } });
    const result = await h.run();
    expect(h.sent.map((s) => s.action)).toEqual(['deploy', 'deploy']);
    expect(result).toMatchObject({ status: 'failed', succeededHosts: ['web1'], failedHosts: ['web2'], rolledBackHosts: [] });
  });

  it('reports a silent host as no-response, never success, and ignores its late reply', async () => {
    const h = harness(spec({ batches: [['web1', 'web2']] }), { deploy: { web2: 'silent' } });
    const result = await h.run();
    expect(result.status).toBe('failed');
    expect(h.hostResults()).toEqual(['web1:succeeded', 'web2:no-response', 'web1:rolled-back']);
    expect(result.succeededHosts).not.toContain('web2');
    expect(result.failedHosts).toContain('web2');
    const web2 = h.sent.find((s) => s.host === 'web2')!;
    expect(h.runner.deliverReply({ commandId: web2.command.payload.commandId, host: 'web2', status: 'succeeded' })).toBe(false);
    expect(result.results.find((r) => r.host === 'web2')).toMatchObject({ outcome: 'no-response', durationMs: 60_000 });
    // The command expired with the host timeout: the agent will not take it once nobody waits for it.
    expect(Date.parse(web2.command.expiresAt ?? '') - Date.parse(web2.command.time)).toBe(60_000);
    expect(result.results.find((r) => r.host === 'web2')?.error).toContain('expired with this timeout, so it will not run it later');
  });

  it('counts "accepted" without a final reply as no-response, and says it was accepted', async () => {
    const h = harness(spec({ batches: [['web1']] }), { deploy: { web1: 'accept-silent' } });
    const result = await h.run();
    expect(result.results[0]).toMatchObject({ outcome: 'no-response' });
    expect(result.results[0]?.error).toContain('accepted');
  });

  it('also rolls back a host that accepted and went quiet (it may still be deploying), alongside the others', async () => {
    const h = harness(spec({ batches: [['web1', 'web2'], ['web3', 'web4']] }), { deploy: { web3: 'accept-silent' } });
    const result = await h.run();
    const rollbacks = h.sent.filter((s) => s.action === 'rollback');
    // web3's rollback (its agent runs it after the deploy) goes out with web4's; web1 and web2 follow once web4 answered.
    expect(rollbacks.map((s) => s.host)).toEqual(['web3', 'web4', 'web1', 'web2']);
    expect(rollbacks[0]!.at).toBe(rollbacks[1]!.at);
    expect(rollbacks[2]!.at - rollbacks[1]!.at).toBe(REPLY_DELAY_MS);
    expect(h.hostResults()).toEqual(['web1:succeeded', 'web2:succeeded', 'web4:succeeded', 'web3:no-response', 'web3:rolled-back', 'web4:rolled-back', 'web1:rolled-back', 'web2:rolled-back']);
    expect(result).toMatchObject({ status: 'failed', succeededHosts: [], rolledBackHosts: ['web4', 'web1', 'web2', 'web3'] });
    expect([...result.failedHosts].sort()).toEqual(['web1', 'web2', 'web3', 'web4']);
  });

  it('does not hold the healthy hosts\' rollback up behind a quiet host\'s (most often a dead agent), which stays unknown', async () => {
    const h = harness(spec({ batches: [['web1'], ['web2']] }), { deploy: { web2: 'accept-silent' }, rollback: { web2: 'silent' } });
    const result = await h.run();
    const rollbacks = h.sent.filter((s) => s.action === 'rollback');
    expect(rollbacks.map((s) => s.host)).toEqual(['web2', 'web1']);
    expect(rollbacks[1]!.at).toBe(rollbacks[0]!.at);
    expect(h.hostResults()).toEqual(['web1:succeeded', 'web2:no-response', 'web1:rolled-back', 'web2:no-response']);
    expect(result.results.at(-1)?.error).toContain('the host may still run');
    expect(result).toMatchObject({ succeededHosts: [], failedHosts: ['web2', 'web1'] });
  });

  it('a quiet host whose rollback fails too stays unknown (no-response), never "still runs the new release"', async () => {
    const h = harness(spec({ batches: [['web1'], ['web2']] }), { deploy: { web2: 'accept-silent' }, rollback: { web2: 'fail' } });
    const result = await h.run();
    expect(h.hostResults()).toEqual(['web1:succeeded', 'web2:no-response', 'web2:no-response', 'web1:rolled-back']);
    expect(result.results.find((r) => r.host === 'web2' && r.action === 'rollback')?.error).toContain('may run either release');
    expect(result).toMatchObject({ succeededHosts: [], failedHosts: ['web2', 'web1'] });
  });

  it('a host whose deploy succeeded without naming a release and whose rollback fails is still counted as running the new release', async () => {
    const h = harness(spec({ batches: [['web1'], ['web2']] }), { deploy: { web1: 'succeed-no-release', web2: 'fail' }, rollback: { web1: 'fail' } });
    const result = await h.run();
    expect(h.hostResults()).toEqual(['web1:succeeded', 'web2:failed', 'web1:rollback-failed']);
    expect(result).toMatchObject({ succeededHosts: ['web1'], failedHosts: ['web2'] });
  });

  it('reports a refused command as refused and stops', async () => {
    const h = harness(spec(), { deploy: { web1: 'refuse' } });
    const result = await h.run();
    expect(h.hostResults()).toEqual(['web1:refused']);
    expect(result).toMatchObject({ status: 'failed', failedHosts: ['web1'] });
    expect(result.reason).toContain('unknown app shop');
  });

  it('reports a command that could not be sent as failed, with the cause', async () => {
    const h = harness(spec(), { deploy: { web1: 'unsendable' } });
    const result = await h.run();
    expect(result.results[0]).toMatchObject({ outcome: 'failed' });
    expect(result.results[0]?.error).toContain('broker connection lost');
    expect(h.sent).toHaveLength(1);
  });

  it('stops everything when the canary fails, with nothing to roll back', async () => {
    const h = harness(spec({ batches: [['web1'], ['web2', 'web3']] }), { deploy: { web1: 'fail' } });
    const result = await h.run();
    expect(h.sent.map((s) => `${s.action}:${s.host}`)).toEqual(['deploy:web1']);
    expect(result).toMatchObject({ status: 'failed', succeededHosts: [], failedHosts: ['web1'], rolledBackHosts: [] });
    expect(h.types()).toEqual(['deploy.started', 'deploy.batch', 'deploy.host-result', 'deploy.failed']);
  });

  it('lets the rest of a batch finish when one host fails, then rolls back latest batch first', async () => {
    const h = harness(spec({ batches: [['web1'], ['web2', 'web3'], ['web4']] }), { deploy: { web3: 'fail' } });
    const result = await h.run();
    expect(h.sent.filter((s) => s.action === 'deploy').map((s) => s.host)).toEqual(['web1', 'web2', 'web3']);
    expect(h.sent.filter((s) => s.action === 'rollback').map((s) => s.host)).toEqual(['web2', 'web1']);
    // web2's batch is rolled back before web1's starts.
    const rollbacks = h.sent.filter((s) => s.action === 'rollback');
    expect(rollbacks[1]!.at - rollbacks[0]!.at).toBe(REPLY_DELAY_MS);
    expect(result).toMatchObject({ failedHosts: ['web3', 'web2', 'web1'], rolledBackHosts: ['web2', 'web1'] });
  });

  it('keeps a host whose rollback failed among the hosts running the new release, and says so', async () => {
    const h = harness(spec(), { deploy: { web2: 'fail' }, rollback: { web1: 'fail' } });
    const result = await h.run();
    // Not "web1:failed": web1's deploy succeeded, and it still runs the release it deployed.
    expect(h.hostResults()).toEqual(['web1:succeeded', 'web2:failed', 'web1:rollback-failed']);
    const web1 = h.events.filter((e) => e.type === 'deploy.host-result' && e.payload.host === 'web1').map((e) => (e.type === 'deploy.host-result' ? e.payload.release : undefined));
    expect(web1[1]).toBe(web1[0]);
    expect(web1[0]).toBeDefined();
    expect(result).toMatchObject({ succeededHosts: ['web1'], failedHosts: ['web2'], rolledBackHosts: [] });
    expect(result.reason).toContain('rollback did not complete on web1');
  });

  it('pauses between batches, not before the first or after the last', async () => {
    const h = harness(spec({ pauseMs: 5_000 }));
    const result = await h.run();
    const t0 = h.sent[0]!.at;
    expect(h.sent.map((s) => s.at - t0)).toEqual([0, REPLY_DELAY_MS + 5_000, 2 * (REPLY_DELAY_MS + 5_000)]);
    expect(result.durationMs).toBe(3 * REPLY_DELAY_MS + 2 * 5_000);
  });

  it('cancels before the next batch: the batch in flight finishes, nothing is rolled back', async () => {
    const h = harness(spec(), {
      onSend: (sent, runner) => {
        if (sent.host === 'web2') expect(runner.cancel('bob', 'wrong tag')).toBe(true);
      },
    });
    const result = await h.run();
    expect(h.sent.map((s) => `${s.action}:${s.host}`)).toEqual(['deploy:web1', 'deploy:web2']);
    expect(result).toMatchObject({ status: 'cancelled', succeededHosts: ['web1', 'web2'], rolledBackHosts: [] });
    expect(h.types()).toEqual(['deploy.started', 'deploy.batch', 'deploy.host-result', 'deploy.batch', 'deploy.host-result', 'deploy.cancelled']);
    expect(h.events.at(-1)?.payload).toEqual({ deploymentId: 'd-7f3c2a10', app: 'shop', env: 'production', cancelledBy: 'bob', reason: 'wrong tag' });
    expect(h.runner.cancel('carol', 'again')).toBe(false);
  });

  it('finishes as succeeded when the cancel comes during the last batch', async () => {
    const h = harness(spec(), {
      onSend: (sent, runner) => {
        if (sent.host === 'web3') runner.cancel('bob', 'too late');
      },
    });
    const result = await h.run();
    expect(result).toMatchObject({ status: 'succeeded', succeededHosts: ['web1', 'web2', 'web3'] });
    expect(h.types()).not.toContain('deploy.cancelled');
  });

  it('is finishing, and refuses a cancel, once a batch has failed: the rollback and deploy.failed go on as they are', async () => {
    const seen: Array<[string, boolean]> = [];
    const h = harness(spec(), {
      deploy: { web2: 'fail' },
      onSend: (sent, runner) => {
        if (sent.action === 'rollback') seen.push([runner.state, runner.cancel('bob', 'stop it')]);
      },
    });
    const result = await h.run();
    expect(seen).toEqual([['finishing', false]]);
    expect(result).toMatchObject({ status: 'failed', rolledBackHosts: ['web1'] });
    expect(h.types()).not.toContain('deploy.cancelled');
    expect(h.runner.state).toBe('finished');
  });

  it('cuts a pause short when cancelled', async () => {
    const h = harness(spec({ pauseMs: 600_000 }), {
      emit: (event) => {
        // One second into the ten-minute pause.
        if (event.type === 'deploy.host-result') setTimeout(() => h.runner.cancel('bob', 'enough'), 1_000);
      },
    });
    const result = await h.run();
    expect(result.status).toBe('cancelled');
    expect(h.sent).toHaveLength(1);
    expect(result.durationMs).toBe(REPLY_DELAY_MS + 1_000);
  });

  it('ignores replies for other commands, from the wrong host, and repeats', async () => {
    const replies: boolean[] = [];
    const h = harness(spec({ batches: [['web1']] }), {
      onSend: (sent, runner) => {
        const commandId = sent.command.payload.commandId;
        replies.push(runner.deliverReply({ commandId, host: 'web9', status: 'succeeded' }));
        replies.push(runner.deliverReply({ commandId: 'c-not-ours-1', host: 'web1', status: 'succeeded' }));
        replies.push(runner.deliverReply({ commandId, host: 'web1', status: 'failed', error: 'first' }));
        replies.push(runner.deliverReply({ commandId, host: 'web1', status: 'succeeded' }));
      },
    });
    const result = await h.run();
    expect(replies).toEqual([false, false, true, false]);
    expect(result.results[0]).toMatchObject({ outcome: 'failed', error: 'failed: first' });
  });

  it('emits in order without a slow emit holding up commands or the next host, and the final event only after every event before it settled', async () => {
    const log: string[] = [];
    const sentAt: number[] = [];
    const h = harness(spec({ batches: [['web1', 'web2']] }), {
      onSend: () => sentAt.push(Date.now()),
      emit: async (event) => {
        const label = event.type === 'deploy.host-result' ? event.payload.host : event.type;
        log.push(`emit ${label}`);
        // deploy.started is slow to settle (a slow broker confirm, say), and so is web1's result.
        await new Promise((resolve) => setTimeout(resolve, label === 'deploy.started' ? 1_000 : label === 'web1' ? 500 : 1));
        log.push(`settled ${label}`);
      },
    });
    const begun = Date.now();
    const result = await h.run();
    expect(result.status).toBe('succeeded');
    // The commands went out at once, not after deploy.started's second.
    expect(sentAt.map((t) => t - begun)).toEqual([0, 0]);
    expect(log).toEqual([
      'emit deploy.started',
      'emit deploy.batch',
      'settled deploy.batch',
      'emit web1',
      'emit web2',
      'settled web2',
      'settled web1',
      'settled deploy.started',
      'emit deploy.succeeded',
      'settled deploy.succeeded',
    ]);
  });

  it('keeps going when an event cannot be emitted, and reports it', async () => {
    const h = harness(spec({ batches: [['web1']] }), {
      emit: (event) => {
        if (event.type === 'deploy.started') throw new Error('ledger unavailable');
      },
    });
    const result = await h.run();
    expect(result.status).toBe('succeeded');
    expect(h.emitErrors).toHaveLength(1);
    expect(String(h.emitErrors[0])).toContain('ledger unavailable');
  });

  it('refuses a plan that lists a host twice, and a second run', async () => {
    expect(() => harness(spec({ batches: [['web1'], ['web2', 'WEB1']] }))).toThrow(ConductorError);
    expect(() => harness(spec({ batches: [['web1'], []] }))).toThrow(/empty batch/);
    const h = harness(spec({ batches: [['web1']] }));
    await h.run();
    await expect(h.runner.run()).rejects.toMatchObject({ code: 'ROLLOUT_ALREADY_RUN' });
    expect(h.sent).toHaveLength(1);
  });
});
