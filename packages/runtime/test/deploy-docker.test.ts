// deploy/docker: no Docker engine runs where the tests run, so the compose file is checked by parsing
// it (every service's command names a daemon that exists, build contexts, mounted files and
// depends_on targets exist, every ${VAR} is documented), the Dockerfile by reading it, and the
// entry script by running it against this repository's build output.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseBusUrl } from '@deploybus/bus';
import { DAEMONS, daemonExists, DEPLOY_DIR, exampleKeys, FUTURE_DAEMONS, parseEnvFile, REPO_ROOT, type ExampleKeys } from './support/deploy-layout.js';

const run = promisify(execFile);
const DOCKER_DIR = join(DEPLOY_DIR, 'docker');
const COMPOSE_FILE = join(DOCKER_DIR, 'compose.yaml');
const ENTRYPOINT = join(DOCKER_DIR, 'entrypoint.sh');

interface ComposeService {
  readonly image?: string;
  readonly entrypoint?: readonly string[];
  readonly build?: { readonly context: string; readonly dockerfile: string };
  readonly command?: readonly string[];
  readonly profiles?: readonly string[];
  readonly depends_on?: Readonly<Record<string, { readonly condition: string }>>;
  readonly env_file?: string;
  readonly environment?: Readonly<Record<string, string>>;
  readonly volumes?: readonly string[];
  readonly ports?: readonly string[];
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
    expect(Object.keys(file.services).sort()).toEqual(['postgres', 'rabbitmq', 'signing-keys', ...DAEMONS].sort());
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
    // A daemon that exists starts with a plain `up`, not only under the future profile.
    if (daemonExists(daemon)) expect(service.profiles ?? [], `${daemon} is written: no future profile`).not.toContain('future');

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

/** A service's volumes as { source, target, readOnly }. */
function mounts(service: ComposeService | undefined): Array<{ source: string; target: string; readOnly: boolean }> {
  return (service?.volumes ?? []).map((volume) => {
    const [source = '', target = '', mode] = volume.split(':');
    return { source, target, readOnly: mode === 'ro' };
  });
}

/** The named volume mounted at (or above) `path` in a service, if any. */
function volumeAt(service: ComposeService | undefined, path: string): { source: string; target: string; readOnly: boolean } | undefined {
  return mounts(service).find((m) => !m.source.startsWith('.') && (path === m.target || path.startsWith(`${m.target}/`)));
}

describe('deploy/docker/compose.yaml: the conductor and the agent', () => {
  interface ConductorExample {
    ledger: { url: string };
    signing: { keyId: string; privateKey: { file: string } };
  }
  interface AgentExample {
    stateDir: string;
    mirrorsDir: string;
    trustedKeys: Array<{ keyId: string; publicKey: { file: string } }>;
    apps: Array<{ deployRoot: string }>;
  }
  const composeConductorFile = join(DOCKER_DIR, 'conductor.yaml');
  const readYaml = async <T>(file: string): Promise<T> => parseYaml(await readFile(file, 'utf8')) as T;

  /** Daemons whose compose config is deploy/docker/<daemon>.yaml: deploy/config/<daemon>.yaml with these keys changed. */
  const COMPOSE_CONFIGS: ReadonlyArray<readonly [string, readonly string[]]> = [
    ['conductor', ['ledger.url', 'roster.keepaliveHosts']],
    ['web', ['http.host', 'http.secureCookies', 'roster.keepaliveHosts']],
  ];

  /** A copy of `value` without the dotted `paths`. */
  function without(value: Record<string, unknown>, paths: readonly string[]): unknown {
    const copy = structuredClone(value);
    for (const path of paths) {
      const keys = path.split('.');
      const last = keys.pop() ?? '';
      let node: Record<string, unknown> | undefined = copy;
      for (const key of keys) node = node?.[key] as Record<string, unknown> | undefined;
      if (node !== undefined) delete node[last];
    }
    return copy;
  }

  /** A service's environment as the container sees it: env_file, then environment with ${VAR} from .env (here .env.example). */
  async function containerEnv(service: ComposeService | undefined): Promise<Record<string, string>> {
    const dotEnv = parseEnvFile(await readFile(join(DOCKER_DIR, '.env.example'), 'utf8'), '.env.example');
    const interpolate = (text: string): string => text.replace(/\$\{([A-Z0-9_]+)(?::?[-?]([^}]*))?\}/g, (_m, name: string, fallback?: string) => dotEnv[name] ?? fallback ?? '');
    const fromFile = service?.env_file === undefined ? {} : parseEnvFile(await readFile(fromCompose(service.env_file), 'utf8'), service.env_file);
    return { ...fromFile, ...Object.fromEntries(Object.entries(service?.environment ?? {}).map(([k, v]) => [k, interpolate(v)])) };
  }

  it.each(COMPOSE_CONFIGS)('%s: its compose config differs from deploy/config only in %j, and loads with the daemon\'s schema', async (daemon, changed) => {
    const { file } = await compose();
    const service = file.services[daemon];
    expect(mounts(service).find((m) => m.target === `/etc/deploybus/${daemon}.yaml`)).toEqual({ source: `./${daemon}.yaml`, target: `/etc/deploybus/${daemon}.yaml`, readOnly: true });
    const composeFile = join(DOCKER_DIR, `${daemon}.yaml`);
    const composed = await readYaml<Record<string, unknown>>(composeFile);
    const example = await readYaml<Record<string, unknown>>(join(DEPLOY_DIR, 'config', `${daemon}.yaml`));
    // Nothing else differs, so the two files cannot drift apart; and each listed key does differ.
    expect(without(composed, changed)).toEqual(without(example, changed));
    for (const path of changed) {
      const at = (v: Record<string, unknown>): unknown => path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], v);
      expect(at(composed), path).not.toEqual(at(example));
    }
    // keepalive answers under its compose host name.
    expect((composed['roster'] as { keepaliveHosts: string[] }).keepaliveHosts).toEqual([file.services['keepalive']?.environment?.['DEPLOYBUS_HOST']]);

    const definitions = await import(`@deploybus/${daemon}`) as Record<string, unknown>;
    const schema = Object.values(definitions).find((v): v is { service: string; configSchema: Parameters<ExampleKeys['load']>[0] } => typeof v === 'object' && v !== null && (v as { service?: unknown }).service === daemon && 'configSchema' in v)?.configSchema;
    if (schema === undefined) throw new Error(`@deploybus/${daemon} exports no daemon definition`);
    const keys = await exampleKeys(['conductor-1']);
    try {
      const config = (await keys.load(schema, composeFile, await containerEnv(service))) as { bus: { url: string } };
      expect(parseBusUrl(config.bus.url).host).toBe('rabbitmq');
    } finally {
      await keys.cleanup();
    }
  });

  it('the conductor keeps its ledger in the compose PostgreSQL, the password from PGPASSWORD; web publishes its port on the loopback only', async () => {
    const { file } = await compose();
    const conductor = file.services['conductor'];
    const composed = await readYaml<ConductorExample>(join(DOCKER_DIR, 'conductor.yaml'));
    const postgres = file.services['postgres']?.environment ?? {};
    const ledger = new URL(composed.ledger.url);
    expect({ protocol: ledger.protocol, host: ledger.hostname, user: ledger.username, password: ledger.password, db: ledger.pathname.slice(1) }).toEqual({
      protocol: 'postgres:',
      host: 'postgres',
      user: postgres['POSTGRES_USER'],
      password: '',
      db: postgres['POSTGRES_DB'],
    });
    // The same compose variable as the database's own password.
    const variableOf = (value: string | undefined): string | undefined => /^\$\{([A-Z0-9_]+)/.exec(value ?? '')?.[1];
    expect(variableOf(conductor?.environment?.['PGPASSWORD'])).toBe('POSTGRES_PASSWORD');
    expect(variableOf(postgres['POSTGRES_PASSWORD'])).toBe('POSTGRES_PASSWORD');
    expect(conductor?.depends_on?.['postgres']?.condition).toBe('service_healthy');

    const web = await readYaml<{ http: { port: number } }>(join(DOCKER_DIR, 'web.yaml'));
    expect(file.services['web']?.ports).toEqual([`127.0.0.1:${web.http.port}:${web.http.port}`]);
  });

  it('signing keys: the conductor mounts the private key where its config reads it; the agent gets the public key only', async () => {
    const { file } = await compose();
    const composed = await readYaml<ConductorExample>(composeConductorFile);
    const agentConfig = await readYaml<AgentExample>(join(DEPLOY_DIR, 'config', 'deploy-agent.yaml'));
    const keys = file.services['signing-keys'];
    const keyVolume = volumeAt(keys, '/etc/deploybus/keys')?.source;
    const trustedVolume = volumeAt(keys, '/etc/deploybus/trusted-keys')?.source;
    expect(keyVolume).toBeDefined();
    expect(trustedVolume).toBeDefined();
    expect(volumeAt(file.services['conductor'], composed.signing.privateKey.file)).toEqual({ source: keyVolume, target: '/etc/deploybus/keys', readOnly: true });
    for (const key of agentConfig.trustedKeys) {
      expect(volumeAt(file.services['deploy-agent'], key.publicKey.file)).toEqual({ source: trustedVolume, target: '/etc/deploybus/keys', readOnly: true });
    }
    for (const name of DAEMONS.filter((d) => d !== 'conductor')) {
      expect(mounts(file.services[name]).map((m) => m.source), `${name} must not see the private key`).not.toContain(keyVolume);
    }
    for (const name of ['conductor', 'deploy-agent']) expect(file.services[name]?.depends_on?.['signing-keys']?.condition).toBe('service_completed_successfully');
  });

  it('the signing-keys script makes the pair once (deploybus keys generate, run through the entry script) and copies only the public half', async () => {
    const { file } = await compose();
    const entrypoint = file.services['signing-keys']?.entrypoint ?? [];
    expect(entrypoint.slice(0, 2)).toEqual(['sh', '-ec']);
    // The script calls the image's entry script where the Dockerfile puts it.
    expect(entrypoint[2]).toContain('/usr/local/bin/deploybus-entrypoint deploybus keys generate');
    expect(await readFile(join(DOCKER_DIR, 'Dockerfile'), 'utf8')).toMatch(/^COPY deploy\/docker\/entrypoint\.sh \/usr\/local\/bin\/deploybus-entrypoint$/m);
    if (!existsSync(join(REPO_ROOT, 'services', 'cli', 'dist', 'main.js'))) throw new Error('the CLI is not built: run `npm run build` first (npm test does)');
    const dir = await mkdtemp(join(tmpdir(), 'deploybus-signing-keys-'));
    try {
      const keysDir = join(dir, 'keys');
      const trustedDir = join(dir, 'trusted');
      await mkdir(keysDir, { mode: 0o700 });
      await mkdir(trustedDir);
      // The container's paths, pointed at the temp dirs; the script itself is run unchanged otherwise.
      const script = (entrypoint[2] ?? '')
        .replaceAll('/etc/deploybus/trusted-keys', trustedDir)
        .replaceAll('/etc/deploybus/keys', keysDir)
        .replaceAll('/usr/local/bin/deploybus-entrypoint', `sh ${ENTRYPOINT}`);
      const runScript = (): Promise<unknown> => run('sh', ['-ec', script], { env: { ...process.env, DEPLOYBUS_ROOT: REPO_ROOT } });
      await runScript();
      expect((await readdir(keysDir)).sort()).toEqual(['conductor-1.key', 'conductor-1.pub']);
      expect(await readdir(trustedDir)).toEqual(['conductor-1.pub']);
      expect((await stat(join(keysDir, 'conductor-1.key'))).mode & 0o777).toBe(0o600);
      const key = await readFile(join(keysDir, 'conductor-1.key'), 'utf8');
      expect(key).toMatch(/BEGIN PRIVATE KEY/);
      expect(await readFile(join(trustedDir, 'conductor-1.pub'), 'utf8')).toBe(await readFile(join(keysDir, 'conductor-1.pub'), 'utf8'));
      // A second `up`: the key is kept (keys generate would refuse to overwrite it), and the script succeeds.
      await runScript();
      expect(await readFile(join(keysDir, 'conductor-1.key'), 'utf8')).toBe(key);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the agent writes its stateDir, the mirrors and every deployRoot to volumes, and none of them read-only', async () => {
    const { file } = await compose();
    const agent = file.services['deploy-agent'];
    const config = await readYaml<AgentExample>(join(DEPLOY_DIR, 'config', 'deploy-agent.yaml'));
    for (const path of [config.stateDir, config.mirrorsDir, ...config.apps.map((a) => a.deployRoot)]) {
      const volume = volumeAt(agent, path);
      expect(volume, `${path} is on a volume`).toBeDefined();
      expect(volume?.readOnly, `${path} is writable`).toBe(false);
    }
    // The mirrors are the ones repo-updater keeps fresh.
    expect(volumeAt(agent, config.mirrorsDir)?.source).toBe(volumeAt(file.services['repo-updater'], config.mirrorsDir)?.source);
  });

  it('every named volume a deploybus container mounts has its mount point made and owned by deploybus in the image', async () => {
    const { file } = await compose();
    const dockerfile = await readFile(join(DOCKER_DIR, 'Dockerfile'), 'utf8');
    const runtime = dockerfile.split(/^FROM /m).at(-1) ?? '';
    const made = /mkdir -p ([^&]+)&&/.exec(runtime.replace(/\\\n/g, ' '))?.[1]?.split(/\s+/).filter(Boolean) ?? [];
    const owned = /chown -R deploybus:deploybus ([^&]+)&&/.exec(runtime.replace(/\\\n/g, ' '))?.[1]?.split(/\s+/).filter(Boolean) ?? [];
    expect(made.length).toBeGreaterThan(0);
    for (const [name, service] of Object.entries(file.services)) {
      if (service.image !== 'deploybus:latest') continue;
      for (const mount of mounts(service).filter((m) => !m.source.startsWith('.'))) {
        // Docker gives a new named volume the owner of the directory it is first mounted on.
        expect(made, `${name}: ${mount.target} is made in the image`).toContain(mount.target);
        expect(owned.some((dir) => mount.target === dir || mount.target.startsWith(`${dir}/`)), `${name}: ${mount.target} is owned by deploybus`).toBe(true);
      }
    }
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
    const copied: string[] = [];
    for (const match of build.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of (match[1] ?? '').split(' ')) {
        expect(existsSync(join(REPO_ROOT, source)), `COPY ${source}`).toBe(true);
        copied.push(source.replace(/\/$/, ''));
      }
    }
    // npm ci needs every workspace, and `tsc --build` every project the root tsconfig.json references.
    const rootPackage = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
    const tsconfig = JSON.parse(await readFile(join(REPO_ROOT, 'tsconfig.json'), 'utf8')) as { references: Array<{ path: string }> };
    const needed = [...rootPackage.workspaces.map((w) => w.replace(/\/\*$/, '')), ...tsconfig.references.map((r) => posix.normalize(r.path))];
    for (const path of needed) expect(copied.some((c) => path === c || path.startsWith(`${c}/`)), `the build stage copies ${path}`).toBe(true);
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
