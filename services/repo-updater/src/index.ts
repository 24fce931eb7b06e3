// @deploybus/repo-updater: the daemon definition and its logic, for tests and the all-in-one process.
export { repoUpdater, startRepoUpdater, decideEvent, SERVICE, VERSION, type RepoUpdater, type RepoUpdaterDependencies, type EventDecision } from './repo-updater.js';
export { repoUpdaterConfigSchema, FETCH_TRIGGERS, type RepoUpdaterConfig, type RepoConfig, type FetchTrigger } from './config.js';
export { MirrorSet, type MirrorGit, type MirroredRepo, type MirrorReport, type MirrorTrigger, type MirrorSetOptions, type SleepFunction } from './mirror-set.js';
export { CoalescingRunner, type RunFunction } from './coalescing-runner.js';
export { PackageRefreshQueue, type PackageEvent, type PackageRefreshQueueOptions } from './package-refresh-queue.js';
export { runRefreshCommand, type RefreshOutcome, type RefreshCommandOptions, type RefreshCommandRunner } from './package-refresher.js';
export { globMatches, selectedBy, carriesRepo, wantsPackage, GLOB_PATTERN, type MatchOptions } from './patterns.js';
