// Typed errors of the CLI: each carries the exit code the process ends with and a sentence for people.
// Scripts branch on the exit code, so each outcome a script may care about has its own.

export const EXIT = {
  ok: 0,
  /** A deploy (or the command) failed. */
  failed: 1,
  /** The conductor refused the deploy (locked, build not passed, no targets ...). */
  refused: 2,
  /** The deploy was cancelled or superseded by a newer one. */
  cancelled: 3,
  /** The deployment, lock or thing asked for does not exist. */
  notFound: 4,
  /** The live stream ended and the deployment's outcome could not be learned. */
  outcomeUnknown: 5,
  usage: 64, // EX_USAGE
  /** The API turned the request's input down (400, naming the field). */
  invalidInput: 65, // EX_DATAERR
  /** The API cannot be reached, or it cannot reach the bus or the conductor (503). */
  unavailable: 69, // EX_UNAVAILABLE
  /** The API failed, or answered with something the CLI does not understand. */
  apiFailed: 70, // EX_SOFTWARE
  /** No token, a wrong one, or not allowed (401, 403). */
  unauthorized: 77, // EX_NOPERM
  config: 78, // EX_CONFIG
  /** Ctrl-C while following a deploy (it goes on running). */
  interrupted: 130,
} as const;

export type CliErrorCode =
  | 'INVALID_INPUT'
  | 'NOT_A_REPOSITORY'
  | 'HOOK_EXISTS'
  | 'WRITE_FAILED'
  | 'CONFIG_INVALID'
  | 'TOKEN_FILE_UNREADABLE'
  | 'API_UNREACHABLE'
  | 'API_INVALID_INPUT'
  | 'API_UNAUTHORIZED'
  | 'API_NOT_FOUND'
  | 'API_REFUSED'
  | 'API_UNAVAILABLE'
  | 'API_FAILED'
  | 'API_BAD_ANSWER'
  | 'DEPLOY_FAILED'
  | 'DEPLOY_CANCELLED'
  | 'FOLLOW_INTERRUPTED'
  | 'OUTCOME_UNKNOWN';

export class CliError extends Error {
  override readonly name: string = 'CliError';
  constructor(
    readonly code: CliErrorCode,
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What the API said in its error body: `{"error": {"code", "message", "field"?}}`. */
export interface ApiErrorBody {
  readonly code: string;
  readonly message: string;
  readonly field?: string | undefined;
}

/** The API answered a request with an error status; `apiCode` and `field` are the API's own. */
export class ApiError extends CliError {
  override readonly name: string = 'ApiError';
  constructor(
    code: CliErrorCode,
    message: string,
    exitCode: number,
    readonly status: number,
    readonly apiCode: string,
    readonly field: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(code, message, exitCode, options);
  }
}

/** 400: the request's input was turned down; `field` names the bad one. */
export class ApiInputError extends ApiError {
  override readonly name = 'ApiInputError';
  constructor(status: number, body: ApiErrorBody) {
    super('API_INVALID_INPUT', withField(body), EXIT.invalidInput, status, body.code, body.field);
  }
}

/** 401: no token or a wrong one (the sentence says how to give one); 403: the token may not do this. */
export class ApiUnauthorizedError extends ApiError {
  override readonly name = 'ApiUnauthorizedError';
  constructor(status: number, body: ApiErrorBody, tokenGiven: boolean) {
    const how = tokenGiven
      ? 'check the token (--token-file, DEPLOYBUS_TOKEN_FILE, DEPLOYBUS_TOKEN or --token) against the web config\'s tokens'
      : 'give an API token with --token-file FILE, DEPLOYBUS_TOKEN_FILE, DEPLOYBUS_TOKEN or --token (tokens are in the web config\'s `tokens`)';
    const message = status === 401 ? `${tokenGiven ? 'the API did not accept the token' : 'the API needs a token'}; ${how}` : `not allowed: ${body.message}`;
    super('API_UNAUTHORIZED', message, EXIT.unauthorized, status, body.code, body.field);
  }
}

export class ApiNotFoundError extends ApiError {
  override readonly name = 'ApiNotFoundError';
  constructor(status: number, body: ApiErrorBody) {
    super('API_NOT_FOUND', withField(body), EXIT.notFound, status, body.code, body.field);
  }
}

/** 409: the conductor refused (`apiCode` is its code, e.g. locked, build_not_passed, no_targets). */
export class ApiRefusedError extends ApiError {
  override readonly name = 'ApiRefusedError';
  constructor(status: number, body: ApiErrorBody) {
    super('API_REFUSED', `refused (${body.code}): ${body.message}`, EXIT.refused, status, body.code, body.field);
  }
}

/** 503: the API is up but cannot reach the bus or the conductor in time. */
export class ApiUnavailableError extends ApiError {
  override readonly name = 'ApiUnavailableError';
  constructor(status: number, body: ApiErrorBody) {
    super('API_UNAVAILABLE', `the API is up but cannot do it now (${body.code}): ${body.message}`, EXIT.unavailable, status, body.code, body.field);
  }
}

/** Any other error status (5xx, an unexpected 4xx). */
export class ApiFailedError extends ApiError {
  override readonly name = 'ApiFailedError';
  constructor(status: number, body: ApiErrorBody) {
    super('API_FAILED', `the API answered ${status} (${body.code}): ${body.message}`, EXIT.apiFailed, status, body.code, body.field);
  }
}

/** Nothing answered at the API's address (refused, DNS, timeout, TLS). */
export class ApiUnreachableError extends CliError {
  override readonly name = 'ApiUnreachableError';
  constructor(
    readonly baseUrl: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super('API_UNREACHABLE', `cannot reach the deploybus API at ${baseUrl} (${reason}); is it running? Point --api or DEPLOYBUS_API_URL at it`, EXIT.unavailable, options);
  }
}

/** The API answered 2xx with something that is not what the contract says. */
export class ApiBadAnswerError extends CliError {
  override readonly name = 'ApiBadAnswerError';
  constructor(what: string, problem: string, options?: { cause?: unknown }) {
    super('API_BAD_ANSWER', `the API's answer to ${what} is not what this CLI understands (${problem}); are the CLI and the server the same version?`, EXIT.apiFailed, options);
  }
}

function withField(body: ApiErrorBody): string {
  return body.field !== undefined && body.field !== '' && !body.message.includes(body.field) ? `${body.field}: ${body.message}` : body.message;
}
