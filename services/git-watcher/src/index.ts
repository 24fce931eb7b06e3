// @deploybus/git-watcher: the daemon definition and its logic, for tests and the all-in-one process.
export { gitWatcherDefinition, startGitWatcher, GIT_WATCHER_VERSION, type GitWatcher, type GitWatcherDeps } from './git-watcher.js';
export { gitWatcherConfigSchema, stateFileOf, type GitWatcherConfig } from './watcher-config.js';
export { verifyGithubSignature, githubSignature, tokensMatch } from './webhook-auth.js';
export { mapGithub, mapGitlab, mapDockerhub, type WebhookEvent, type WebhookOutcome, type DockerhubPush } from './webhook-payloads.js';
export { createWebhookApp, type WebhookServerOptions } from './webhook-server.js';
export { callbackAllowed, sendDockerhubCallback, DOCKERHUB_CALLBACK_HOST, type DockerhubCallbackBody } from './dockerhub-callback.js';
export { DeliveryGate, type GateResult } from './delivery-gate.js';
export { StateStore, emptyState, type WatcherState } from './watcher-state.js';
export { diffRefs, watchedRefs, isWatchedRef, ZERO_SHA, type RefChange } from './ref-changes.js';
export { RepoPoller, type PolledRepo, type PollResult, type LsRemoteLike, type RepoPollerDeps } from './repo-poller.js';
export { startSpoolDrains, type SpoolDrainer } from './spool-drainer.js';
