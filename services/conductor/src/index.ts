// @deploybus/conductor: public face. The daemon definition, and the rollout logic as plain modules.
export { conductorDaemon, conductorConfigSchema, DEFAULT_LEDGER_URL, type ConductorConfig } from './conductor.js';
export { DeployCoordinator, CONDUCTOR_QUEUE, CONDUCTOR_QUEUE_PATTERNS, CANCEL_ROUTING_KEY, RESTART_REASON, deploymentIdFor, type DeployCoordinatorOptions } from './deploy-coordinator.js';
export { answerStateQuery, checkStateQuery, fitResult, STATE_KINDS, DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, type StateAnswer, type StateKind, type StateQuery, type StateSources } from './state-queries.js';
export { handleLockRequest, type LockStatePayload } from './lock-requests.js';
export { remoteTagLister, tagsOf, compareVersions, type RepoTag, type TagLister } from './repo-tags.js';
export { remoteRefResolver, isFullSha, type RefResolver, type RemoteRefsReader } from './ref-resolver.js';
export { ConductorError, RosterUnavailableError, HostPatternError, RolloutOptionsError, type ConductorErrorCode } from './errors.js';
export { compileHostPattern, decidingPattern, patternsSelect, type HostPattern } from './host-pattern.js';
export { selectTargets, compareHosts, type RosterEntry, type TargetFilter, type TargetHost, type TargetSelection, type TargetRefusalCode } from './target-selection.js';
export { planRollout, batchSizeOf, type PlanOptions, type RolloutOptions } from './rollout-plan.js';
export {
  evaluateGates,
  type BuildGateAnswer,
  type DeployRequest,
  type DeploymentRef,
  type EnvironmentLock,
  type GateDecision,
  type GateInput,
  type RefusalCode,
} from './gates.js';
export {
  CommandSigner,
  commandIdFor,
  type CommandFactory,
  type CommandSignerOptions,
  type DeployCommandInput,
  type RollbackCommandInput,
  type SignedCommand,
} from './command-signer.js';
export {
  RolloutRunner,
  systemTimer,
  type AgentGateway,
  type AgentReply,
  type HostOutcome,
  type HostResult,
  type RolloutEvent,
  type RolloutResult,
  type RolloutRunnerDeps,
  type RolloutSpec,
  type RolloutStatus,
  type RolloutTimer,
} from './rollout-runner.js';
