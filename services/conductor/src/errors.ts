// Typed errors of the conductor's logic. Callers branch on the class or `code`, never on message text.

export type ConductorErrorCode = 'INVALID_HOST_PATTERN' | 'INVALID_ROLLOUT_OPTIONS' | 'INVALID_ROLLOUT' | 'ROLLOUT_ALREADY_RUN';

export class ConductorError extends Error {
  override readonly name: string = 'ConductorError';
  readonly code: ConductorErrorCode;

  constructor(code: ConductorErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** A host glob pattern in a target filter that cannot match any host name, or holds characters a host name never has. */
export class HostPatternError extends ConductorError {
  override readonly name = 'HostPatternError';
  readonly pattern: string;

  constructor(pattern: string, why: string) {
    super('INVALID_HOST_PATTERN', `host pattern ${JSON.stringify(pattern)} ${why}`);
    this.pattern = pattern;
  }
}

/** Rollout options that no plan can satisfy (a bad batch size or maximum unavailable). */
export class RolloutOptionsError extends ConductorError {
  override readonly name = 'RolloutOptionsError';
  readonly option: string;

  constructor(option: string, message: string) {
    super('INVALID_ROLLOUT_OPTIONS', `rollout option ${option}: ${message}`);
    this.option = option;
  }
}

/** No keepalive gave a complete roster in time: the request is handed back to the bus to try again. */
export class RosterUnavailableError extends Error {
  override readonly name = 'RosterUnavailableError';
  readonly keepaliveHosts: readonly string[];

  constructor(keepaliveHosts: readonly string[], why: string) {
    super(`no complete roster from keepalive (${keepaliveHosts.join(', ')}): ${why}; is keepalive running?`);
    this.keepaliveHosts = keepaliveHosts;
  }
}
