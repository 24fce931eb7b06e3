// deploy/systemd: one unit per daemon and a template for several agents on one host. Each unit is
// read by a small parser (sections, the keys the sandbox and restart policy depend on, ExecStart
// pointing at the daemon's build output) and, where systemd-analyze exists, verified by systemd.
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { AGENT_NODE_FLAGS } from '../../../services/deploy-agent/src/node-flags.js';
import { builtMainOf, DAEMONS, daemonExists, DEPLOY_DIR, FUTURE_DAEMONS, NOT_DAEMONS, REPO_ROOT } from './support/deploy-layout.js';

const run = promisify(execFile);
const SYSTEMD_DIR = join(DEPLOY_DIR, 'systemd');
const TEMPLATE = 'deploybus-agent@.service';

type Unit = ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;

type Hook = string[] | { readonly command: string[] };
interface AgentExample {
  readonly stateDir: string;
  readonly mirrorsDir: string;
  readonly apps: ReadonlyArray<{ readonly deployRoot: string; readonly hooks?: Readonly<Record<string, Hook>> }>;
}

/** The deploy roots an agent unit must make writable: the example config's, or /srv/<instance> for the template. */
async function agentDeployRoots(template: boolean): Promise<string[]> {
  if (template) return ['/srv/%i'];
  const config = parseYaml(await readFile(join(DEPLOY_DIR, 'config', 'deploy-agent.yaml'), 'utf8')) as AgentExample;
  return config.apps.map((app) => app.deployRoot);
}

/** Sections of key=value lines; a key may repeat. Comments and blank lines are skipped. */
function parseUnit(text: string, file: string): Unit {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[([A-Za-z]+)\]$/.exec(line);
    if (section?.[1] !== undefined) {
      current = new Map();
      sections.set(section[1], current);
      continue;
    }
    const pair = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!pair?.[1] || pair[2] === undefined || !current) throw new Error(`${file}:${index + 1}: not a key=value line inside a section: ${raw}`);
    current.set(pair[1], [...(current.get(pair[1]) ?? []), pair[2]]);
  }
  return sections;
}

function value(unit: Unit, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}

async function unitFiles(): Promise<string[]> {
  return (await readdir(SYSTEMD_DIR)).filter((f) => f.endsWith('.service')).sort();
}

async function systemdAnalyze(): Promise<boolean> {
  try {
    await run('systemd-analyze', ['--version']);
    return true;
  } catch {
    return false;
  }
}

