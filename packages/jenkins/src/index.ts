// @deploybus/jenkins: the Jenkins edge shared by the daemons that start jobs (jenkins-trigger after a
// push, the notifier after a deploy): its REST client with crumbs and API tokens, and its typed errors.
export { JenkinsClient, type JenkinsClientOptions, type SecretLike, type QueuedBuild, type QueueItemState, type BuildInfo, type BuildResult } from './jenkins-client.js';
export { JenkinsError, JenkinsUnavailableError, JenkinsAuthError, JenkinsNotFoundError, JenkinsRequestError, type JenkinsErrorCode } from './errors.js';
export { jobPath } from './job-path.js';
