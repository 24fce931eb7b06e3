// @deploybus/cli: the `deploybus` command line; exported for tests and for other front ends.
export { runCli, defaultCliPath, CLI_VERSION, type CliIo } from './cli-program.js';
export { runHook, safeHostName, HOOK_SERVICE, type HookRunOptions, type HookRunResult } from './hook-run.js';
export { installHook, renderHookScript, shellQuote, HOOK_MARKER, HOOK_TYPES, type HookType, type HookScriptValues, type InstallOptions, type InstallResult } from './hook-install.js';
export { chooseRepoName, commitPushedPayload, pusherFromEnv, repoNameFromGitDir, ZERO_SHA, type CommitPushedPayload, type HookOrigin } from './hook-events.js';
export { loadCliConfig, cliConfigSchema, type CliConfig, type CliConfigView } from './cli-config.js';
export { CliError, EXIT, type CliErrorCode } from './cli-errors.js';
