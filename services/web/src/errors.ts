// Typed errors of the web API. Each failure kind has its own class with a stable `code` and the HTTP
// status it is answered with; the error handler turns any of them into
// `{"error": {"code", "message", "field"?}}`. Callers branch on the class, never on message text.

export type ApiErrorCode =
  | 'bad_json'
  | 'invalid_field'
  | 'unauthenticated'
  | 'csrf_failed'
  | 'forbidden'
  | 'not_found'
  | 'refused'
  | 'conflict'
  | 'bus_unavailable'
  | 'conductor_unavailable'
  | 'conductor_error'
  | 'unsupported_media_type'
  | 'body_too_large'
  | 'internal';

export class ApiError extends Error {
  override readonly name: string = 'ApiError';
  constructor(
    readonly status: number,
    /** Stable, for programs. Refusals carry the conductor's own code (e.g. "locked") instead of "refused". */
    readonly code: string,
    message: string,
    /** The request field at fault (dotted path), when one is. */
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toBody(): { error: { code: string; message: string; field?: string } } {
    return { error: { code: this.code, message: this.message, ...(this.field === undefined ? {} : { field: this.field }) } };
  }
}

/** 400: the body is not JSON. */
export class BadJsonError extends ApiError {
  override readonly name = 'BadJsonError';
  constructor(detail: string, options?: { cause?: unknown }) {
    super(400, 'bad_json', `the request body is not valid JSON (${detail})`, undefined, options);
  }
}

/** 400: one field of the body or query is wrong; `field` names it. */
export class InvalidFieldError extends ApiError {
  override readonly name = 'InvalidFieldError';
  constructor(field: string, problem: string) {
    super(400, 'invalid_field', `${field || 'body'}: ${problem}`, field);
  }
}

/** 401: no credentials, or ones this server does not accept. */
export class UnauthenticatedError extends ApiError {
  override readonly name = 'UnauthenticatedError';
  constructor(message: string) {
    super(401, 'unauthenticated', message);
  }
}

/** 403: a cookie-authenticated change without the session's CSRF token, or a cross-site sign-in. */
export class CsrfError extends ApiError {
  override readonly name = 'CsrfError';
  constructor(message: string) {
    super(403, 'csrf_failed', message);
  }
}

/** 403: the conductor refused to let the caller do this (e.g. force without being an admin). */
export class ForbiddenError extends ApiError {
  override readonly name = 'ForbiddenError';
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

export class NotFoundError extends ApiError {
  override readonly name = 'NotFoundError';
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

/** 409: the conductor refused a deploy; `code` is its refusal code in lower case (locked, build_not_passed, ...). */
export class DeployRefusedError extends ApiError {
  override readonly name = 'DeployRefusedError';
  constructor(
    readonly refusalCode: string,
    message: string,
  ) {
    super(409, refusalCode.toLowerCase(), message);
  }
}

/** 409: the request conflicts with the current state (already locked, lock held by someone else, already finished). */
export class ConflictError extends ApiError {
  override readonly name = 'ConflictError';
  constructor(code: string, message: string) {
    super(409, code, message);
  }
}

/** 503: the bus connection is down, so nothing can be asked. */
export class BusDownError extends ApiError {
  override readonly name = 'BusDownError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(503, 'bus_unavailable', message, undefined, options);
  }
}

/** 503: nobody answered in time (no conductor, keepalive or notifier running, or too busy). */
export class NoAnswerError extends ApiError {
  override readonly name = 'NoAnswerError';
  constructor(
    readonly responder: string,
    message: string,
  ) {
    // The contract names one code for the conductor and keepalive (the reads behind the API); others get their own.
    super(503, responder === 'conductor' || responder === 'keepalive' ? 'conductor_unavailable' : `${responder}_unavailable`, message);
  }
}

/** 502: the conductor answered, but with an error that is not the caller's fault (e.g. an older conductor without a query kind). */
export class ConductorError extends ApiError {
  override readonly name = 'ConductorError';
  constructor(message: string) {
    super(502, 'conductor_error', message);
  }
}
