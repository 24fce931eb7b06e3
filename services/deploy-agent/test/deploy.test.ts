// Deploys end to end on the in-memory bus with real git: release dirs, the `current` switch, hooks,
// health checks with rollback, pruning, and the task.* events a person watches.
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { agentFixture, deployPayload, type AgentFixture, type AppOverrides } from './support/agent-fixture.js';
import { ROLLBACK_FIRST_LOG_SEQ } from '../src/task-reporter.js';

let fixture: AgentFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

async function start(app: AppOverrides = {}): Promise<AgentFixture> {
  fixture = await agentFixture({ app });
  return fixture;
}

const node = process.execPath;

async function currentTarget(f: AgentFixture): Promise<string> {
  return readlink(join(f.deployRoot, 'current'));
}

describe('deploy', () => {
  it('a signed deploy of a tag builds a release from the mirror and switches current to it', async () => {
    const f = await start();
    const sha = await f.origin.release('v1.0.0', 'one');
    const reply = await f.run(f.command(deployPayload('v1.0.0')));
    expect(reply.payload.status).toBe('succeeded');
    const release = reply.payload.release!;
    expect(release).toMatch(/^\d{17}-v1\.0\.0$/);
    expect(await currentTarget(f)).toBe(`releases/${release}`);
    expect(await readFile(join(f.deployRoot, 'current', 'app.txt'), 'utf8')).toBe('one\n');
    expect(f.repliesTo(reply.payload.commandId).map((r) => r.payload.status)).toEqual(['accepted', 'succeeded']);
    // No mirror yet: the agent cloned one, reported as the fetch step.
    expect(reply.payload.steps?.map((s) => s.name)).toEqual(['fetch', 'checkout', 'switch']);
    expect(f.tasks.filter((t) => t.correlationId === reply.correlationId && t.type === 'task.started').map((t) => (t.payload as { step: string }).step)).toEqual(['fetch', 'checkout', 'switch']);
    expect(existsSync(join(f.config.mirrorsDir, 'shop.git'))).toBe(true);
    expect(f.agent.apps()).toEqual([{ app: 'shop', env: 'production', release, ref: 'v1.0.0', roles: ['web'] }]);
    const state = await f.run(f.command({ action: 'state' }));
    expect(state.payload.result).toEqual({ apps: [{ app: 'shop', env: 'production', current: release, ref: 'v1.0.0', sha, releases: [release] }] });
  });

  it('fetches a tag that the mirror does not have yet', async () => {
    const f = await start();
    await f.origin.release('v1.0.0', 'one');
    expect((await f.run(f.command(deployPayload('v1.0.0')))).payload.status).toBe('succeeded');
    await f.origin.release('v1.1.0', 'two');
    const command = f.command(deployPayload('v1.1.0'));
    const reply = await f.run(command);
    expect(reply.payload.status).toBe('succeeded');
    expect(reply.payload.steps?.[0]?.name).toBe('fetch');
    expect(await readFile(join(f.deployRoot, 'current', 'app.txt'), 'utf8')).toBe('two\n');
    // The fetch is watched like any step: started, then completed with its duration, before the checkout.
    const events = f.tasks.filter((t) => t.correlationId === command.id && t.type !== 'task.log');
    expect(events.slice(0, 3).map((t) => [t.type, (t.payload as { step: string }).step])).toEqual([['task.started', 'fetch'], ['task.completed', 'fetch'], ['task.started', 'checkout']]);
    expect(events[1]?.payload).toMatchObject({ ok: true, durationMs: reply.payload.steps?.[0]?.durationMs });
  });

  it('a command that expires while the agent fetches is refused EXPIRED after the fetch, with nothing deployed', async () => {
    let skewMs = 0;
    fixture = await agentFixture({ now: () => new Date(Date.now() + skewMs) });
    const f = fixture;
    await f.origin.release('v1.0.0', 'one');
    const first = await f.run(f.command(deployPayload('v1.0.0')));
    expect(first.payload.status).toBe('succeeded');
    await f.origin.release('v1.1.0', 'two');
    const command = f.command(deployPayload('v1.1.0'), { ttlMs: 5_000 });
    const fetchStarted = (): boolean => f.tasks.some((t) => t.correlationId === command.id && t.type === 'task.started');
    // The clock jumps past the command's expiry once the fetch has begun (a fetch slower than the sender waits).
    const jump = setInterval(() => {
      if (fetchStarted()) skewMs = 60_000;
    }, 1);
    try {
      const reply = await f.run(command);
      expect(reply.payload.status).toBe('refused');
      expect(reply.payload.error).toMatch(/^EXPIRED: command expired at .* while the agent fetched v1\.1\.0 into its mirror/);
    } finally {
      clearInterval(jump);
    }
    expect(await currentTarget(f)).toBe(`releases/${first.payload.release!}`);
    expect(await readdir(join(f.deployRoot, 'releases'))).toEqual([first.payload.release]);
  });

  it('a fetch that fails (the origin is gone) is reported as the failed fetch step, with nothing else run', async () => {
    const f = await start();
    await f.origin.release('v1.0.0', 'one');
    const first = await f.run(f.command(deployPayload('v1.0.0')));
    expect(first.payload.status).toBe('succeeded');
    await rm(f.origin.path, { recursive: true, force: true });
    const command = f.command(deployPayload('v1.1.0'));
    const reply = await f.run(command);
    expect(reply.payload).toMatchObject({ status: 'failed', failedStep: 'fetch' });
    const events = f.tasks.filter((t) => t.correlationId === command.id && t.type !== 'task.log');
    expect(events.map((t) => [t.type, (t.payload as { step: string }).step, (t.payload as { ok?: boolean }).ok])).toEqual([['task.started', 'fetch', undefined], ['task.completed', 'fetch', false]]);
    expect(await currentTarget(f)).toBe(`releases/${first.payload.release!}`);
  });

  it('hooks run in the new release dir with the DEPLOYBUS_* environment, and their output is streamed in order', async () => {
    const script = 'const e=process.env;console.log(JSON.stringify({cwd:process.cwd(),app:e.DEPLOYBUS_APP,env:e.DEPLOYBUS_ENV,ref:e.DEPLOYBUS_REF,sha:e.DEPLOYBUS_SHA,dir:e.DEPLOYBUS_RELEASE_DIR,root:e.DEPLOYBUS_DEPLOY_ROOT,prev:e.DEPLOYBUS_PREVIOUS_RELEASE_DIR}));console.error("to stderr")';
    const f = await start({ hooks: { preDeploy: [node, '-e', script], restart: { command: [node, '-e', 'console.log("restarted")'], timeoutMs: 10_000 } } });
    await f.origin.release('v1.0.0', 'one');
    const first = await f.run(f.command(deployPayload('v1.0.0')));
    const sha = await f.origin.release('v2.0.0', 'two');
    const command = f.command(deployPayload('v2.0.0'));
    const reply = await f.run(command);
    expect(reply.payload.status).toBe('succeeded');
    const releaseDir = join(f.deployRoot, 'releases', reply.payload.release!);
    const mine = f.tasks.filter((t) => t.correlationId === command.id);
    const logs = mine.flatMap((t) => (t.type === 'task.log' ? t.payload.lines.map((l) => ({ step: t.payload.step, ...l })) : []));
    const envLine = logs.find((l) => l.step === 'pre-deploy' && l.stream === 'stdout');
    expect(JSON.parse(envLine!.text)).toEqual({ cwd: releaseDir, app: 'shop', env: 'production', ref: 'v2.0.0', sha, dir: releaseDir, root: f.deployRoot, prev: join(f.deployRoot, 'releases', first.payload.release!) });
    expect(logs.some((l) => l.step === 'pre-deploy' && l.stream === 'stderr' && l.text === 'to stderr')).toBe(true);
    expect(logs.some((l) => l.step === 'restart' && l.text === 'restarted')).toBe(true);
    const events = mine.filter((t) => t.type !== 'task.log').map((t) => `${t.type}:${(t.payload as { step: string }).step}`);
    expect(events).toEqual([
      'task.started:fetch', 'task.completed:fetch',
      'task.started:checkout', 'task.completed:checkout',
      'task.started:pre-deploy', 'task.completed:pre-deploy',
      'task.started:switch', 'task.completed:switch',
      'task.started:restart', 'task.completed:restart',
    ]);
    const seqs = mine.flatMap((t) => (t.type === 'task.log' ? [t.payload.seq] : []));
    expect(seqs).toEqual(seqs.map((_, i) => i));
    expect(reply.payload.steps?.map((s) => s.name)).toEqual(['fetch', 'checkout', 'pre-deploy', 'switch', 'restart']);
  });

  it('a failing health check after the switch puts current back on the previous release and reports the step', async () => {
    const marker = 'healthy-marker';
    const f = await start({ healthCheck: { command: [node, '-e', `const fs=require("fs");const ok=fs.readFileSync("app.txt","utf8").includes("${marker}");console.log(ok?"fine":"not healthy");process.exit(ok?0:3)`], retries: 1, intervalMs: 10, timeoutMs: 10_000 } });
    await f.origin.release('v1.0.0', marker);
    const good = await f.run(f.command(deployPayload('v1.0.0')));
    expect(good.payload.status).toBe('succeeded');
    await f.origin.release('v1.1.0', 'broken');
    const bad = await f.run(f.command(deployPayload('v1.1.0')));
    expect(bad.payload.status).toBe('failed');
    expect(bad.payload.failedStep).toBe('health-check');
    expect(bad.payload.exitCode).toBe(3);
    expect(bad.payload.error).toContain('not healthy');
    expect(bad.payload.error).toContain(`current is back on ${good.payload.release!}`);
    expect(await currentTarget(f)).toBe(`releases/${good.payload.release!}`);
    expect(await readFile(join(f.deployRoot, 'current', 'app.txt'), 'utf8')).toBe(`${marker}\n`);
    expect(await readdir(join(f.deployRoot, 'releases'))).toEqual([good.payload.release]);
    expect(bad.payload.steps?.map((s) => s.name)).toEqual(['fetch', 'checkout', 'switch', 'health-check', 'rollback']);
  });

  it('a current link the agent did not make (absolute, or to a release of another tool) is put back exactly when a deploy fails after the switch', async () => {
    const f = await start({ healthCheck: { command: [node, '-e', 'process.exit(require("fs").readFileSync("app.txt","utf8").includes("broken")?3:0)'], retries: 1, intervalMs: 10, timeoutMs: 10_000 } });
    // A server set up by hand: current an absolute link to a directory outside releases/.
    const legacy = join(f.deployRoot, '..', 'shop-legacy');
    await mkdir(legacy, { recursive: true });
    await writeFile(join(legacy, 'app.txt'), 'the old site\n');
    await mkdir(f.deployRoot, { recursive: true });
    await symlink(legacy, join(f.deployRoot, 'current'));
    await f.origin.release('v2', 'broken');
    const bad = await f.run(f.command(deployPayload('v2')));
    expect(bad.payload).toMatchObject({ status: 'failed', failedStep: 'health-check' });
    expect(bad.payload.error).toContain(`current is back on ${legacy}`);
    expect(await currentTarget(f)).toBe(legacy);
    expect(await readFile(join(f.deployRoot, 'current', 'app.txt'), 'utf8')).toBe('the old site\n');

    // An absolute link to one of the agent's own releases is that release: state names it, a failure goes back to it.
    await f.origin.release('v3', 'good');
    const good = await f.run(f.command(deployPayload('v3')));
    expect(good.payload.status).toBe('succeeded');
    await rm(join(f.deployRoot, 'current'));
    await symlink(join(f.deployRoot, 'releases', good.payload.release!), join(f.deployRoot, 'current'));
    expect((await f.run(f.command({ action: 'state' }))).payload.result).toMatchObject({ apps: [{ app: 'shop', current: good.payload.release }] });
    await f.origin.release('v4', 'broken');
    const again = await f.run(f.command(deployPayload('v4')));
    expect(again.payload.error).toContain(`current is back on ${good.payload.release!}`);
    expect(await readFile(join(f.deployRoot, 'current', 'app.txt'), 'utf8')).toBe('good\n');
  });

  it('a current that is a directory, not a symlink, is refused at checkout with nothing run', async () => {
    const f = await start({ hooks: { preDeploy: [node, '-e', 'require("fs").writeFileSync(process.env.DEPLOYBUS_DEPLOY_ROOT+"/pre-deploy-ran","")'] } });
    await mkdir(join(f.deployRoot, 'current'), { recursive: true });
    await writeFile(join(f.deployRoot, 'current', 'index.html'), 'hand-made site\n');
    await f.origin.release('v1', 'one');
    const reply = await f.run(f.command(deployPayload('v1')));
    expect(reply.payload).toMatchObject({ status: 'failed', failedStep: 'checkout' });
    expect(reply.payload.error).toContain('is a directory or file, not a symlink');
    expect(existsSync(join(f.deployRoot, 'pre-deploy-ran'))).toBe(false);
    expect(await readFile(join(f.deployRoot, 'current', 'index.html'), 'utf8')).toBe('hand-made site\n');
  });

  it('a failing pre-deploy hook leaves current untouched and runs nothing after it', async () => {
    const f = await start({ hooks: { preDeploy: [node, '-e', 'const fs=require("fs");if(fs.readFileSync("app.txt","utf8").includes("bad")){console.log("pre-deploy says no");process.exit(7)}'], restart: [node, '-e', 'require("fs").writeFileSync(process.env.DEPLOYBUS_DEPLOY_ROOT+"/restarted-"+process.env.DEPLOYBUS_REF,"")'] } });
    await f.origin.release('v1.0.0', 'good');
    const good = await f.run(f.command(deployPayload('v1.0.0')));
    expect(good.payload.status).toBe('succeeded');
    await f.origin.release('v1.1.0', 'bad');
    const bad = await f.run(f.command(deployPayload('v1.1.0')));
    expect(bad.payload).toMatchObject({ status: 'failed', failedStep: 'pre-deploy', exitCode: 7 });
    expect(bad.payload.error).toContain('pre-deploy says no');
    expect(await currentTarget(f)).toBe(`releases/${good.payload.release!}`);
    expect(existsSync(join(f.deployRoot, 'restarted-v1.0.0'))).toBe(true);
    expect(existsSync(join(f.deployRoot, 'restarted-v1.1.0'))).toBe(false);
    expect(await readdir(join(f.deployRoot, 'releases'))).toEqual([good.payload.release]);
  });

  it('keeps keepReleases releases and removes older ones', async () => {
    const f = await start({ keepReleases: 2, pruneDelayMs: 0 });
    const names: string[] = [];
    for (const tag of ['v1', 'v2', 'v3', 'v4']) {
      await f.origin.release(tag, tag);
      const reply = await f.run(f.command(deployPayload(tag)));
      expect(reply.payload.status).toBe('succeeded');
      names.push(reply.payload.release!);
    }
    await f.agent.idle(); // old releases are removed after the reply
    expect(await readdir(join(f.deployRoot, 'releases'))).toEqual(names.slice(-2));
    expect(await currentTarget(f)).toBe(`releases/${names[3]!}`);
  });

  it('removes old releases pruneDelayMs after the last command, and at once past keepReleases + 5', async () => {
    const f = await start({ keepReleases: 2, pruneDelayMs: 400 });
    const names: string[] = [];
    const deploy = async (tag: string): Promise<void> => {
      await f.origin.release(tag, tag);
      const reply = await f.run(f.command(deployPayload(tag)));
      expect(reply.payload.status).toBe('succeeded');
      names.push(reply.payload.release!);
    };
    for (const tag of ['v1', 'v2', 'v3', 'v4']) await deploy(tag);
    await f.agent.idle();
    expect(await readdir(join(f.deployRoot, 'releases'))).toEqual(names); // nobody waited for the deletion
    await waitFor('old releases removed', async () => (await readdir(join(f.deployRoot, 'releases'))).length === 2);
    expect(await readdir(join(f.deployRoot, 'releases'))).toEqual(names.slice(-2));
    // A burst: the eighth release is more than keepReleases + 5, so the deploy removes the old ones itself.
    for (const tag of ['v5', 'v6', 'v7', 'v8', 'v9', 'v10']) await deploy(tag);
    await f.agent.idle();
    expect(await readdir(join(f.deployRoot, 'releases'))).toEqual(names.slice(-2));
    expect(await currentTarget(f)).toBe(`releases/${names.at(-1)!}`);
  });

  it('runs one deploy per app at a time', async () => {
    const f = await start({ hooks: { preDeploy: [node, '-e', 'const fs=require("fs");const p=process.env.DEPLOYBUS_DEPLOY_ROOT+"/busy";if(fs.existsSync(p)){process.exit(9)}fs.writeFileSync(p,"");setTimeout(()=>fs.unlinkSync(p),300)'] } });
    await f.origin.release('v1', 'one');
    await f.origin.release('v2', 'two');
    const replies = await Promise.all([f.run(f.command(deployPayload('v1'))), f.run(f.command(deployPayload('v2')))]);
    expect(replies.map((r) => r.payload.status)).toEqual(['succeeded', 'succeeded']);
  });

  it('a long deploy of one app, and twenty commands waiting behind it, hold up neither another app\'s deploy nor a state query', async () => {
    // shop's hook waits until the test lets it go, which the test does only once blog's deploy and
    // the state query have been answered: commands handled one after another would never get there,
    // nor would they if shop's waiting commands held the agent's 16 slots.
    const gate = join(tmpdir(), `deploybus-gate-${process.pid}-${Date.now()}`);
    fixture = await agentFixture({
      app: { hooks: { preDeploy: [node, '-e', `const fs=require('fs');const t=setInterval(()=>{if(fs.existsSync(${JSON.stringify(gate)})){clearInterval(t)}},20)`] } },
      otherApps: [{ name: 'blog' }],
    });
    const f = fixture;
    await f.origin.release('v1', 'one');
    const shop = f.command(deployPayload('v1'));
    const shopDone = f.run(shop);
    await waitFor('shop\'s deploy to be accepted', () => f.repliesTo(shop.payload.commandId).some((r) => r.payload.status === 'accepted'), 30_000);
    const waiting = Array.from({ length: 20 }, (_, i) => f.run(f.command({ action: 'rollback', deploymentId: `rollback-${i}`, app: 'shop', env: 'production' })));
    const blog = await f.run(f.command({ ...deployPayload('v1'), app: 'blog' }));
    expect(blog.payload.status).toBe('succeeded');
    const state = await f.run(f.command({ action: 'state' }));
    expect(state.payload.status).toBe('succeeded');
    expect(f.repliesTo(shop.payload.commandId).map((r) => r.payload.status)).toEqual(['accepted']);
    await writeFile(gate, '');
    try {
      expect((await shopDone).payload.status).toBe('succeeded');
      // Then each waiting command runs, in order: nothing to roll back to.
      for (const reply of await Promise.all(waiting)) expect(reply.payload).toMatchObject({ status: 'failed', error: 'there is no earlier release to roll back to' });
    } finally {
      await rm(gate, { force: true });
    }
  });

  it('a command delivered again while it runs (the broker lost the connection) is not refused: the run in progress answers', async () => {
    const gate = join(tmpdir(), `deploybus-gate-again-${process.pid}-${Date.now()}`);
    const f = await start({ hooks: { preDeploy: [node, '-e', `const fs=require('fs');const t=setInterval(()=>{if(fs.existsSync(${JSON.stringify(gate)})){clearInterval(t)}},20)`] } });
    await f.origin.release('v1', 'one');
    const command = f.command(deployPayload('v1'));
    const done = f.run(command);
    await waitFor('the deploy to be accepted', () => f.repliesTo(command.payload.commandId).some((r) => r.payload.status === 'accepted'), 30_000);
    await f.client.publish(command); // the same message again, as a redelivery
    await waitFor('the second copy to be seen', () => f.logger.lines.some((l) => l.msg.includes('delivered again while it runs')), 10_000);
    await writeFile(gate, '');
    try {
      expect((await done).payload.status).toBe('succeeded');
    } finally {
      await rm(gate, { force: true });
    }
    expect(f.repliesTo(command.payload.commandId).map((r) => r.payload.status)).toEqual(['accepted', 'succeeded']);
    // Once it is done, a copy is a replay like any other.
    await f.client.publish(command);
    await waitFor('the replay refused', () => f.repliesTo(command.payload.commandId).some((r) => r.payload.status === 'refused' && (r.payload.error ?? '').includes('REPLAYED')), 10_000);
  });

  it('an app\'s commands still run in the order they arrived: a rollback sent right after a deploy rolls that deploy back', async () => {
    const f = await start({ hooks: { preDeploy: [node, '-e', 'setTimeout(()=>{},200)'] } });
    await f.origin.release('v1', 'one');
    const first = (await f.run(f.command(deployPayload('v1')))).payload.release!;
    await f.origin.release('v2', 'two');
    const [deployed, rolledBack] = await Promise.all([f.run(f.command(deployPayload('v2'))), f.run(f.command({ action: 'rollback', deploymentId: 'rollback-order', app: 'shop', env: 'production' }))]);
    expect(deployed.payload.status).toBe('succeeded');
    expect(rolledBack.payload).toMatchObject({ status: 'succeeded', release: first });
    expect(await currentTarget(f)).toBe(`releases/${first}`);
  });
});

