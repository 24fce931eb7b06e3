// What the agent does for one app once a command is accepted: deploy a ref into a new release,
// roll back, run an operator action. Each returns an outcome for the reply; a failure after the
// switch puts `current` back where it was before replying. Steps report through a TaskReporter.
import { mkdir } from 'node:fs/promises';
import { buildActionArgv, type ParamValue } from './action-command.js';
import type { CommandOutcome, CommandRunner } from './command-runner.js';
import type { ActionConfig, AppConfig, HookName } from './config.js';
import { runHealthCheck } from './health-check.js';
import { newReleaseName, ReleaseDir, type CurrentLink } from './release-dir.js';
import type { PreparedReleases } from './prepared-releases.js';
import type { ReleaseStrategy } from './release-strategy.js';
import type { TaskReporter } from './task-reporter.js';

export interface StepTime {
  readonly name: string;
  readonly durationMs: number;
}

export interface OperationOutcome {
  readonly ok: boolean;
  readonly release?: string;
  readonly failedStep?: string;
  readonly exitCode?: number;
  readonly error?: string;
  readonly steps: readonly StepTime[];
  readonly result?: Record<string, unknown>;
}

export interface OperationDeps {
  readonly runCommand: CommandRunner;
  readonly now: () => Date;
}

/** The id of a command could not be put on disk: the command must not run (a crash could run it twice). */
export class RecordError extends Error {
  override readonly name = 'RecordError';
  readonly code = 'RECORD_FAILED';
}

/** Thrown inside a step to end the operation with this step failed. */
class StepFailure extends Error {
  constructor(
    readonly step: string,
    message: string,
    readonly exitCode: number | undefined,
    readonly lastLines: readonly string[],
  ) {
    super(message);
  }
}

const HOOK_STEP: Record<HookName, string> = { preDeploy: 'pre-deploy', preLink: 'pre-link', restart: 'restart', postDeploy: 'post-deploy' };

class StepRecorder {
  readonly steps: StepTime[] = [];
  constructor(private readonly reporter: TaskReporter) {}

  async run<T>(name: string, work: () => Promise<T>, exitCodeOf?: (value: T) => number | undefined): Promise<T> {
    this.reporter.started(name);
    const start = performance.now();
    try {
      const value = await work();
      const durationMs = Math.round(performance.now() - start);
      this.steps.push({ name, durationMs });
      this.reporter.completed(name, true, durationMs, exitCodeOf?.(value));
      return value;
    } catch (error) {
      const durationMs = Math.round(performance.now() - start);
      this.steps.push({ name, durationMs });
      this.reporter.completed(name, false, durationMs, error instanceof StepFailure ? error.exitCode : undefined);
      if (error instanceof StepFailure) throw error;
      throw new StepFailure(name, error instanceof Error ? error.message : String(error), undefined, []);
    }
  }
}

function hookEnv(app: AppConfig, ref: string, sha: string, releaseDir: string, previousDir: string | undefined): Record<string, string> {
  return {
    DEPLOYBUS_APP: app.name,
    DEPLOYBUS_ENV: app.env,
    DEPLOYBUS_REF: ref,
    DEPLOYBUS_SHA: sha,
    DEPLOYBUS_RELEASE_DIR: releaseDir,
    DEPLOYBUS_DEPLOY_ROOT: app.deployRoot,
    DEPLOYBUS_PREVIOUS_RELEASE_DIR: previousDir ?? '',
  };
}

async function runHook(deps: OperationDeps, reporter: TaskReporter, recorder: StepRecorder, app: AppConfig, hook: HookName, cwd: string, env: Record<string, string>): Promise<void> {
  const config = app.hooks[hook];
  if (config === undefined) return;
  const step = HOOK_STEP[hook];
  await recorder.run(
    step,
    async () => {
      const outcome = await deps.runCommand({ argv: config.command, cwd, env, timeoutMs: config.timeoutMs, onLine: (line) => reporter.line(line) });
      if (outcome.exitCode !== 0 || outcome.problem !== undefined) throw failureOf(step, config.command, outcome);
      return outcome;
    },
    (outcome) => outcome.exitCode,
  );
}

function failureOf(step: string, argv: readonly string[], outcome: CommandOutcome): StepFailure {
  return new StepFailure(step, `${step}: ${outcome.problem ?? `${argv[0] ?? ''} exited with ${outcome.exitCode}`}`, outcome.exitCode, outcome.lastLines);
}

function errorText(failure: StepFailure, suffix = ''): string {
  const tail = failure.lastLines.length > 0 ? `\nlast output:\n${failure.lastLines.slice(-10).join('\n')}` : '';
  return `${failure.message}${suffix}${tail}`.slice(0, 4000);
}

export interface DeployRequest {
  readonly app: AppConfig;
  readonly ref: string;
  readonly sha: string;
  /**
   * Resolves when the command's id is on disk (replay protection across a crash). The checkout may
   * run before; hooks and the switch, which a second run would repeat, wait for it. A rejection
   * fails the deploy at step "record" with nothing run.
   */
  readonly recorded?: Promise<void>;
  /** Trees built ahead: one of `sha` becomes the release instead of a new checkout. */
  readonly prepared?: PreparedReleases | undefined;
}

