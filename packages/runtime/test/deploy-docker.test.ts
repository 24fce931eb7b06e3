// deploy/docker: no Docker engine runs where the tests run, so the compose file is checked by parsing
// it (every service's command names a daemon that exists, build contexts, mounted files and
// depends_on targets exist, every ${VAR} is documented), the Dockerfile by reading it, and the
// entry script by running it against this repository's build output.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseBusUrl } from '@deploybus/bus';
import { DAEMONS, daemonExists, DEPLOY_DIR, FUTURE_DAEMONS, REPO_ROOT } from './support/deploy-layout.js';

const run = promisify(execFile);
const DOCKER_DIR = join(DEPLOY_DIR, 'docker');
const COMPOSE_FILE = join(DOCKER_DIR, 'compose.yaml');
const ENTRYPOINT = join(DOCKER_DIR, 'entrypoint.sh');

interface ComposeService {
  readonly image?: string;
  readonly build?: { readonly context: string; readonly dockerfile: string };
  readonly command?: readonly string[];
  readonly profiles?: readonly string[];
  readonly depends_on?: Readonly<Record<string, { readonly condition: string }>>;
  readonly env_file?: string;
  readonly environment?: Readonly<Record<string, string>>;
  readonly volumes?: readonly string[];
  readonly healthcheck?: { readonly test: readonly string[] };
}
interface Compose {
  readonly services: Readonly<Record<string, ComposeService>>;
  readonly volumes: Readonly<Record<string, unknown>>;
}

async function compose(): Promise<{ readonly text: string; readonly file: Compose }> {
  const text = await readFile(COMPOSE_FILE, 'utf8');
  // Compose files use YAML merge keys (<<: *daemon), as docker compose reads them.
  return { text, file: parseYaml(text, { merge: true }) as Compose };
}

const fromCompose = (path: string): string => resolve(DOCKER_DIR, path);

describe('deploy/docker/compose.yaml (checked by parsing; no Docker engine runs here)', () => {
  it('brings up RabbitMQ and PostgreSQL with health checks, and every daemon', async () => {
    const { file } = await compose();
    expect(Object.keys(file.services).sort()).toEqual(['postgres', 'rabbitmq', ...DAEMONS].sort());
    expect(file.services['rabbitmq']?.healthcheck?.test.join(' ')).toMatch(/rabbitmq-diagnostics/);
    expect(file.services['postgres']?.healthcheck?.test.join(' ')).toMatch(/pg_isready/);
    const plugins = await readFile(join(DOCKER_DIR, 'rabbitmq', 'enabled_plugins'), 'utf8');
    for (const plugin of ['rabbitmq_management', 'rabbitmq_stomp']) expect(plugins).toContain(plugin);
  });

  it.each(DAEMONS)('%s: runs a daemon that exists (or is marked future), from a build that exists, against its own broker user', async (daemon) => {
    const { file } = await compose();
    const service = file.services[daemon];
    if (!service) throw new Error(`compose.yaml has no service ${daemon}`);
    expect(service.command?.[0], 'the entry script picks the daemon by the first word').toBe(daemon);
    expect(service.command?.slice(1)).toEqual(['--config', `/etc/deploybus/${daemon}.yaml`]);
    if (service.profiles?.includes('future')) expect(FUTURE_DAEMONS).toContain(daemon);
    else expect(daemonExists(daemon), `services/${daemon}/src/main.ts exists`).toBe(true);

    expect(service.image).toBe('deploybus:latest');
    const build = service.build;
    if (!build) throw new Error(`${daemon} has no build`);
    expect(existsSync(join(fromCompose(build.context), 'package.json')), 'the build context is the repository root').toBe(true);
    expect(existsSync(join(fromCompose(build.context), build.dockerfile))).toBe(true);

    expect(service.depends_on?.['rabbitmq']?.condition).toBe('service_healthy');
    for (const target of Object.keys(service.depends_on ?? {})) expect(Object.keys(file.services)).toContain(target);
    expect(service.healthcheck?.test.join(' ')).toContain(`127.0.0.1:${service.environment?.['DEPLOYBUS_HEALTH_PORT'] ?? 'none'}/readyz`);

    if (service.env_file === undefined) throw new Error(`${daemon} has no env_file`);
    expect(existsSync(fromCompose(service.env_file)), service.env_file).toBe(true);
    for (const volume of service.volumes ?? []) {
      const source = volume.split(':')[0] ?? '';
      if (source.startsWith('.')) expect(existsSync(fromCompose(source)), volume).toBe(true);
      else expect(Object.keys(file.volumes), `named volume ${source}`).toContain(source);
    }
    const url = parseBusUrl((service.environment?.['DEPLOYBUS_BUS_URL'] ?? '').replace(/\$\{[^}]+\}/g, 'pw'));
    expect({ user: url.username, host: url.host, vhost: url.vhost }).toEqual({ user: daemon, host: 'rabbitmq', vhost: 'deploybus' });
  });

  it('the conductor waits for PostgreSQL, every depends_on names a service, and RabbitMQ mounts files that exist', async () => {
    const { file } = await compose();
    expect(file.services['conductor']?.depends_on?.['postgres']?.condition).toBe('service_healthy');
    for (const volume of file.services['rabbitmq']?.volumes ?? []) {
      const source = volume.split(':')[0] ?? '';
      if (source.startsWith('.')) expect(existsSync(fromCompose(source)), volume).toBe(true);
    }
  });

  it('passes RabbitMQ a password for every user in deploy/rabbitmq/definitions.json', async () => {
    const { file } = await compose();
    const definitions = JSON.parse(await readFile(join(DEPLOY_DIR, 'rabbitmq', 'definitions.json'), 'utf8')) as { users: Array<{ name: string }> };
    const environment = Object.keys(file.services['rabbitmq']?.environment ?? {});
    // set-passwords.sh reads DEPLOYBUS_PASSWORD_<USER>: upper case, "-" as "_".
    expect(environment.sort()).toEqual(definitions.users.map((u) => `DEPLOYBUS_PASSWORD_${u.name.toUpperCase().replace(/-/g, '_')}`).sort());
  });

  it('documents every variable it reads, in .env.example and docs/operating.md', async () => {
    const { text } = await compose();
    const variables = [...new Set([...text.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1] ?? ''))];
    expect(variables.length).toBeGreaterThan(0);
    const example = await readFile(join(DOCKER_DIR, '.env.example'), 'utf8');
    const docs = await readFile(join(REPO_ROOT, 'docs', 'operating.md'), 'utf8');
    for (const variable of variables) {
      expect(example, `.env.example sets ${variable}`).toMatch(new RegExp(`^${variable}=`, 'm'));
      expect(docs, `docs/operating.md names ${variable}`).toContain(variable.startsWith('DEPLOYBUS_PASSWORD_') ? 'DEPLOYBUS_PASSWORD_' : variable);
    }
    // And the environment the daemons themselves read.
    for (const variable of ['DEPLOYBUS_BUS_URL', 'DEPLOYBUS_HOST', 'DEPLOYBUS_LOG_LEVEL', 'DEPLOYBUS_HEALTH_PORT', 'DEPLOYBUS_CONFIG']) expect(docs).toContain(variable);
  });
});

