// The git edge: the few git operations deploybus needs, each with validated inputs, argument arrays
// (never a shell), `--end-of-options` before anything from outside, no prompts, and only allowed
// transports: GIT_ALLOW_PROTOCOL is git's own allow-list, so `ext::` and `fd::` are refused by git
// itself too, even from a submodule or a redirect.
// simple-git is loaded on the first git command, not at import: a daemon that imports this package
// for its input checks (deploy-agent's config, command checks) and sits idle never pays its memory.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SimpleGit } from 'simple-git';
import { GitCommandError } from './errors.js';
import { assertRef, assertRepoUrl, DEFAULT_ALLOWED_PROTOCOLS, type GitProtocol } from './inputs.js';

export interface CommitSummary {
  readonly sha: string;
  readonly author: string;
  readonly subject: string;
}

export interface MirrorState {
  readonly head: string | undefined;
  readonly tags: readonly string[];
}

export interface GitClientOptions {
  readonly allowedProtocols?: readonly GitProtocol[];
  /** Kills a git command that runs longer (default 5 minutes). */
  readonly timeoutMs?: number;
}

const ZERO_SHA = /^0{40}$/;
/** Runs of a mirror rev-parse that came back empty before the empty answer counts (see revParseInMirror). */
const EMPTY_ANSWER_TRIES = 3;
/** How long after git exits its output may still be arriving (see `completion` below). */
const OUTPUT_GRACE_MS = 10_000;
const FULL_SHA = /^[0-9a-f]{40}$|^[0-9a-f]{64}$/;

let simpleGitModule: Promise<typeof import('simple-git')> | undefined;

export class GitClient {
  private readonly allowed: readonly GitProtocol[];
  private readonly timeoutMs: number;

  constructor(options: GitClientOptions = {}) {
    this.allowed = options.allowedProtocols ?? DEFAULT_ALLOWED_PROTOCOLS;
    this.timeoutMs = options.timeoutMs ?? 300_000;
  }

