// Commands the agent must refuse with nothing run: unsigned, wrongly signed, expired, too far ahead,
// replayed (also after a restart), unknown app, wrong environment, bad or missing ref, hostile refs,
// unknown actions and bad action parameters.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { signMessage, type Message } from '@deploybus/protocol';
import { checkCommand, type AgentCommand } from '../src/index.js';
import { sleep, randomName, waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { agentFixture, deployPayload, type AgentFixture } from './support/agent-fixture.js';

let fixture: AgentFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

const node = process.execPath;

/** An app whose every hook and action leaves a marker file, so "nothing ran" can be checked. */
async function start(): Promise<{ f: AgentFixture; marker: string }> {
  const marker = join(tmpdir(), randomName('deploy-agent-ran'));
  fixture = await agentFixture({
    app: {
      hooks: { preDeploy: [node, '-e', `require("fs").writeFileSync(${JSON.stringify(marker)}, "")`] },
      actions: [
        { name: 'touch', command: [node, '-e', `require("fs").writeFileSync(${JSON.stringify(marker)}, "")`] },
        { name: 'say', command: [node, '-e', 'console.log(process.argv[1])', '{text}'], params: { text: { type: 'string', pattern: '.*' } } },
        {
          name: 'htaccess',
          command: [node, '-e', 'console.log(JSON.stringify(process.argv.slice(1)))', '{path}', '{ttl}', '{force}'],
          params: { path: { type: 'string', pattern: '[a-z]+(/[a-z]+)*' }, ttl: { type: 'integer', min: 1, max: 3600 }, force: { type: 'boolean' } },
        },
      ],
    },
  });
  await fixture.origin.release('v1.0.0', 'one');
  return { f: fixture, marker };
}

async function expectRefused(f: AgentFixture, command: Message<'agent.command'>, code: string, marker: string): Promise<void> {
  const reply = await f.run(command);
  expect(reply.payload.status).toBe('refused');
  expect(reply.payload.error).toContain(code);
  expect(f.repliesTo(command.payload.commandId).map((r) => r.payload.status)).toEqual(['refused']);
  expect(existsSync(marker)).toBe(false);
  expect(existsSync(join(f.deployRoot, 'current'))).toBe(false);
}

describe('refused commands', () => {
  it('unsigned, signed by an unknown key, and altered after signing', async () => {
    const { f, marker } = await start();
    await expectRefused(f, f.command(deployPayload('v1.0.0'), { sign: 'none' }), 'UNSIGNED', marker);
    await expectRefused(f, f.command(deployPayload('v1.0.0'), { sign: 'untrusted' }), 'BAD_SIGNATURE', marker);
    const signed = f.command(deployPayload('v1.0.0'));
    const altered = { ...signed, payload: { ...signed.payload, ref: 'main' } };
    await expectRefused(f, altered, 'BAD_SIGNATURE', marker);
    const otherKey = signMessage(f.client.message('agent.command', { ...deployPayload('v1.0.0'), commandId: randomName('cmd'), host: f.host }, { ttlMs: 30_000, expectReplies: true }), { privateKey: f.privateKey, keyId: 'someone-else' });
    await expectRefused(f, otherKey, 'UNKNOWN_KEY', marker);
  });

  it('without expiry, expiring too far ahead, and expired (checked by the agent itself)', async () => {
    const { f, marker } = await start();
    const noExpiry = signMessage(f.client.message('agent.command', { ...deployPayload('v1.0.0'), commandId: randomName('cmd'), host: f.host }, { expectReplies: true }), { privateKey: f.privateKey, keyId: f.keyId });
    await expectRefused(f, noExpiry, 'NO_EXPIRY', marker);
    await expectRefused(f, f.command(deployPayload('v1.0.0'), { ttlMs: 3_600_000 }), 'EXPIRY_TOO_FAR', marker);
    // The bus itself drops an expired message before any handler; the agent's own check is the second line.
    const expired = f.command(deployPayload('v1.0.0'), { ttlMs: 1 });
    await sleep(5);
    const check = checkCommand(expired as AgentCommand, { host: f.host, trustedKeys: new Map([[f.keyId, f.privateKey]]), apps: new Map(), commandMaxAgeMs: 60_000, maxClockSkewMs: 0, alreadyExecuted: () => false, now: Date.now() });
    expect(check).toMatchObject({ ok: false, code: 'EXPIRED' });
    await f.send(expired);
    await sleep(200);
    expect(f.repliesTo(expired.payload.commandId)).toEqual([]);
    expect(existsSync(marker)).toBe(false);
  });

  it('a conductor clock running ahead of the agent\'s by less than maxClockSkewMs is no reason to refuse', async () => {
    const { f } = await start();
    // commands.ttlMs equal to commandMaxAgeMs, as both default: before maxClockSkewMs, any conductor
    // clock a few ms ahead of the agent's had every command refused EXPIRY_TOO_FAR.
    const command = f.command(deployPayload('v1.0.0'), { ttlMs: 600_000 }) as AgentCommand;
    const sentAt = Date.parse(command.expiresAt ?? '') - 600_000;
    const check = (agentBehindMs: number, maxClockSkewMs: number) =>
      checkCommand(command, { host: f.host, trustedKeys: new Map([[f.keyId, f.privateKey]]), apps: new Map(f.config.apps.map((app) => [app.name, app])), commandMaxAgeMs: 600_000, maxClockSkewMs, alreadyExecuted: () => false, now: sentAt - agentBehindMs });
    expect(check(0, 0)).toMatchObject({ ok: true });
    expect(check(50, 0)).toMatchObject({ ok: false, code: 'EXPIRY_TOO_FAR' });
    expect(check(50, 60_000)).toMatchObject({ ok: true });
    expect(check(59_000, 60_000)).toMatchObject({ ok: true });
    const refused = check(61_000, 60_000);
    expect(refused).toMatchObject({ ok: false, code: 'EXPIRY_TOO_FAR' });
    expect(refused.ok ? '' : refused.reason).toMatch(/commandMaxAgeMs \(600000 ms\) \+ maxClockSkewMs \(60000 ms\) ahead of this agent's clock \(\d{4}-.*\): .*clocks differ/);
  });

  it('a replayed command id, also after the agent restarts', async () => {
    const { f, marker } = await start();
    const command = f.command({ action: 'run', app: 'shop', name: 'htaccess', params: { path: 'a/b', ttl: 5, force: true } });
    expect((await f.run(command)).payload.status).toBe('succeeded');
    const again = f.command({ action: 'run', app: 'shop', name: 'touch', params: {}, commandId: command.payload.commandId });
    await f.send(again);
    await waitFor('the replay refused', () => f.repliesTo(command.payload.commandId).some((r) => r.payload.status === 'refused'));
    expect(f.repliesTo(command.payload.commandId).find((r) => r.payload.status === 'refused')?.payload.error).toContain('REPLAYED');
    await f.restartAgent();
    const afterRestart = f.command({ action: 'run', app: 'shop', name: 'touch', params: {}, commandId: command.payload.commandId });
    await f.send(afterRestart);
    await waitFor('the replay after a restart refused', () => f.repliesTo(command.payload.commandId).filter((r) => r.payload.status === 'refused').length === 2);
    expect(existsSync(marker)).toBe(false);
  });

  it('a command whose id cannot be put on disk runs no hook and switches nothing (a crash could run it twice)', async () => {
    const { f, marker } = await start();
    const log = join(f.config.stateDir, 'executed-commands.log');
    await rm(log, { force: true });
    await mkdir(log); // appending to the log now fails
    const deploy = f.command(deployPayload('v1.0.0'));
    const reply = await f.run(deploy);
    expect(reply.payload).toMatchObject({ status: 'failed', failedStep: 'record' });
    expect(reply.payload.error).toContain('cannot record the command id');
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(f.deployRoot, 'current'))).toBe(false);
    expect(await readdir(join(f.deployRoot, 'releases'))).toEqual([]); // the checkout made before the failure is gone
    const action = f.command({ action: 'run', app: 'shop', name: 'touch', params: {} });
    expect((await f.run(action)).payload).toMatchObject({ status: 'failed', failedStep: 'record' });
    expect(existsSync(marker)).toBe(false);
  });

  it('an unknown app, a wrong environment, a missing ref', async () => {
    const { f, marker } = await start();
    await expectRefused(f, f.command({ ...deployPayload('v1.0.0'), app: 'blog' }), 'UNKNOWN_APP', marker);
    await expectRefused(f, f.command({ ...deployPayload('v1.0.0'), env: 'staging' }), 'WRONG_ENV', marker);
    await expectRefused(f, f.command(deployPayload('v9.9.9')), 'UNKNOWN_REF', marker);
  });

  it('hostile refs run nothing: refused by the agent, and dropped by the bus when sent raw', async () => {
    const { f, marker } = await start();
    const touched = join(tmpdir(), randomName('hostile'));
    for (const ref of [`--upload-pack=touch ${touched}`, `$(touch ${touched})`]) {
      const command = f.command(deployPayload('v1.0.0'));
      const hostile = signMessage({ ...command, payload: { ...command.payload, ref } }, { privateKey: f.privateKey, keyId: f.keyId });
      // Signed, so only the ref check stands between it and git.
      expect(checkCommand(hostile as AgentCommand, { host: f.host, trustedKeys: new Map([[f.keyId, f.privateKey]]), apps: new Map([[f.config.apps[0]!.name, f.config.apps[0]!]]), commandMaxAgeMs: 60_000, maxClockSkewMs: 0, alreadyExecuted: () => false, now: Date.now() })).toMatchObject({ ok: false, code: 'BAD_REF' });
      await f.send(hostile); // the protocol's ref schema refuses it on delivery: dead-lettered, never handled
    }
    await sleep(300);
    expect(existsSync(touched)).toBe(false);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(f.deployRoot, 'releases'))).toBe(false);
  });

  it('actions: typed params are checked, and placeholders are whole arguments', async () => {
    const { f, marker } = await start();
    const good = await f.run(f.command({ action: 'run', app: 'shop', name: 'htaccess', params: { path: 'var/www', ttl: 60, force: false } }));
    expect(good.payload.status).toBe('succeeded');
    expect(JSON.parse(String(good.payload.result?.['output']))).toEqual(['var/www', '60', 'false']);
    const logs = f.tasks.filter((t) => t.correlationId !== undefined && t.type === 'task.log');
    expect(logs.some((t) => t.type === 'task.log' && t.payload.step === 'htaccess' && t.payload.lines.some((l) => l.text.includes('var/www')))).toBe(true);
    for (const params of [{ path: '../etc', ttl: 60, force: false }, { path: 'a; touch x', ttl: 60, force: false }, { path: 'a', ttl: '60', force: false }, { path: 'a', ttl: 99999, force: false }, { path: 'a', ttl: 1, force: 'yes' }, { path: 'a', ttl: 1 }, { path: 'a', ttl: 1, force: true, extra: 'x' }]) {
      await expectRefused(f, f.command({ action: 'run', app: 'shop', name: 'htaccess', params }), 'BAD_PARAMS', marker);
    }
    await expectRefused(f, f.command({ action: 'run', app: 'shop', name: 'nope', params: {} }), 'UNKNOWN_ACTION', marker);
    // A value that would be a command in a shell is one literal argument here.
    const shellish = `$(touch ${marker}); touch ${marker}`;
    const said = await f.run(f.command({ action: 'run', app: 'shop', name: 'say', params: { text: shellish } }));
    expect(said.payload.status).toBe('succeeded');
    expect(said.payload.result?.['output']).toBe(shellish);
    expect(existsSync(marker)).toBe(false);
  });
});
