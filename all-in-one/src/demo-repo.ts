// The demo repository the all-in-one watches: a bare "origin" with a few tagged releases, and a
// working clone to push from. Made once in the data directory and reused afterwards.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

export interface DemoRepo {
  readonly origin: string;
  readonly work: string;
}

const IDENTITY = { GIT_AUTHOR_NAME: 'deploybus demo', GIT_AUTHOR_EMAIL: 'demo@deploybus.invalid', GIT_COMMITTER_NAME: 'deploybus demo', GIT_COMMITTER_EMAIL: 'demo@deploybus.invalid' };

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', args, { cwd, env: { ...process.env, ...IDENTITY }, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function ensureDemoRepo(dataDir: string): DemoRepo {
  const origin = join(dataDir, 'demo-origin.git');
  const work = join(dataDir, 'demo-work');
  if (existsSync(join(origin, 'HEAD')) && existsSync(join(work, '.git'))) return { origin, work };
  mkdirSync(dataDir, { recursive: true });
  git(dataDir, 'init', '--quiet', '--bare', '--initial-branch=main', origin);
  git(dataDir, 'clone', '--quiet', origin, work);
  for (const version of ['1.0.0', '1.1.0', '1.2.0']) {
    writeFileSync(join(work, 'VERSION'), `${version}\n`);
    writeFileSync(join(work, 'index.html'), `<h1>demo app ${version}</h1>\n`);
    git(work, 'add', 'VERSION', 'index.html');
    git(work, 'commit', '--quiet', '-m', `Release ${version}`);
    git(work, 'tag', `v${version}`);
  }
  git(work, 'push', '--quiet', 'origin', 'main', '--tags');
  return { origin, work };
}

/** The demo repository's tags and the commits they name. */
export function demoTags(repo: DemoRepo): Array<{ tag: string; sha: string }> {
  const out = execFileSync('git', ['for-each-ref', '--format=%(refname:short) %(*objectname)%(objectname)', 'refs/tags'], { cwd: repo.origin, encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [tag = '', ids = ''] = line.split(' ');
      // Annotated tags print the peeled commit first; lightweight ones only their commit.
      return { tag, sha: ids.slice(0, 40) };
    });
}
