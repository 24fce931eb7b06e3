// `deploybus deploy-agent` runs the agent as its own node process, as the shipped systemd units and
// container do: with the agent's node flags (an idle agent stays under 60 MB only with them, and
// they cannot be set from inside a running process) and its own entry point, so none of the other
// daemons' code is loaded. This process waits for it, passes on the signals that stop it, and ends
// with its exit code.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { AGENT_MAIN, AGENT_NODE_FLAGS } from '@deploybus/deploy-agent/launch';
import { EXIT } from './cli-errors.js';
import type { CliIo } from './cli-io.js';

const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/** The arguments after `node`: the agent's flags, its main.js, and the config file when one was named. */
export function agentProcessArgs(configFile: string | undefined): string[] {
  return [...AGENT_NODE_FLAGS, AGENT_MAIN, ...(configFile === undefined ? [] : ['--config', configFile])];
}

/** Runs the agent until it exits; resolves with the exit code to end with (128 + the signal's number when a signal ended it). */
export function runAgentProcess(configFile: string | undefined, io: Pick<CliIo, 'env' | 'stderr' | 'nodePath'>): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(io.nodePath, agentProcessArgs(configFile), { stdio: 'inherit', env: io.env });
    const forwards = FORWARDED.map((signal) => {
      const forward = (): void => void child.kill(signal);
      process.on(signal, forward);
      return () => process.off(signal, forward);
    });
    const done = (code: number): void => {
      for (const remove of forwards) remove();
      resolve(code);
    };
    child.once('error', (error) => {
      io.stderr(`deploybus: could not start the deploy-agent process (${io.nodePath}): ${error.message}\n`);
      done(EXIT.failed);
    });
    child.once('exit', (code, signal) => done(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0))));
  });
}
