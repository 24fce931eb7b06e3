// Typed errors of the protocol layer. Callers branch on the class or `code`, never on message text.

export type ProtocolErrorCode =
  | 'MALFORMED_JSON'
  | 'INVALID_ENVELOPE'
  | 'UNSUPPORTED_VERSION'
  | 'UNKNOWN_TYPE'
  | 'INVALID_PAYLOAD'
  | 'INVALID_NAME'
  | 'BODY_TOO_LARGE';

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;
  /** Dotted path of the offending field (`payload.ref`), or '' when the whole body is at fault. */
  readonly field: string;
  /** The message type, when it could be read. */
  readonly messageType: string | undefined;

  constructor(
    code: ProtocolErrorCode,
    field: string,
    message: string,
    options: { messageType?: string | undefined; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = field;
    this.messageType = options.messageType;
  }
}

/**
 * A signing or verification key that cannot be used: not PEM, not Ed25519, or a bad key id. This is a
 * configuration problem of the side holding the key, never the fault of a message on the bus.
 */
export class SigningKeyError extends Error {
  override readonly name = 'SigningKeyError';
  readonly code = 'INVALID_SIGNING_KEY';
  /** The key id the key was given under, when there was one. */
  readonly keyId: string | undefined;

  constructor(message: string, options: { keyId?: string | undefined; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.keyId = options.keyId;
  }
}
