// The all-in-one's demo fleet: simulated servers, each a directory under the data directory with a
// repo-updater and a deploy-agent of its own, serving the demo app in one environment. Also the signing
// key pair the conductor signs with and the agents trust, made once and kept (private half mode 0600).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKeyPair } from '@deploybus/protocol';

export interface DemoServer {
  readonly host: string;
  readonly env: string;
}

/** One staging server and three production servers. */
export const DEMO_SERVERS: readonly DemoServer[] = [
  { host: 'stage1', env: 'staging' },
  { host: 'web1', env: 'production' },
  { host: 'web2', env: 'production' },
  { host: 'web3', env: 'production' },
];

export const DEMO_APP = 'demo';
export const SIGNING_KEY_ID = 'all-in-one';

export interface DemoKeys {
  readonly privateKeyFile: string;
  readonly publicKeyFile: string;
}

export function ensureSigningKeys(dataDir: string): DemoKeys {
  const dir = join(dataDir, 'keys');
  const privateKeyFile = join(dir, 'conductor.key');
  const publicKeyFile = join(dir, 'conductor.pub');
  if (!existsSync(privateKeyFile) || !existsSync(publicKeyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pair = generateSigningKeyPair();
    writeFileSync(privateKeyFile, pair.privateKey, { mode: 0o600 });
    writeFileSync(publicKeyFile, pair.publicKey);
  }
  return { privateKeyFile, publicKeyFile };
}

/**
 * The deploy-agent config of one demo server. The hooks only print and pause a little, so a person
 * watching the live view sees each step; they read the ref from the environment, never from a string
 * built out of a message.
 */
export function demoAgentConfig(server: DemoServer, options: { dataDir: string; origin: string; keys: DemoKeys; stepDelaySeconds: number }): Record<string, unknown> {
  const base = join(options.dataDir, 'servers', server.host);
  const pause = String(options.stepDelaySeconds);
  return {
    host: server.host,
    mirrorsDir: join(base, 'mirrors'),
    stateDir: join(base, 'deploy-agent'),
    allowedProtocols: ['file'],
    trustedKeys: [{ keyId: SIGNING_KEY_ID, publicKey: { file: options.keys.publicKeyFile } }],
    logBatchMs: 100,
    apps: [
      {
        name: DEMO_APP,
        env: server.env,
        repo: DEMO_APP,
        url: options.origin,
        deployRoot: join(base, 'apps', DEMO_APP),
        keepReleases: 5,
        hooks: {
          preDeploy: ['sh', '-c', 'echo "preparing $DEPLOYBUS_APP $DEPLOYBUS_REF ($DEPLOYBUS_SHA)"; sleep "$1"; echo "version file says $(cat VERSION)"', 'pre-deploy', pause],
          restart: ['sh', '-c', 'echo "restarting $DEPLOYBUS_APP on $0"; sleep "$1"; echo "restarted"', server.host, pause],
          postDeploy: ['sh', '-c', 'echo "now serving $(cat "$DEPLOYBUS_DEPLOY_ROOT/current/VERSION")"'],
        },
        healthCheck: { command: ['test', '-s', 'index.html'], retries: 1, intervalMs: 200 },
      },
    ],
  };
}
