// @deploybus/jenkins-trigger: the daemon's definition, and its logic for tests and the all-in-one process.
export { jenkinsTrigger, SERVICE, WORK_QUEUE } from './jenkins-trigger.js';
export { jenkinsTriggerConfigSchema, type JenkinsTriggerConfig } from './trigger-config.js';
export { BuildRelay, type BuildRelayOptions, type JenkinsApi, type RetryOptions } from './build-relay.js';
export { BuildTracker, trackerStateSchema, type TrackedBuild, type FinishedBuild, type TrackerState, type BuildTrackerOptions } from './build-tracker.js';
export { parseNotification, type BuildNotification, type BuildPhase, type ParsedNotification } from './jenkins-notification.js';
export { matchJobs, globMatches, jobPath, jobNameFromPath, type JobMapping } from './job-matcher.js';
export { startNotifyServer, NOTIFY_PATH, type NotifyServer, type NotifyServerOptions, type NotificationOutcome } from './notify-server.js';
export { StateFile } from './state-file.js';
// The Jenkins client and its errors live in @deploybus/jenkins (the notifier starts jobs too); re-exported for this daemon's users.
export {
  JenkinsClient,
  JenkinsError,
  JenkinsUnavailableError,
  JenkinsAuthError,
  JenkinsNotFoundError,
  JenkinsRequestError,
  type JenkinsErrorCode,
  type JenkinsClientOptions,
  type SecretLike,
  type QueuedBuild,
  type QueueItemState,
  type BuildInfo,
  type BuildResult,
} from '@deploybus/jenkins';
