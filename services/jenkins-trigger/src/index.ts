// @deploybus/jenkins-trigger: the daemon's definition, and its logic for tests and the all-in-one process.
export { jenkinsTrigger, SERVICE, WORK_QUEUE } from './jenkins-trigger.js';
export { jenkinsTriggerConfigSchema, type JenkinsTriggerConfig } from './trigger-config.js';
export { BuildRelay, type BuildRelayOptions, type JenkinsApi, type RetryOptions } from './build-relay.js';
export { BuildTracker, trackerStateSchema, type TrackedBuild, type FinishedBuild, type TrackerState, type BuildTrackerOptions } from './build-tracker.js';
export { JenkinsClient, type JenkinsClientOptions, type SecretLike, type QueuedBuild, type QueueItemState, type BuildInfo, type BuildResult } from './jenkins-client.js';
export { parseNotification, type BuildNotification, type BuildPhase, type ParsedNotification } from './jenkins-notification.js';
export { matchJobs, globMatches, jobPath, jobNameFromPath, type JobMapping } from './job-matcher.js';
export { startNotifyServer, NOTIFY_PATH, type NotifyServer, type NotifyServerOptions, type NotificationOutcome } from './notify-server.js';
export { StateFile } from './state-file.js';
export { JenkinsError, JenkinsUnavailableError, JenkinsAuthError, JenkinsNotFoundError, JenkinsRequestError, type JenkinsErrorCode } from './errors.js';