/** Builds a release of `sha`, switches to it and checks it; on a failure after the switch, switches back. */
export async function deployRelease(deps: OperationDeps, strategy: ReleaseStrategy, reporter: TaskReporter, request: DeployRequest, initialSteps: readonly StepTime[] = []): Promise<OperationOutcome> {
  const { app, ref, sha } = request;
  const dir = new ReleaseDir(app.deployRoot);
  const recorder = new StepRecorder(reporter);
  recorder.steps.push(...initialSteps);
  const name = newReleaseName(deps.now(), ref);
  // What `current` was: a release of this agent's, or a link it did not make (put back as it was on a failure).
  const was = await dir.readCurrent();
  const before = was.kind === 'link' ? was.release : undefined;
  const releasePath = dir.pathOf(name);
  const record = { ref, sha, previous: before };
  const env = hookEnv(app, ref, sha, releasePath, was.kind === 'link' ? was.path : undefined);
  let switched = false;
  try {
    await recorder.run('checkout', async () => {
      // The switch replaces a symlink: a directory there (a server set up by hand) is refused before anything runs.
      if (was.kind === 'not-a-link') throw new StepFailure('checkout', `checkout: ${dir.currentLink} is a directory or file, not a symlink, and deploybus switches releases by replacing that link; move it aside (mv current current.old) and deploy again`, undefined, []);
      // Recorded as incomplete before the release directory exists: a release the agent dies while
      // making (half its files, or a pre-deploy build half done) is never offered or taken as a rollback target.
      await dir.reserve(name);
      await dir.writeInfo(name, { ...record, complete: false });
      const prepared = request.prepared;
      if (prepared !== undefined && (await prepared.take(sha, releasePath))) {
        reporter.line({ stream: 'stdout', text: `deploy-agent: the tree of ${sha.slice(0, 12)} was prepared when the mirror fetched it; moved into place`, at: deps.now().toISOString() });
      } else {
        await dir.create(name);
        await strategy.build(app, sha, releasePath);
      }
    });
    if (request.recorded !== undefined) {
      await request.recorded.catch((error: unknown) => {
        throw new StepFailure('record', error instanceof Error ? error.message : String(error), undefined, []);
      });
    }
    await runHook(deps, reporter, recorder, app, 'preDeploy', releasePath, env);
    await runHook(deps, reporter, recorder, app, 'preLink', releasePath, env);
    await recorder.run('switch', async () => {
      await dir.writeInfo(name, { ...record, complete: true });
      await dir.switchTo(name);
    });
    switched = true;
    await afterSwitch(deps, reporter, recorder, app, releasePath, env);
    await runHook(deps, reporter, recorder, app, 'postDeploy', releasePath, env);
  } catch (error) {
    if (!(error instanceof StepFailure)) throw error;
    let suffix = '';
    if (switched) suffix = await restoreCurrent(deps, reporter, recorder, app, dir, was, env);
    await dir.remove(name).catch(() => undefined);
    await reporter.drain();
    return { ok: false, release: name, failedStep: error.step, ...(error.exitCode === undefined ? {} : { exitCode: error.exitCode }), error: errorText(error, suffix), steps: recorder.steps };
  }
  await reporter.drain();
  return { ok: true, release: name, steps: recorder.steps };
}

/**
 * Removes the oldest releases beyond keepReleases, never `current` nor the one before it. Run after
 * the deploy's reply (nobody should wait for old files to be deleted), before the app's next command.
 */
export async function pruneReleases(app: AppConfig, current: string): Promise<string[]> {
  const dir = new ReleaseDir(app.deployRoot);
  const previous = await dir.previous(current);
  return dir.prune(app.keepReleases, new Set([current, ...(previous === undefined ? [] : [previous])]));
}

/** restart and health-check, shared by deploy and rollback. */
async function afterSwitch(deps: OperationDeps, reporter: TaskReporter, recorder: StepRecorder, app: AppConfig, releasePath: string, env: Record<string, string>): Promise<void> {
  await runHook(deps, reporter, recorder, app, 'restart', releasePath, env);
  const check = app.healthCheck;
  if (check === undefined) return;
  await recorder.run('health-check', async () => {
    const outcome = await runHealthCheck({ check, cwd: releasePath, env, runCommand: deps.runCommand, onLine: (line) => reporter.line(line) });
    if (!outcome.ok) throw new StepFailure('health-check', `health-check: ${outcome.problem ?? 'failed'}`, outcome.exitCode, outcome.lastLines);
  });
}

/**
 * Puts `current` back as it `was`: on the release it named, or as the link was written (one the agent did
 * not make), or removed when there was none; restarts what it is back on. Returns a note for the error text.
 */
