// deploy/systemd: one unit per daemon and a template for several agents on one host. Each unit is
// read by a small parser (sections, the keys the sandbox and restart policy depend on, ExecStart
// pointing at the daemon's build output) and, where systemd-analyze exists, verified by systemd.
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { builtMainOf, DAEMONS, daemonExists, DEPLOY_DIR, FUTURE_DAEMONS, NOT_DAEMONS, REPO_ROOT } from './support/deploy-layout.js';

const run = promisify(execFile);
const SYSTEMD_DIR = join(DEPLOY_DIR, 'systemd');
const TEMPLATE = 'deploybus-agent@.service';

type Unit = ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;

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
      ExecStart: `/usr/bin/node /opt/deploybus/${builtMainOf(daemon)} --config ${config}.yaml`,
    };
    for (const [key, expected] of Object.entries(required)) expect(value(unit, 'Service', key), `${file}: ${key}`).toBe(expected);
    expect(value(unit, 'Install', 'WantedBy')).toBe('multi-user.target');
    if (template) expect(unit.get('Service')?.get('Environment')).toContain('DEPLOYBUS_HOST=%i');
    // Every state directory systemd creates is writable under ProtectSystem=strict, and nothing else is
    // (an optional "-" path aside).
    const state = (value(unit, 'Service', 'StateDirectory') ?? '').split(' ').filter(Boolean).map((d) => `/var/lib/${d}`);
    const writable = (unit.get('Service')?.get('ReadWritePaths') ?? []).flatMap((v) => v.split(' ')).filter((p) => !p.startsWith('-'));
    expect(writable.sort()).toEqual(state.sort());
    // The daemon the unit runs exists in the repo, or is one still to be written (its unit says so).
    if (!daemonExists(daemon)) {
      expect(FUTURE_DAEMONS, `${file} runs services/${daemon}, which does not exist`).toContain(daemon);
      expect(await readFile(join(SYSTEMD_DIR, file), 'utf8')).toMatch(/future: not written yet/);
    }
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
