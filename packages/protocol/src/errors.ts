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