async function restoreCurrent(deps: OperationDeps, reporter: TaskReporter, recorder: StepRecorder, app: AppConfig, dir: ReleaseDir, was: CurrentLink, env: Record<string, string>): Promise<string> {
  try {
    await recorder.run('rollback', async () => {
      if (was.kind !== 'link') {
        await dir.clearCurrent();
        return;
      }
      let restoredEnv: Record<string, string>;
      if (was.release !== undefined) {
        await dir.switchTo(was.release);
        const info = await dir.info(was.release);
        restoredEnv = { ...env, DEPLOYBUS_REF: info.ref ?? '', DEPLOYBUS_SHA: info.sha ?? '', DEPLOYBUS_RELEASE_DIR: was.path };
      } else {
        await dir.pointCurrentAt(was.target);
        restoredEnv = { ...env, DEPLOYBUS_REF: '', DEPLOYBUS_SHA: '', DEPLOYBUS_RELEASE_DIR: was.path };
      }
      const restart = app.hooks.restart;
      if (restart !== undefined) {
        const outcome = await deps.runCommand({ argv: restart.command, cwd: was.path, env: restoredEnv, timeoutMs: restart.timeoutMs, onLine: (line) => reporter.line(line) });
        if (outcome.exitCode !== 0 || outcome.problem !== undefined) throw failureOf('rollback', restart.command, outcome);
      }
    });
    return was.kind === 'link' ? `; current is back on ${was.release ?? was.target}` : '; current removed (there was no earlier release)';
  } catch (error) {
    return `; ROLLBACK FAILED: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** Switches `current` to a named release (or the one before current), restarts and health-checks it. */
export async function rollbackRelease(deps: OperationDeps, reporter: TaskReporter, app: AppConfig, target: string | undefined): Promise<OperationOutcome> {
  const dir = new ReleaseDir(app.deployRoot);
  const recorder = new StepRecorder(reporter);
  const was = await dir.readCurrent();
  const before = was.kind === 'link' ? was.release : undefined;
  const name = target ?? (await dir.previous(before));
  if (name === undefined) return { ok: false, failedStep: 'switch', error: 'there is no earlier release to roll back to', steps: [] };
  const problem = await dir.unusable(name);
  if (problem !== undefined) return { ok: false, failedStep: 'switch', error: problem, steps: [] };
  const info = await dir.info(name);
  const path = dir.pathOf(name);
  const env = hookEnv(app, info.ref ?? '', info.sha ?? '', path, was.kind === 'link' ? was.path : undefined);
  try {
    await recorder.run('switch', () => dir.switchTo(name));
    await afterSwitch(deps, reporter, recorder, app, path, env);
  } catch (error) {
    if (!(error instanceof StepFailure)) throw error;
    const suffix = await restoreCurrent(deps, reporter, recorder, app, dir, was, env);
    await reporter.drain();
    return { ok: false, release: name, failedStep: error.step, ...(error.exitCode === undefined ? {} : { exitCode: error.exitCode }), error: errorText(error, suffix), steps: recorder.steps };
  }
  await reporter.drain();
  return { ok: true, release: name, steps: recorder.steps };
}

/** Runs an operator-defined action in the current release (or the deploy root when there is none). */
export async function runAction(deps: OperationDeps, reporter: TaskReporter, app: AppConfig, action: ActionConfig, params: Readonly<Record<string, ParamValue>>): Promise<OperationOutcome> {
  const built = buildActionArgv(action, params);
  if (!built.ok) return { ok: false, failedStep: action.name, error: built.reason, steps: [] };
  const dir = new ReleaseDir(app.deployRoot);
  const current = await dir.current();
  const info = current === undefined ? undefined : await dir.info(current);
  const cwd = current === undefined ? app.deployRoot : dir.pathOf(current);
  await mkdir(cwd, { recursive: true });
  const env = hookEnv(app, info?.ref ?? '', info?.sha ?? '', current === undefined ? '' : cwd, undefined);
  const recorder = new StepRecorder(reporter);
  try {
    const outcome = await recorder.run(
      action.name,
      async () => {
        const result = await deps.runCommand({ argv: built.argv, cwd, env, timeoutMs: action.timeoutMs, onLine: (line) => reporter.line(line) });
        if (result.exitCode !== 0 || result.problem !== undefined) throw failureOf(action.name, built.argv, result);
        return result;
      },
      (result) => result.exitCode,
    );
    await reporter.drain();
    return { ok: true, steps: recorder.steps, result: { exitCode: outcome.exitCode, output: outcome.lastLines.join('\n').slice(-2000) }, ...(current === undefined ? {} : { release: current }) };
  } catch (error) {
    if (!(error instanceof StepFailure)) throw error;
    await reporter.drain();
    return { ok: false, failedStep: error.step, ...(error.exitCode === undefined ? {} : { exitCode: error.exitCode }), error: errorText(error), steps: recorder.steps };
  }
}

/** What runs for an app: current release, its ref and sha, and every release kept. */
export async function appState(app: AppConfig): Promise<{ app: string; env: string; current: string | null; ref: string | null; sha: string | null; releases: string[] }> {
  const dir = new ReleaseDir(app.deployRoot);
  const current = await dir.current();
  const info = current === undefined ? undefined : await dir.info(current);
  return { app: app.name, env: app.env, current: current ?? null, ref: info?.ref ?? null, sha: info?.sha ?? null, releases: await dir.usable() };
}

