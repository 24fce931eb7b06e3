// Typed errors of the Jenkins edge. Callers branch on the class, never on message text. No message
// ever holds the API token: the client builds them from the method, the path and the status only.

export type JenkinsErrorCode = 'JENKINS_UNAVAILABLE' | 'JENKINS_AUTH_REFUSED' | 'JENKINS_NOT_FOUND' | 'JENKINS_REQUEST_REFUSED';

export abstract class JenkinsError extends Error {
  abstract readonly code: JenkinsErrorCode;
  /** Worth trying again later (Jenkins down, 5xx, timeout, unreadable answer). */
  abstract readonly transient: boolean;
  /** The Jenkins URL asked, without credentials. */
  readonly url: string;
  readonly status: number | undefined;
  constructor(message: string, url: string, status: number | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.url = url;
    this.status = status;
  }
}

/** Connection refused, timeout, 5xx, or a body that is not the JSON Jenkins documents. */
export class JenkinsUnavailableError extends JenkinsError {
  override readonly name = 'JenkinsUnavailableError';
  readonly code = 'JENKINS_UNAVAILABLE';
  readonly transient = true;
}

/** 401, or 403 that is not about a crumb: the user or API token is wrong, or lacks the permission. */
export class JenkinsAuthError extends JenkinsError {
  override readonly name = 'JenkinsAuthError';
  readonly code = 'JENKINS_AUTH_REFUSED';
  readonly transient = false;
  readonly user: string;
  constructor(user: string, url: string, status: number) {
    super(`Jenkins refused the credentials for user ${user} (HTTP ${status})`, url, status);
    this.user = user;
  }
}

/** 404: no such job, build or queue item. */
export class JenkinsNotFoundError extends JenkinsError {
  override readonly name = 'JenkinsNotFoundError';
  readonly code = 'JENKINS_NOT_FOUND';
  readonly transient = false;
}

/** Any other 4xx answer (for example 400 for a job that takes no parameters). */
export class JenkinsRequestError extends JenkinsError {
  override readonly name = 'JenkinsRequestError';
  readonly code = 'JENKINS_REQUEST_REFUSED';
  readonly transient = false;
}