describe('deploy/docker/Dockerfile', () => {
  it('builds in one stage and runs node 20 as a non-root user in a slim second one', async () => {
    const text = await readFile(join(DOCKER_DIR, 'Dockerfile'), 'utf8');
    const stages = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(stages).toHaveLength(2);
    for (const image of stages) expect(image).toMatch(/^node:20-.*slim/);
    const [build = '', runtime = ''] = text.split(/^FROM /m).slice(1);
    expect(build).toMatch(/npm ci/);
    expect(build).toMatch(/npm run build/);
    expect(runtime).toMatch(/^USER deploybus$/m);
    expect(runtime).toMatch(/^ENTRYPOINT \[.*deploybus-entrypoint"\]$/m);
    // Every file copied in from the build context exists.
    for (const match of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of (match[1] ?? '').split(' ')) expect(existsSync(join(REPO_ROOT, source)), `COPY ${source}`).toBe(true);
    }
  });
});

describe('deploy/docker/entrypoint.sh', () => {
  const entry = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run('sh', [ENTRYPOINT, ...args], { env: { ...process.env, DEPLOYBUS_ROOT: REPO_ROOT } }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? -1, stdout: error.stdout ?? '', stderr: error.stderr ?? '' }),
    );

  it('knows exactly the daemons deploy/ provides for', async () => {
    const text = await readFile(ENTRYPOINT, 'utf8');
    const listed = /^daemons="([^"]+)"$/m.exec(text)?.[1]?.split(' ');
    expect(listed).toEqual([...DAEMONS]);
    expect(text).toContain(`${DAEMONS.join('|')})`);
  });

  it('runs the named daemon\'s built main.js with the arguments that follow', async () => {
    const daemon = DAEMONS.find((d) => daemonExists(d) && existsSync(join(REPO_ROOT, 'services', d, 'dist', 'main.js')));
    if (daemon === undefined) throw new Error('no daemon is built: run `npm run build` first (npm test does)');
    const missing = join(dirname(ENTRYPOINT), 'no-such-config.yaml');
    const result = await entry([daemon, '--config', missing]);
    // The daemon itself answered: a config error (exit 78) naming the file it was given.
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(`${daemon}:`);
    expect(result.stderr).toContain('no-such-config.yaml');
  });

  it('refuses an unknown name, and says so when a daemon is not built into the image', async () => {
    const unknown = await entry(['rm', '-rf', '/']);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain('no daemon named "rm"');
    const future = FUTURE_DAEMONS.find((d) => !existsSync(join(REPO_ROOT, 'services', d, 'dist', 'main.js')));
    if (future !== undefined) {
      const result = await entry([future]);
      expect(result.code).toBe(69);
      expect(result.stderr).toContain('is not in this image');
    }
    const help = await entry([]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('DEPLOYBUS_BUS_URL');
  });
});