  private async git(cwd?: string, quietMiss = false): Promise<SimpleGit> {
    const { simpleGit } = await (simpleGitModule ??= import('simple-git'));
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: process.env['HOME'] ?? '/tmp',
      GIT_TERMINAL_PROMPT: '0',
      GIT_ALLOW_PROTOCOL: this.allowed.join(':'),
      LC_ALL: 'C',
    };
    const sshCommand = process.env['GIT_SSH_COMMAND'];
    if (sshCommand !== undefined) env['GIT_SSH_COMMAND'] = sshCommand;
    return simpleGit({
      ...(cwd === undefined ? {} : { baseDir: cwd }),
      timeout: { block: this.timeoutMs },
      // simple-git's default takes a command as done 50 ms after git exits even when its output has
      // not all been read yet (the exit and the last bytes of output arrive separately). On a busy
      // event loop (fifty agents on two cores) that cut answers short, often to nothing: a rev-parse
      // that printed a commit read as "no such ref" and a deploy was refused UNKNOWN_REF. Here the
      // output is read to its end; only a process left holding git's output open (a backgrounded
      // ssh ControlPersist master) ends the wait, OUTPUT_GRACE_MS after git exited.
      completion: { onClose: true, onExit: OUTPUT_GRACE_MS },
      // simple-git guards git's environment variables; these are ours, set just above, not inherited.
      allowEnvironment: ['GIT_TERMINAL_PROMPT', 'GIT_ALLOW_PROTOCOL', ...(sshCommand === undefined ? [] : ['GIT_SSH_COMMAND'])],
      ...(sshCommand === undefined ? {} : { unsafe: { allowUnsafeSshCommand: true } }),
      // simple-git counts a command as failed only when it exits non-zero AND wrote to stderr: a git
      // that exits 1 quietly (a `--quiet` fetch), or is killed by a signal, "succeeds" with whatever it
      // printed, often nothing, which then reads as "no such ref". Here any exit but 0 fails, except
      // the quiet exit 1 of `rev-parse --verify --quiet` for a name that names nothing (`quietMiss`).
      errors: (error, result) => {
        if (error !== undefined) return error;
        if (result.exitCode === 0) return undefined;
        const stderr = Buffer.concat(result.stdErr).toString('utf8').trim();
        if (quietMiss && result.exitCode === 1 && stderr === '') return undefined;
        const how = typeof result.exitCode === 'number' ? `exited with ${result.exitCode}` : 'was killed by a signal';
        return Buffer.from(`git ${how}${stderr === '' ? ', printing nothing on stderr' : `: ${stderr}`}`);
      },
    }).env(env);
  }

  /** `quietMiss`: git's quiet exit 1 (rev-parse --verify --quiet of a name that names nothing) is an answer: no output. */
  private async run(operation: string, args: string[], cwd?: string, quietMiss = false): Promise<string> {
    try {
      return await (await this.git(cwd, quietMiss)).raw(args);
    } catch (error) {
      throw new GitCommandError(operation, error instanceof Error ? error.message : String(error));
    }
  }

  /** Refs of a remote repository: ref name -> sha. */
  async lsRemote(url: string): Promise<Map<string, string>> {
    assertRepoUrl(url, this.allowed);
    const out = await this.run('ls-remote', ['ls-remote', '--end-of-options', url]);
    const refs = new Map<string, string>();
    for (const line of out.split('\n')) {
      const [sha, ref] = line.split('\t');
      if (sha && ref && /^[0-9a-f]{40,64}$/.test(sha)) refs.set(ref, sha);
    }
    return refs;
  }

  /** Makes a bare mirror of `url` at `path` unless one is there already. */
  async ensureMirror(path: string, url: string): Promise<void> {
    assertRepoUrl(url, this.allowed);
    // Clone only into nothing (or an empty directory). Anything else must already be a bare mirror:
    // a failed git command can be a passing fault, never a reason to clone over what is there.
    if (!existsSync(path) || readdirSync(path).length === 0) {
      await this.run('clone --mirror', ['clone', '--mirror', '--progress', '--', url, path]);
      return;
    }
    const bare = existsSync(join(path, 'HEAD')) ? (await this.revParseInMirror(path, ['--is-bare-repository'])).trim() : 'false';
    if (bare !== 'true') throw new GitCommandError('rev-parse', `${path} holds something that is not a bare mirror`);
  }

  /**
   * ensureMirror and resolveRef in one git process when the mirror is there (a deploy's common case):
   * `rev-parse --is-bare-repository --revs-only` prints "true" and the commit, or only "true" when
   * the ref names nothing. Clones first when nothing is at `path`. Undefined: no such ref.
   */
  async resolveInMirror(path: string, url: string, ref: string): Promise<string | undefined> {
    assertRepoUrl(url, this.allowed);
    assertRef(ref);
    if (!existsSync(path) || readdirSync(path).length === 0 || !existsSync(join(path, 'HEAD'))) {
      await this.ensureMirror(path, url); // clones into nothing, refuses anything else
      return this.resolveRef(path, ref);
    }
    const out = await this.revParseInMirror(path, ['--is-bare-repository', '--revs-only', '--end-of-options', `${ref}^{commit}`]);
    const [bare, sha] = out.trim().split('\n');
    if (bare !== 'true') throw new GitCommandError('rev-parse', `${path} holds something that is not a bare mirror (git printed ${JSON.stringify(out.slice(0, 100))}${out.trim() === '' ? `, ${EMPTY_ANSWER_TRIES} times` : ''})`);
    return sha !== undefined && FULL_SHA.test(sha) ? sha : undefined;
  }

  /**
   * A rev-parse whose first line is always "true" or "false" (--is-bare-repository) while git works.
   * Under heavy load (fifty agents deploying at once on one 2-core machine) it was seen to come back
   * empty, with no error, a few times in a hundred calls: most likely simple-git's 50 ms exit grace,
   * now replaced (see `completion`), cutting the output off. As an empty answer here can only be
   * wrong, it is still asked again, at most EMPTY_ANSWER_TRIES runs in all, before it counts.
   */
  private async revParseInMirror(path: string, args: string[]): Promise<string> {
    let out = '';
    for (let run = 1; run <= EMPTY_ANSWER_TRIES; run += 1) {
      out = await this.run('rev-parse', ['rev-parse', ...args], path);
      if (out.trim() !== '') return out;
      if (run < EMPTY_ANSWER_TRIES) await new Promise((resolve) => setTimeout(resolve, 25 * run));
    }
    return out;
  }

  /** `git fetch --prune --tags` into a mirror; returns its head and tags afterwards. */
  async fetchMirror(path: string): Promise<MirrorState> {
    await this.fetchRefs(path);
    return this.mirrorState(path);
  }

  /** `git fetch --prune --tags` into a mirror, nothing more (fetchMirror also reads the mirror's state). */
  async fetchRefs(path: string): Promise<void> {
    await this.run('fetch', ['fetch', '--prune', '--tags', '--progress', 'origin'], path);
  }

  async mirrorState(path: string): Promise<MirrorState> {
    const tags = (await this.run('tag', ['tag', '--list'], path)).split('\n').filter((t) => t !== '');
    let head: string | undefined;
    try {
      head = (await this.run('rev-parse', ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], path, true)).trim() || undefined;
    } catch {
      head = undefined;
    }
    return { head, tags };
  }

  /** The sha a ref names in a repository, or undefined when it names nothing. */
  async resolveRef(path: string, ref: string): Promise<string | undefined> {
    assertRef(ref);
    // `--verify --quiet` exits 1 with nothing on stderr when the ref names nothing: that alone is "no
    // such ref". Any other failure (a broken repository, a git killed by a signal, a process that could
    // not start) is an error worth its message.
    const sha = (await this.run('rev-parse', ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], path, true)).trim();
    return sha === '' ? undefined : sha;
  }

  /** Commits between two shas as a post-receive hook sees them, newest first, at most `max`. */
  async commitsBetween(path: string, before: string, after: string, max = 100): Promise<CommitSummary[]> {
    if (ZERO_SHA.test(after)) return []; // the ref was deleted
    for (const sha of [before, after]) if (!/^[0-9a-f]{40,64}$/.test(sha)) throw new GitCommandError('rev-list', `not a sha: ${sha}`);
    const range = ZERO_SHA.test(before) ? [after] : [`${before}..${after}`];
    const out = await this.run('log', ['log', `--max-count=${max}`, '--format=%H%x1f%an <%ae>%x1f%s%x1e', '--end-of-options', ...range], path);
    return out
      .split('\x1e')
      .map((record) => record.trim())
      .filter((record) => record !== '')
      .map((record) => {
        const [sha = '', author = '', subject = ''] = record.split('\x1f');
        return { sha, author, subject };
      });
  }
}
