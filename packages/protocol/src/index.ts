// @deploybus/protocol: the wire contract. Pure: no I/O.
export { ProtocolError, SigningKeyError, type ProtocolErrorCode } from './errors.js';
export { NAME_PATTERN, HOST_PATTERN, nameSchema, hostSchema, routingSegment } from './names.js';
export {
  validateRefName,
  checkGitRefFormat,
  refSchema,
  REF_PATTERN,
  FULL_SHA_PATTERN,
  MAX_REF_BYTES,
  type RefNameCheck,
} from './ref-name.js';
export {
  PROTOCOL_VERSION,
  MAX_BODY_BYTES,
  envelopeSchema,
  sourceSchema,
  signatureSchema,
  type EnvelopeFields,
  type Source,
  type Signature,
} from './envelope.js';
export { defineMessage, type MessageSpec } from './catalog-types.js';
export * from './messages.js';
export {
  createMessage,
  validateMessage,
  parseMessage,
  decodeBody,
  encodeMessage,
  routingKeyOf,
  isExpired,
  expirationMsOf,
  isMessageOfType,
  type Message,
  type ParseResult,
  type CreateOptions,
} from './message.js';
export * from './destinations.js';
export {
  canonicalJson,
  signingInput,
  signMessage,
  verifyMessage,
  generateSigningKeyPair,
  type SigningKey,
  type SignOptions,
  type VerifyResult,
  type VerifyFailureCode,
} from './signing.js';
export { envelopeJsonSchema, messageJsonSchema, type JsonSchema } from './json-schema.js';
export { renderProtocolDoc, exampleMessage } from './protocol-doc.js';
export { globMatches, decidingPattern, selectedBy, HOST_GLOB_PATTERN, HOST_GLOB_RULE, type NameMatchOptions } from './name-patterns.js';
