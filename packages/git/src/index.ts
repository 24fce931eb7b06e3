// @deploybus/git: the git edge every daemon uses, with inputs validated before git sees them.
export { GitInputError, GitCommandError, redactCredentials } from './errors.js';
export { assertRef, assertRepoUrl, DEFAULT_ALLOWED_PROTOCOLS, type GitProtocol } from './inputs.js';
export { GitClient, type CommitSummary, type MirrorState, type GitClientOptions } from './git-client.js';
export { parseHookInput, type HookInput, type HookInputProblem, type RefUpdate } from './hook-input.js';
export { repoLayout, headInfo, type RepoLayout, type HeadInfo } from './repo-layout.js';
export { mirrorPath } from './mirror-path.js';
export { exportTree, type ExportTreeOptions } from './release-export.js';