describe('deploy/systemd', () => {
  it('has a unit for every daemon, a template for several agents on one host, and nothing else', async () => {
    const expected = [...DAEMONS.map((d) => `deploybus-${d}.service`), TEMPLATE].sort();
    expect(await unitFiles()).toEqual(expected);
    // A daemon added to services/ without a unit fails here.
    const services = (await readdir(join(REPO_ROOT, 'services'))).filter((s) => !NOT_DAEMONS.includes(s));
    for (const service of services) expect(DAEMONS as readonly string[], `services/${service} has no unit in deploy/systemd`).toContain(service);
  });

  it.each([...DAEMONS.map((d) => [`deploybus-${d}.service`, d] as const), [TEMPLATE, 'deploy-agent'] as const])('%s: sandboxed, restarted on failure, logging to journald, running the built daemon', async (file, daemon) => {
    const unit = parseUnit(await readFile(join(SYSTEMD_DIR, file), 'utf8'), file);
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    const template = file === TEMPLATE;
    const config = template ? '/etc/deploybus/deploy-agent-%i' : `/etc/deploybus/${daemon}`;
    const required: Record<string, string> = {
      Type: 'simple',
      User: 'deploybus',
      Group: 'deploybus',
      Restart: 'on-failure',
      RestartPreventExitStatus: '78', // runDaemon's exit code for a config error: restarting cannot fix it
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      StandardOutput: 'journal',
      StandardError: 'journal',
      EnvironmentFile: `${config}.env`,
      // The agent's node flags keep an idle agent under 60 MB (services/deploy-agent/src/node-flags.ts).
      ExecStart: `/usr/bin/node ${daemon === 'deploy-agent' ? `${AGENT_NODE_FLAGS.join(' ')} ` : ''}/opt/deploybus/${builtMainOf(daemon)} --config ${config}.yaml`,
    };
    for (const [key, expected] of Object.entries(required)) expect(value(unit, 'Service', key), `${file}: ${key}`).toBe(expected);
    expect(value(unit, 'Install', 'WantedBy')).toBe('multi-user.target');
    if (template) expect(unit.get('Service')?.get('Environment')).toContain('DEPLOYBUS_HOST=%i');
    // Writable under ProtectSystem=strict: exactly the state and cache directories systemd creates, and,
    // for an agent, its deploy roots (an optional "-" path aside). Anything else is a hole in the sandbox.
    const state = (value(unit, 'Service', 'StateDirectory') ?? '').split(' ').filter(Boolean).map((d) => `/var/lib/${d}`);
    const writable = (unit.get('Service')?.get('ReadWritePaths') ?? []).flatMap((v) => v.split(' ')).filter((p) => p !== '' && !p.startsWith('-'));
    const extra = daemon === 'deploy-agent' ? await agentDeployRoots(template) : [];
    expect(writable.sort(), `${file}: ReadWritePaths`).toEqual([...state, ...extra].sort());
    // The daemon the unit runs exists in the repo, or is one still to be written (its unit says so).
    const text = await readFile(join(SYSTEMD_DIR, file), 'utf8');
    if (!daemonExists(daemon)) {
      expect(FUTURE_DAEMONS, `${file} runs services/${daemon}, which does not exist`).toContain(daemon);
      expect(text).toMatch(/future: not written yet/);
    } else {
      expect(text, `${file} runs a daemon that exists`).not.toMatch(/not written yet/);
    }
  });

  it('the agent units make writable exactly what the agent writes: its stateDir, the mirrors, each deployRoot, a cache for hooks', async () => {
    const config = parseYaml(await readFile(join(DEPLOY_DIR, 'config', 'deploy-agent.yaml'), 'utf8')) as AgentExample;
    const unit = parseUnit(await readFile(join(SYSTEMD_DIR, 'deploybus-deploy-agent.service'), 'utf8'), 'deploybus-deploy-agent.service');
    const state = (value(unit, 'Service', 'StateDirectory') ?? '').split(' ').map((d) => `/var/lib/${d}`);
    expect(state).toEqual(expect.arrayContaining([config.stateDir, config.mirrorsDir]));
    const cache = `/var/cache/${value(unit, 'Service', 'CacheDirectory') ?? 'none'}`;
    // A hook that caches (npm) is pointed at the cache directory, since HOME stays read-only.
    const hooks = config.apps.flatMap((app) => Object.values(app.hooks ?? {})).map((hook) => (Array.isArray(hook) ? hook : hook.command));
    const npm = hooks.find((argv) => argv[0] === 'npm') ?? [];
    const cacheFlag = npm.indexOf('--cache');
    expect(cacheFlag, 'the example npm hook names its cache').toBeGreaterThan(0);
    expect(npm[cacheFlag + 1], 'npm --cache').toMatch(new RegExp(`^${cache}/`));

    // The template: per instance state and cache, and deploy roots under /srv/<instance>.
    const template = parseUnit(await readFile(join(SYSTEMD_DIR, TEMPLATE), 'utf8'), TEMPLATE);
    expect(value(template, 'Service', 'StateDirectory')).toBe('deploybus/agent-%i deploybus/mirrors');
    expect(value(template, 'Service', 'CacheDirectory')).toBe('deploybus/agent-%i');
  });

  it('the conductor\'s example SQLite ledger lies in the unit\'s state directory (the built-in default would be read-only)', async () => {
    const config = parseYaml(await readFile(join(DEPLOY_DIR, 'config', 'conductor.yaml'), 'utf8')) as { ledger: { url: string } };
    const unit = parseUnit(await readFile(join(SYSTEMD_DIR, 'deploybus-conductor.service'), 'utf8'), 'deploybus-conductor.service');
    const state = `/var/lib/${value(unit, 'Service', 'StateDirectory') ?? 'none'}`;
    const path = config.ledger.url.replace(/^sqlite:/, '');
    expect(config.ledger.url).toMatch(/^sqlite:\//);
    expect(dirname(path)).toBe(state);
    // The conductor's own default is inside it too, so a config without ledger.url works under the unit.
    const { DEFAULT_LEDGER_URL } = await import('@deploybus/conductor');
    expect(dirname(DEFAULT_LEDGER_URL.replace(/^sqlite:/, ''))).toBe(state);
  });

  it('passes systemd-analyze verify (or, where systemd is absent, the parser checks above stand alone)', async () => {
    if (!(await systemdAnalyze())) {
      // Not a skip: the parser tests above still check every unit; this says what was not checked.
      console.warn('systemd-analyze is not installed here: deploy/systemd units were checked by the parser tests only');
      expect(await unitFiles()).not.toHaveLength(0);
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), 'deploybus-units-'));
    try {
      for (const file of await unitFiles()) {
        // A template is verified as an instance; systemd refuses to load the bare template name.
        const target = join(dir, file === TEMPLATE ? 'deploybus-agent@web1-blue.service' : file);
        await copyFile(join(SYSTEMD_DIR, file), target);
        const result = await run('systemd-analyze', ['verify', '--man=no', target]).then(
          ({ stdout, stderr }) => ({ ok: true, output: `${stdout}${stderr}` }),
          (error: { stdout?: string; stderr?: string }) => ({ ok: false, output: `${error.stdout ?? ''}${error.stderr ?? ''}` }),
        );
        // Warnings (an unknown key, a bad value) exit 0 but print; both count as failures.
        expect(result, file).toEqual({ ok: true, output: '' });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('ships a sysusers.d entry for the deploybus user the units run as', async () => {
    const file = join(SYSTEMD_DIR, 'deploybus.sysusers.conf');
    expect(existsSync(file)).toBe(true);
    expect(await readFile(file, 'utf8')).toMatch(/^u deploybus - "[^"]+" \/var\/lib\/deploybus \/usr\/sbin\/nologin$/m);
  });
});
