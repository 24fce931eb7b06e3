// @deploybus/deploy-agent: the daemon definition and its logic, for tests and the all-in-one process.
export { deployAgent, startDeployAgent, SERVICE, VERSION, type DeployAgent, type DeployAgentDependencies } from './deploy-agent.js';
export { deployAgentConfigSchema, loadTrustedKeys, HOOK_NAMES, type DeployAgentConfig, type AppConfig, type ActionConfig, type HealthCheckConfig, type HookConfig, type HookName, type ParamSpec } from './config.js';
export { checkCommand, type AgentCommand, type CheckContext, type CommandCheck, type RefusalCode } from './command-check.js';
export { buildActionArgv, type ActionArgv, type ParamValue } from './action-command.js';
export { ExecutedCommands } from './executed-commands.js';
export { ReleaseDir, newReleaseName, isReleaseName, RELEASE_NAME_PATTERN, type ReleaseInfo } from './release-dir.js';
export { GitReleaseStrategy, type ReleaseStrategy, type MirrorGit } from './release-strategy.js';
export { runCommand, type CommandRunner, type CommandOutcome, type OutputLine, type RunCommandOptions } from './command-runner.js';
export { runHealthCheck, type HealthOutcome, type HealthCheckOptions } from './health-check.js';
export { TaskReporter, type TaskScope, type TaskReporterOptions } from './task-reporter.js';
export { deployRelease, pruneReleases, RecordError, rollbackRelease, runAction, appState, type OperationOutcome, type OperationDeps, type StepTime, type DeployRequest } from './app-operations.js';
export { AGENT_NODE_FLAGS } from './node-flags.js';