describe('rollback and state', () => {
  it('state with one app whose deploy root cannot be read names that app and why, and reports the others', async () => {
    fixture = await agentFixture({ otherApps: [{ name: 'blog' }] });
    const f = fixture;
    await f.origin.release('v1', 'one');
    const deployed = await f.run(f.command(deployPayload('v1')));
    expect(deployed.payload.status).toBe('succeeded');
    // blog's releases/ is a plain file (a botched manual change).
    const blogRoot = join(f.deployRoot, '..', 'blog');
    await mkdir(blogRoot, { recursive: true });
    await writeFile(join(blogRoot, 'releases'), 'not a directory');
    const state = await f.run(f.command({ action: 'state' }));
    expect(state.payload.status).toBe('succeeded');
    const apps = (state.payload.result as { apps: Array<Record<string, unknown>> }).apps;
    expect(apps.find((a) => a.app === 'shop')).toMatchObject({ current: deployed.payload.release });
    expect(apps.find((a) => a.app === 'blog')).toMatchObject({ current: null, releases: [], error: expect.stringMatching(/^cannot read .*blog: ENOTDIR/) as unknown });
  });

  it('rolls back to the previous release, then to a named one; a name that is not a release is refused', async () => {
    const f = await start();
    const names: string[] = [];
    for (const tag of ['v1', 'v2', 'v3']) {
      await f.origin.release(tag, tag);
      names.push((await f.run(f.command(deployPayload(tag)))).payload.release!);
    }
    const back = await f.run(f.command({ action: 'rollback', deploymentId: 'rollback-1', app: 'shop', env: 'production' }));
    expect(back.payload).toMatchObject({ status: 'succeeded', release: names[1] });
    expect(await readFile(join(f.deployRoot, 'current', 'app.txt'), 'utf8')).toBe('v2\n');
    const named = await f.run(f.command({ action: 'rollback', deploymentId: 'rollback-2', app: 'shop', env: 'production', release: names[2]! }));
    expect(named.payload).toMatchObject({ status: 'succeeded', release: names[2] });
    expect(await currentTarget(f)).toBe(`releases/${names[2]!}`);
    const missing = await f.run(f.command({ action: 'rollback', deploymentId: 'rollback-3', app: 'shop', env: 'production', release: '20990101000000000-nope' }));
    expect(missing.payload.status).toBe('refused');
    expect(missing.payload.error).toContain('BAD_RELEASE');
    const state = await f.run(f.command({ action: 'state' }));
    expect(state.payload.result).toMatchObject({ apps: [{ app: 'shop', current: names[2], ref: 'v3', releases: names }] });
  });

  it('a rollback under a deployment\'s id numbers its log batches after the deploy\'s, so none is taken for a repeat', async () => {
    const f = await start({ hooks: { restart: { command: [node, '-e', 'console.log("restarted")'], timeoutMs: 10_000 } } });
    await f.origin.release('v1', 'v1');
    await f.run(f.command(deployPayload('v1')));
    await f.origin.release('v2', 'v2');
    const deploy = f.command({ ...deployPayload('v2'), deploymentId: 'd-rollout-7' });
    expect((await f.run(deploy)).payload.status).toBe('succeeded');
    const rollback = f.command({ action: 'rollback', deploymentId: 'd-rollout-7', app: 'shop', env: 'production' });
    expect((await f.run(rollback)).payload.status).toBe('succeeded');
    const seqsOf = (commandId: string): number[] => f.tasks.filter((t) => t.correlationId === commandId).flatMap((t) => (t.type === 'task.log' ? [t.payload.seq] : []));
    expect(seqsOf(deploy.id)[0]).toBe(0);
    expect(seqsOf(rollback.id)[0]).toBe(ROLLBACK_FIRST_LOG_SEQ);
    expect(seqsOf(rollback.id).length).toBeGreaterThan(0);
  });

  it('a release whose deploy died in a pre-deploy hook is refused as a rollback target, left out of state, and pruned', async () => {
    const gate = join(await mkdtemp(join(tmpdir(), 'deploybus-gate-')), 'go');
    // v2's pre-deploy hook (a build step) waits at the gate, then fails; every other ref's passes.
    const f = await start({ keepReleases: 2, pruneDelayMs: 0, hooks: { preDeploy: ['sh', '-c', 'if [ "$DEPLOYBUS_REF" = v2 ]; then while [ ! -e "$1" ]; do sleep 0.02; done; exit 1; fi', 'sh', gate] } });
    await f.origin.release('v1', 'v1');
    const v1 = (await f.run(f.command(deployPayload('v1')))).payload.release!;
    await f.origin.release('v2', 'v2');
    const v2 = f.command(deployPayload('v2'));
    const failing = f.run(v2);
    await waitFor('v2 in its pre-deploy hook', () => f.tasks.some((t) => t.type === 'task.started' && t.correlationId === v2.id && t.payload.step === 'pre-deploy'));
    // What the deploy root holds if the agent dies at this moment, kept aside and put back once the deploy has failed.
    const crashed = await mkdtemp(join(tmpdir(), 'deploybus-crashed-'));
    await cp(f.deployRoot, crashed, { recursive: true, verbatimSymlinks: true });
    await writeFile(gate, '');
    expect((await failing).payload.status).toBe('failed');
    const half = (await readdir(join(crashed, 'releases'))).find((name) => name !== v1)!;
    expect(half).toMatch(/-v2$/);
    await cp(join(crashed, 'releases', half), join(f.deployRoot, 'releases', half), { recursive: true });
    await cp(join(crashed, '.deploybus', `${half}.json`), join(f.deployRoot, '.deploybus', `${half}.json`));

    const named = await f.run(f.command({ action: 'rollback', deploymentId: 'rollback-half', app: 'shop', env: 'production', release: half }));
    expect(named.payload.status).toBe('refused');
    expect(named.payload.error).toMatch(new RegExp(`^BAD_RELEASE: release ${half} is incomplete: the deploy that made it stopped before its switch`));
    expect(await currentTarget(f)).toBe(`releases/${v1}`);
    const state = await f.run(f.command({ action: 'state' }));
    expect(state.payload.result).toMatchObject({ apps: [{ current: v1, releases: [v1] }] });

    await f.origin.release('v3', 'v3');
    const v3 = (await f.run(f.command(deployPayload('v3')))).payload.release!;
    await f.agent.idle();
    expect((await readdir(join(f.deployRoot, 'releases'))).sort()).toEqual([v1, v3]);
    const back = await f.run(f.command({ action: 'rollback', deploymentId: 'rollback-2', app: 'shop', env: 'production' }));
    expect(back.payload).toMatchObject({ status: 'succeeded', release: v1 });
    await rm(crashed, { recursive: true, force: true });
    await rm(dirname(gate), { recursive: true, force: true });
  });

  it('a release made by hand or by an older agent (no record, or one without "complete") can still be rolled back to', async () => {
    const f = await start();
    await f.origin.release('v1', 'v1');
    const v1 = (await f.run(f.command(deployPayload('v1')))).payload.release!;
    await mkdir(join(f.deployRoot, 'releases', '20200101000000000-by-hand'));
    await writeFile(join(f.deployRoot, 'releases', '20200101000000000-by-hand', 'app.txt'), 'by hand\n');
    await mkdir(join(f.deployRoot, 'releases', '20200102000000000-v0'));
    await writeFile(join(f.deployRoot, '.deploybus', '20200102000000000-v0.json'), JSON.stringify({ ref: 'v0', sha: 'a'.repeat(40) }));
    const state = await f.run(f.command({ action: 'state' }));
    expect(state.payload.result).toMatchObject({ apps: [{ current: v1, releases: ['20200101000000000-by-hand', '20200102000000000-v0', v1] }] });
    const back = await f.run(f.command({ action: 'rollback', deploymentId: 'rollback-1', app: 'shop', env: 'production', release: '20200101000000000-by-hand' }));
    expect(back.payload).toMatchObject({ status: 'succeeded', release: '20200101000000000-by-hand' });
    expect(await readFile(join(f.deployRoot, 'current', 'app.txt'), 'utf8')).toBe('by hand\n');
  });

  it('after a rollback, "previous" is what ran before, not the newer release rolled back from, and pruning keeps it', async () => {
    const f = await start({ keepReleases: 2, pruneDelayMs: 0 });
    const names: Record<string, string> = {};
    for (const tag of ['v1', 'v2', 'v3']) {
      await f.origin.release(tag, tag);
      names[tag] = (await f.run(f.command(deployPayload(tag)))).payload.release!;
    }
    // v3 was bad: back to v2, then v4 is deployed on top of v2.
    expect((await f.run(f.command({ action: 'rollback', deploymentId: 'rollback-1', app: 'shop', env: 'production', release: names['v2']! }))).payload.status).toBe('succeeded');
    await f.origin.release('v4', 'v4');
    names['v4'] = (await f.run(f.command(deployPayload('v4')))).payload.release!;
    await f.agent.idle();
    // Two releases kept: v4 and v2 (what ran before it), not the bad v3.
    expect((await readdir(join(f.deployRoot, 'releases'))).sort()).toEqual([names['v2'], names['v4']].sort());
    const back = await f.run(f.command({ action: 'rollback', deploymentId: 'rollback-2', app: 'shop', env: 'production' }));
    expect(back.payload).toMatchObject({ status: 'succeeded', release: names['v2'] });
    expect(await readFile(join(f.deployRoot, 'current', 'app.txt'), 'utf8')).toBe('v2\n');
  });
});
