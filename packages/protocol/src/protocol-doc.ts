// docs/protocol.md: the hand-written text of the wire contract around the tables and examples made
// from the catalog, so the document cannot drift from the code. Pure; generate.ts writes the file.
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import type { MessageSpec } from './catalog-types.js';
import {
  commandQueueName,
  commandRoutingKey,
  DEAD_LETTER_EXCHANGE,
  DEAD_LETTER_HEADERS,
  DEAD_LETTER_QUEUE,
  DEAD_LETTER_QUEUE_ARGUMENTS,
  DEAD_LETTER_ROUTING_KEY,
  DEFAULT_MAX_ATTEMPTS,
  EVENTS_EXCHANGE,
  IDLE_QUEUE_EXPIRES_MS,
  PRIVATE_QUEUE_ARGUMENTS,
  REPLY_QUEUE_ARGUMENTS,
  WORK_QUEUE_ARGUMENTS,
  type QueueArguments,
} from './destinations.js';
import { fieldTables, type FieldRow } from './doc-fields.js';
import { MAX_BODY_BYTES, PROTOCOL_VERSION, type Source } from './envelope.js';
import { envelopeJsonSchema, messageJsonSchema } from './json-schema.js';
import { createMessage, routingKeyOf, type CreateOptions, type Message } from './message.js';
import { messageSpecs, type MessageType, type PayloadInputOf } from './messages.js';
import { HOST_PATTERN, NAME_PATTERN } from './names.js';
import { MAX_REF_BYTES, REF_PATTERN } from './ref-name.js';
import { signingInput, signMessage } from './signing.js';

const EXAMPLE_TIME = new Date('2026-11-22T10:00:00.000Z');
const EXAMPLE_REPLY_TO = 'reply.web-4f7c1e2a';
const EXAMPLE_KEY_ID = 'example-2026';

// The example signing key is derived from a published seed, so the example signature is the same on
// every run (Ed25519 is deterministic) and anyone can check it. Being public, it must never be trusted.
const EXAMPLE_PRIVATE_KEY = createPrivateKey({
  key: Buffer.concat([
    Buffer.from('302e020100300506032b657004220420', 'hex'), // PKCS#8 header of a raw Ed25519 seed
    createHash('sha256').update('deploybus example signing key: public, never trust it').digest(),
  ]),
  format: 'der',
  type: 'pkcs8',
});
const EXAMPLE_PUBLIC_KEY_PEM = createPublicKey(EXAMPLE_PRIVATE_KEY).export({ type: 'spki', format: 'pem' }).toString();

/** A fixed, UUID-shaped id per message type, so the examples do not change between runs. */
function exampleId(type: string): string {
  const h = createHash('sha256').update(`deploybus example ${type}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function exampleSource(type: string): Source {
  if (type === 'commit.pushed') return { service: 'git-watcher', host: 'git1' };
  if (type.startsWith('build.')) return { service: 'jenkins-trigger', host: 'ci1' };
  if (type === 'repo.updated' || type === 'package.refreshed') return { service: 'repo-updater', host: 'web1.example.com' };
  if (type === 'package.updated') return { service: 'package-hook', host: 'repo1' };
  if (type === 'deploy.requested') return { service: 'web', host: 'ops1' };
  if (type === 'presence.changed' || type === 'roster.reply') return { service: 'keepalive', host: 'ops1' };
  if (type === 'roster.query') return { service: 'web', host: 'ops1' };
  if (type === 'agent.reply' || type.startsWith('task.') || type === 'heartbeat') return { service: 'deploy-agent', host: 'web1' };
  return { service: 'conductor', host: 'ops1' };
}

/** The example of one type as a whole message: envelope, payload and, for commands, the signature. */
export function exampleMessage(spec: MessageSpec): Message {
  const options: CreateOptions = { source: exampleSource(spec.type), id: exampleId(spec.type), now: EXAMPLE_TIME };
  if (spec.type === 'deploy.requested' || spec.type === 'roster.query' || spec.signedCommand === true) options.replyTo = EXAMPLE_REPLY_TO;
  if (spec.type === 'deploy.queued' || spec.type === 'deploy.refused') options.correlationId = exampleId('deploy.requested');
  if (spec.type === 'agent.reply') options.correlationId = exampleId('agent.command');
  if (spec.type === 'roster.reply') options.correlationId = exampleId('roster.query');
  if (spec.signedCommand === true) options.ttlMs = 60_000;
  const message = createMessage(spec.type as MessageType, spec.example as PayloadInputOf<MessageType>, options);
  return spec.signedCommand === true ? signMessage(message, { privateKey: EXAMPLE_PRIVATE_KEY, keyId: EXAMPLE_KEY_ID }) : message;
}

function exampleRoutingKey(spec: MessageSpec, message: Message): string {
  return spec.sentAsReply === true && message.correlationId !== undefined ? EXAMPLE_REPLY_TO : routingKeyOf(message);
}

const code = (text: string): string => `\`${text}\``;
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const jsonBlock = (value: unknown): string => `\`\`\`json\n${JSON.stringify(value, null, 2)}\n\`\`\``;
const anchor = (type: string): string => type.replace(/[^a-z0-9-]/g, '');
const argumentList = (args: QueueArguments): string =>
  Object.entries(args)
    .map(([key, value]) => code(`${key}: ${String(value)}`))
    .join(', ');

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map(cell).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

function fieldTable(rows: readonly FieldRow[]): string {
  return table(
    ['field', 'type', 'required', 'default', 'constraints', 'description'],
    rows.map((r) => [code(r.name), r.type, r.required ? 'yes' : 'no', r.defaultValue === '' ? '' : code(r.defaultValue), r.constraints, r.description]),
  );
}

function messageSection(spec: MessageSpec): string {
  const message = exampleMessage(spec);
  const payload = messageJsonSchema(spec).properties?.['payload'];
  const tables = payload === undefined || typeof payload === 'boolean' ? [] : fieldTables(payload);
  const routing = spec.sentAsReply === true
    ? `the request's ${code('replyTo')} (${code('reply.<id>')}); ${code(spec.routingTemplate)} when published as an event of its own`
    : code(spec.routingTemplate);
  const notes: string[] = [];
  if (spec.inEventLog === true) {
    notes.push(`The conductor keeps it in the ledger's event log: ${code('state.query')} kind ${code('events')} replays it, and a replay can continue after its ${code('id')} (${code('afterId')}).`);
  }
  if (spec.signedCommand === true) {
    notes.push(`Must be [signed](#signing) and carry ${code('expiresAt')}: agents refuse it otherwise, and refuse a ${code('commandId')} or ${code('id')} they have seen before. It waits on the agent's durable queue ${code('deploybus.agent.<host>')} until the agent takes it or it expires.`);
  }
  const body = tables.map((t) => (t.variant === '' ? fieldTable(t.rows) : `When ${code(t.variant)}:\n\n${fieldTable(t.rows)}`)).join('\n\n');
  return [
    `### ${spec.type}`,
    spec.summary,
    `Routing key: ${routing}. JSON Schema: [${code(`schemas/${spec.type}.json`)}](../packages/protocol/schemas/${spec.type}.json).`,
    ...notes,
    `Payload:\n\n${body}`,
    `Example (published with routing key ${code(exampleRoutingKey(spec, message))}):\n\n${jsonBlock(message)}`,
  ].join('\n\n');
}

function typeIndex(): string {
  return table(
    ['type', 'routing key', 'what it says'],
    messageSpecs.map((spec: MessageSpec) => [`[${code(spec.type)}](#${anchor(spec.type)})`, code(spec.sentAsReply === true ? `replyTo (${spec.routingTemplate})` : spec.routingTemplate), spec.summary]),
  );
}

function envelopeSection(): string {
  return `## Envelope

Every message is one JSON object, sent as the UTF-8 body of a broker message (at most ${MAX_BODY_BYTES} bytes;
larger bodies are refused unread). The same envelope wraps every type; \`type\` says what \`payload\` holds.
JSON Schema: [\`schemas/envelope.json\`](../packages/protocol/schemas/envelope.json), and one file per type
with the payload in place.

${fieldTable(fieldTables(envelopeJsonSchema())[0]?.rows ?? [])}

**Versions.** \`v\` is the protocol's major version, now ${PROTOCOL_VERSION}. A receiver refuses (dead-letters) a message
whose \`v\` is not its own. Receivers ignore fields they do not know, in the envelope and in payloads, so adding an
optional field is a minor change that needs no new \`v\`. Removing or renaming a field, changing its type, making it
required or narrowing what it accepts is a major change. Two changes sit in between and need receivers upgraded
before senders: a new value in an enum (an older receiver refuses the payload) and a new message type (an older
receiver whose patterns match it dead-letters it as unknown).

**Ids and duplicates.** Every message has its own \`id\` (a UUID is best). A sender that publishes the same message again,
for example after a lost publisher confirm, keeps its \`id\`. Brokers deliver at least once, so a receiver remembers
the ids it has handled (at least as long as a redelivery can arrive) and acknowledges a repeat without acting on it.
Agents remember command ids and never run one twice.

**Times.** \`time\`, \`expiresAt\` and every \`...At\`/\`lastSeen\` field are ISO 8601 / RFC 3339 date-times with a UTC offset
(\`2026-11-22T10:00:00.000Z\` or \`2026-11-22T11:00:00+01:00\`; fractional seconds optional). Durations are whole
milliseconds in fields whose names end in \`Ms\`.

**Expiry.** A message with \`expiresAt\` must not be acted on after that instant: the receiver acknowledges it, drops it
without running its handler, and logs that it did. Senders of such a message also set the broker message's
expiration to the milliseconds left (see [Transport](#transport)), so the broker drops it from a queue in time too.

**Requests and replies.** A request carries \`replyTo\`, a routing key of the form \`reply.<id>\` on the
\`${EVENTS_EXCHANGE}\` exchange, where \`<id>\` (1 to 128 letters, digits, \`_\`, \`-\`) names the requester's reply queue.
A reply is published under that routing key and carries \`correlationId\` = the request's \`id\`.
See [Requests and fan-out replies](#requests-and-fan-out-replies).

**Senders.** \`source\` names the daemon or client and its host. For a reply, \`source.host\` names the responder.`;
}

function signingSection(): string {
  const command = messageSpecs.find((spec: MessageSpec) => spec.signedCommand === true);
  const signed = command === undefined ? undefined : exampleMessage(command);
  const signedTypes = messageSpecs.filter((spec: MessageSpec) => spec.signedCommand === true).map((spec) => code(spec.type)).join(', ');
  const worked =
    signed === undefined || signed.signature === undefined
      ? ''
      : `
**Worked example.** The ${code(signed.type)} example below is signed with an example key whose public half is this
(it is published, so it must never be trusted anywhere):

\`\`\`text
${EXAMPLE_PUBLIC_KEY_PEM.trim()}
\`\`\`

Its signing input (one line, ${Buffer.byteLength(signingInput(signed))} bytes of UTF-8) is

\`\`\`text
${signingInput(signed)}
\`\`\`

and its signature value is \`${signed.signature.value}\`. Ed25519 signatures are deterministic, so the same key and
input always give this value.`;
  return `## Signing

Messages of type ${signedTypes} must be signed; an agent refuses an unsigned one, one signed by a key it does not trust,
one whose signature does not match, an expired one, and one whose \`id\` or \`commandId\` it has seen, and says so in a
reply with status \`refused\`. Any other message may be signed too.

The algorithm is Ed25519 (RFC 8032, pure, no pre-hash). Public keys are exchanged as PEM (SPKI); each receiver is
configured with the key ids it trusts and their public keys.

**Signing input.** Take the message object exactly as it is sent, remove its \`signature\` member, and write it as
*canonical JSON*:

1. Object members are sorted by key, comparing keys as sequences of UTF-16 code units (for ASCII keys this is plain
   byte order), at every depth. Array order is kept.
2. No whitespace outside strings: \`{"a":1,"b":[true,null]}\`.
3. Strings are written as ECMAScript's \`JSON.stringify\` writes them: \`"\` and \`\\\` as \`\\"\` and \`\\\\\`;
   U+0008, U+0009, U+000A, U+000C, U+000D as \`\\b\`, \`\\t\`, \`\\n\`, \`\\f\`, \`\\r\`; every other character below U+0020
   as \`\\u00xx\` with lower-case hex digits; a lone surrogate as \`\\udxxx\`, also lower-case; everything else, including \`/\`,
   DEL and all non-ASCII characters, as itself.
4. Numbers are written as ECMAScript's \`Number.prototype.toString\` writes them: integers as plain digits (no \`.0\`,
   no exponent below 10^21), \`-0\` as \`0\`. Keep numbers in signed messages integral: languages differ on fractions
   (Python writes \`1e-07\` where ECMAScript writes \`1e-7\`).
5. \`true\`, \`false\` and \`null\` as themselves.

Encode that text as UTF-8 and sign the bytes. Put the result in the message as
\`"signature": {"alg": "ed25519", "keyId": "<key id>", "value": "<base64>"}\`, where \`value\` is the 64-byte
signature in standard, padded base64 (88 characters).

**Verifying.** Verify the JSON object as decoded from the body, *before* validating it against a schema or copying
it into a typed structure: a validator drops fields it does not know, and those fields are signed too. Remove
\`signature\`, canonicalize the rest as above, and check the signature with the public key named by \`keyId\`.
The signature covers \`id\` and \`expiresAt\`, so neither can be changed to replay a command.

In Python, \`json.dumps(message, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")\` gives the
same bytes for any message whose keys are ASCII and whose numbers are integers, which holds for every deploybus
message type:

\`\`\`python
import base64, json
from cryptography.hazmat.primitives.serialization import load_pem_public_key

def verify(body: bytes, trusted: dict[str, str]) -> dict:
    """Returns the message if its signature is good; raises otherwise (trusted maps key id to PEM)."""
    message = json.loads(body)
    signature = message.pop("signature", None)
    if signature is None:
        raise ValueError("UNSIGNED")
    pem = trusted.get(signature["keyId"])
    if pem is None:
        raise ValueError("UNKNOWN_KEY")
    data = json.dumps(message, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    load_pem_public_key(pem.encode()).verify(base64.b64decode(signature["value"]), data)  # raises InvalidSignature
    return message

def sign(message: dict, private_key, key_id: str) -> dict:
    """private_key: an Ed25519PrivateKey from cryptography."""
    data = json.dumps(message, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return {**message, "signature": {"alg": "ed25519", "keyId": key_id, "value": base64.b64encode(private_key.sign(data)).decode()}}
\`\`\`
${worked}`;
}

function transportSection(): string {
  const queueRows = [
    [
      'shared work queue (competing consumers: several instances of a daemon share the work)',
      code('deploybus.<name>'),
      'quorum, durable',
      argumentList(WORK_QUEUE_ARGUMENTS),
      `${code(EVENTS_EXCHANGE)}: the subscription's patterns`,
    ],
    [
      "an agent's command queue",
      code('deploybus.agent.<host>'),
      'quorum, durable',
      argumentList(WORK_QUEUE_ARGUMENTS),
      `${code(EVENTS_EXCHANGE)}: ${code('agent.command.<host>')}`,
    ],
    [
      'private subscription (every instance sees every event)',
      code('deploybus.sub.<service>.<random>'),
      'classic, durable, deleted when unused for a minute',
      argumentList(PRIVATE_QUEUE_ARGUMENTS),
      `${code(EVENTS_EXCHANGE)}: the subscription's patterns`,
    ],
    ["a client's reply queue", code('deploybus.reply.<id>'), 'classic, durable, deleted when unused for a minute', argumentList(REPLY_QUEUE_ARGUMENTS), `${code(EVENTS_EXCHANGE)}: ${code('reply.<id>')}`],
    ['dead letters', code(DEAD_LETTER_QUEUE), 'classic, durable', argumentList(DEAD_LETTER_QUEUE_ARGUMENTS), `${code(DEAD_LETTER_EXCHANGE)}: ${code(DEAD_LETTER_ROUTING_KEY)}`],
  ];
  const stompArgs = (args: QueueArguments): string =>
    Object.entries(args)
      .map(([key, value]) => `${key}:${String(value)}`)
      .join('\n');
  return `## Transport

deploybus runs on RabbitMQ and is spoken over STOMP (the \`rabbitmq_stomp\` plugin, port 61613 by default) or
AMQP 0-9-1 (port 5672); both see the same exchanges and queues, so a STOMP client and an AMQP client talk to each
other. deploybus has a vhost of its own, named in the operator's configuration: over STOMP it is the \`host\` header of
\`CONNECT\`, over AMQP the vhost of the connection URL.

### Exchange and routing keys

Every message is published to RabbitMQ's built-in topic exchange \`${EVENTS_EXCHANGE}\` (it exists on every vhost, and
a STOMP client cannot declare exchanges) under the routing key of its type: see the [table of types](#message-types).
A routing key is words joined by \`.\`; the \`{app}\`, \`{env}\`, \`{host}\`... parts are [routing segments](#routing-segments)
of the payload's values, so each is exactly one word. Replies are published under the request's \`replyTo\`.
Dead letters go to \`${DEAD_LETTER_EXCHANGE}\` under \`${DEAD_LETTER_ROUTING_KEY}\`.

deploybus receivers read only the body. The broker properties and headers below are for brokers, tools and
people; where they disagree with the envelope, the envelope wins.

### Publishing over STOMP

\`SEND\` to \`/topic/<routing-key>\` (a \`/\` inside a routing key is written \`%2F\`; deploybus routing keys have none).
The body is the UTF-8 JSON envelope.

\`\`\`text
SEND
destination:/topic/deploy.requested.shop.production
content-type:application/json
persistent:true
amqp-message-id:<envelope id>        (optional; STOMP does not allow message-id on SEND)
type:deploy.requested                (optional: the envelope type)
correlation-id:<correlationId>       (optional: when the envelope has one)
expiration:60000                     (optional: milliseconds until expiresAt, when the envelope has one)
receipt:<any unique string>          (for messages that must not be lost)

{"v":1,"id":"...",...}^@
\`\`\`

Add a \`receipt\` header to every message that must not be lost (requests, commands, replies, results) and treat it
as sent only when the \`RECEIPT\` frame arrives: for a \`persistent:true\` message RabbitMQ sends the receipt after the
broker has confirmed it. Resend on reconnect otherwise, with the same envelope \`id\`.

### Publishing over AMQP 0-9-1

\`basic.publish\` to exchange \`${EVENTS_EXCHANGE}\` with the routing key above and these properties: \`content-type\`
\`application/json\`, \`delivery-mode\` 2 (persistent), \`message-id\` = envelope \`id\`, \`type\` = envelope \`type\`,
\`correlation-id\` = envelope \`correlationId\` when present, and \`expiration\` = milliseconds until \`expiresAt\` (as a
decimal string) when present. Use publisher confirms (\`confirm.select\`) and count a message as sent only when the
broker's \`basic.ack\` for it arrives; republish, with the same envelope \`id\`, on \`basic.nack\` or a lost connection.

### Subscribing: patterns

A subscription names routing-key patterns: words of letters, digits, \`_\` and \`-\`, where the word \`*\` matches
exactly one word and \`#\` matches zero or more words (RabbitMQ topic-exchange rules). \`deploy.#\` matches every
deploy event; \`deploy.*.shop.production\` every deploy event of one app in one environment; \`task.log.shop.#\`
all log lines of app shop; \`#\` everything. Patterns have no empty words.

### Queues

Every deploybus subscription consumes from a queue it declares and binds with its patterns. Declare each queue
exactly as below: RabbitMQ refuses (and closes the channel on) a redeclaration with other arguments.

${table(['queue', 'name', 'kind', 'arguments', 'bound on exchange with'], queueRows)}

- \`<name>\` is a [name](#names) chosen by the daemon, the same for all its instances; it does not begin with
  \`agent.\`, \`sub.\`, \`reply.\` or \`dead-letter\`.
- \`<host>\` in the command queue's name is the host name with any character other than letters, digits, \`_\`, \`.\`
  and \`-\` replaced by \`_\`; in the routing key it is the host's [routing segment](#routing-segments). For
  \`web1.example.com\`: queue \`${commandQueueName('web1.example.com')}\`, routing key \`${commandRoutingKey('web1.example.com')}\`.
  The queue is durable so that commands sent while the agent was away wait for it, unless they expire first.
- \`<service>\` is the subscriber's service name and \`<random>\` a random word (e.g. 16 hex digits) chosen per
  subscription; \`<id>\` is the requester's reply id (see [Envelope](#envelope)).
- Private and reply queues are durable with \`x-expires: ${IDLE_QUEUE_EXPIRES_MS}\` rather than exclusive or auto-delete,
  so that messages sent during a short disconnect wait for the client; the broker deletes them a minute after the
  client is gone. (RabbitMQ also deprecates transient, non-exclusive queues.)
- Every client declares \`${DEAD_LETTER_QUEUE}\` and binds it to \`${DEAD_LETTER_EXCHANGE}\` with \`${DEAD_LETTER_ROUTING_KEY}\`
  when it connects, so dead letters are never dropped for want of a queue.

### Declaring and consuming over STOMP

A STOMP client declares a queue with arguments by subscribing to \`/topic/<pattern>\` with the queue's name and
arguments as headers, and then unsubscribing, once per pattern (with the same headers each time):

\`\`\`text
SUBSCRIBE
id:declare-1
destination:/topic/deploy.requested.#
x-queue-name:deploybus.conductor
durable:true
auto-delete:false
${stompArgs(WORK_QUEUE_ARGUMENTS)}
ack:client-individual
prefetch-count:1

^@
UNSUBSCRIBE
id:declare-1

^@
\`\`\`

The \`UNSUBSCRIBE\` must carry only \`id\`: one that also carries \`durable:true\` deletes the queue. A message that
reaches the declaring subscription before the \`UNSUBSCRIBE\` must be \`NACK\`ed (\`requeue:true\`), never acknowledged.
Then consume the queue:

\`\`\`text
SUBSCRIBE
id:sub-1
destination:/amq/queue/deploybus.conductor
ack:client-individual
prefetch-count:10

^@
\`\`\`

Acknowledge each \`MESSAGE\` with \`ACK\` (\`id:\` = the message's \`ack\` header) or reject it with \`NACK\` (same \`id\`, and
\`requeue:true\` to retry it or \`requeue:false\` to drop it to the queue's dead-letter exchange). Quorum queues add an
\`x-delivery-count\` header to redelivered messages.

### Declaring and consuming over AMQP 0-9-1

\`queue.declare\` (durable, not exclusive, not auto-delete, with the arguments above), then \`queue.bind\` to
\`${EVENTS_EXCHANGE}\` once per pattern, \`basic.qos\` with a prefetch count, and \`basic.consume\` with manual
acknowledgement. Quorum queues put the \`x-delivery-count\` header on redelivered messages.

### Only watching

A client that only wants to watch, and may miss what is sent while it is away, can simply \`SUBSCRIBE\` to
\`/topic/<pattern>\` with \`ack:auto\`: RabbitMQ makes it a private auto-delete queue. Over AMQP, bind a server-named
exclusive queue to \`${EVENTS_EXCHANGE}\` with the pattern.`;
}

function deliverySection(): string {
  return `## Acknowledgement and failure

A deploybus consumer takes each delivery through these steps, in order:

1. **Unreadable: dead-letter at once.** A body over ${MAX_BODY_BYTES} bytes, not valid UTF-8 JSON, not a valid envelope, of
   another major \`v\`, of an unknown \`type\`, or with an invalid payload is dead-lettered without retrying: it will never
   get better.
2. **Expired: drop.** If \`expiresAt\` has passed, the message is acknowledged and dropped without running its handler,
   and the drop is logged with the message's \`id\` and \`type\`.
3. **Handle, then acknowledge.** The handler runs, and the message is acknowledged only after it succeeded.
4. **Failed: retry, a bounded number of times.** If the handler fails, the message is rejected with requeue
   (\`basic.nack\`/\`basic.reject\` with \`requeue=true\`; STOMP \`NACK\` with \`requeue:true\`) and comes back. The attempt
   number is \`x-delivery-count\` + 1 on quorum queues (the header is absent or 0 on the first delivery); on classic queues,
   which do not count, the consumer counts deliveries of each message \`id\` itself. When the attempt that failed was
   number ${DEFAULT_MAX_ATTEMPTS} (the default bound), the message is dead-lettered instead.

**Dead letters.** A consumer dead-letters a message by publishing a copy, with the original body unchanged and
persistent, to exchange \`${DEAD_LETTER_EXCHANGE}\` with routing key \`${DEAD_LETTER_ROUTING_KEY}\` (so it lands in the durable
queue \`${DEAD_LETTER_QUEUE}\`), with these headers, and acknowledging the original once the broker confirmed the copy
(if the copy cannot be published, the original is not acknowledged and stays queued):

${table(
  ['header', 'value'],
  [
    [code(DEAD_LETTER_HEADERS.reason), 'a sentence naming the problem, e.g. "deploy.requested payload.ref: must not contain \\"..\\""'],
    [code(DEAD_LETTER_HEADERS.queue), 'the queue the message was taken from'],
    [code(DEAD_LETTER_HEADERS.routingKey), 'the routing key it was originally published under'],
  ],
)}

The broker dead-letters by itself, through the queue arguments, a message that expires while waiting in a queue
(its \`expiration\`) and a message rejected without requeue; those carry RabbitMQ's own \`x-death\` headers instead.`;
}

function fanOutSection(): string {
  return `## Requests and fan-out replies

One request may be answered by several responders (a command fanned out to a batch of agents, a "who is there?"
question). The requester:

1. has a reply id \`<id>\` of its own and a reply queue \`deploybus.reply.<id>\` bound to \`reply.<id>\` (declared once, at start);
2. publishes the request with a fresh \`id\`, \`replyTo: "reply.<id>"\` and usually an \`expiresAt\` at its timeout;
3. gathers the messages on its reply queue whose \`correlationId\` is the request's \`id\`, telling responders apart by the
   reply's \`source.host\`, until every expected responder answered or the timeout passed;
4. reports by name every expected responder that did not answer. A responder that did not answer is never counted as
   having succeeded.

Each responder publishes its reply, of whatever type fits (\`agent.reply\` for commands, \`deploy.queued\` or
\`deploy.refused\` for a deploy request), under the routing key given in \`replyTo\`, with \`correlationId\` = the
request's \`id\`. The requester counts the first reply from each responder; replies it did not expect or that come late
are acknowledged and ignored. A reply that is also news for everyone (\`deploy.queued\`) is published a second time,
with the same \`id\`, under its own routing key; a receiver that gets both copies drops the second as a duplicate.`;
}

// Shown one code span each; a backquote needs a double-backquote span in Markdown.
const REFUSED_REF_CHARS = [...'~^:?*[\\$`\'";|&<>()%!#{}=,'].map((c) => (c === '`' ? '`` ` ``' : code(c))).join(' ');

function namesSection(): string {
  return `## Names

**Names** of apps, environments, repositories, services and roles match \`${NAME_PATTERN.source}\`: a letter or digit,
then letters, digits, \`_\`, \`-\` and \`.\`, at most 64 characters, and never \`..\`. They end up in routing keys, queue names
and file paths.

**Host names** match \`${HOST_PATTERN.source}\`: RFC 1123 labels (letters, digits and \`-\`, not starting or ending with
\`-\`, at most 63 characters) joined by dots, at most 253 characters.

<a id="refs"></a>**Refs** (branches, tags, \`refs/...\` names and full commit ids) follow git's \`check-ref-format\` rules and
deploybus's stricter ones. A ref is passed to git as a single argument, never to a shell; the stricter rules are
defence in depth. A ref must:

- be 1 to ${MAX_REF_BYTES} bytes long, made only of ASCII letters, digits and \`.\` \`_\` \`-\` \`/\` \`+\` \`@\`: no space, no
  control character, none of ${REFUSED_REF_CHARS}, and no non-ASCII letter (one could pass for an ASCII one);
- not begin or end with \`/\`, nor contain \`//\` or \`..\`, nor end with \`.\`, nor be \`@\` alone, nor contain \`@{\`;
- have no \`/\`-separated part that begins with \`.\` or \`-\` (git would read a leading \`-\` as an option, e.g.
  \`--upload-pack=...\`) or ends with \`.lock\`.

A full commit id (40 or 64 lower-case hex digits) is always accepted. As one regular expression (ECMAScript syntax,
as in the JSON Schemas): \`${REF_PATTERN.source}\`.

<a id="routing-segments"></a>**Routing segments.** A value placed in a routing key (\`{repo}\`, \`{app}\`, \`{env}\`,
\`{host}\`, \`{service}\`, \`{package}\`) is written with every character other than letters, digits, \`_\` and \`-\`
replaced by \`_\` (an empty value becomes \`_\`), so it is one word: \`web1.example.com\` → \`web1_example_com\`.
Different values can share a segment (\`a.b\` and \`a_b\`), so a receiver that cares checks the payload.`;
}

function examplesSection(): string {
  return `## Worked examples

Both examples assume RabbitMQ on \`rabbit.example.com\` (with the STOMP plugin, for the first), a vhost \`deploybus\`
and a user \`deploybus\`. Both were run against a real RabbitMQ; both messages validate.

### Python with stomp.py: request a deploy, watch deploy events

\`\`\`python
import datetime, json, time, uuid
import stomp

conn = stomp.Connection([("rabbit.example.com", 61613)], vhost="deploybus")

class Printer(stomp.ConnectionListener):
    def on_message(self, frame):
        message = json.loads(frame.body)
        print(message["type"], json.dumps(message["payload"]))

conn.set_listener("printer", Printer())
conn.connect("deploybus", "secret", wait=True)

# Watch every deploy event (a private auto-delete queue; fine for a script that only watches).
conn.subscribe(destination="/topic/deploy.#", id="watch", ack="auto")

# Our own reply address: the conductor answers with deploy.queued or deploy.refused there.
reply_id = uuid.uuid4().hex
conn.subscribe(destination=f"/topic/reply.{reply_id}", id="replies", ack="auto")

request = {
    "v": ${PROTOCOL_VERSION},
    "id": str(uuid.uuid4()),
    "type": "deploy.requested",
    "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
    "source": {"service": "release-script", "host": "ci1"},
    "replyTo": f"reply.{reply_id}",
    "payload": {"app": "shop", "env": "production", "ref": "v1.4.1", "requestedBy": "ada"},
}
conn.send(
    destination="/topic/deploy.requested.shop.production",
    body=json.dumps(request),
    content_type="application/json",
    headers={"persistent": "true", "type": "deploy.requested", "amqp-message-id": request["id"], "receipt": request["id"]},
)
time.sleep(30)  # print what happens for a while
conn.disconnect()
\`\`\`

### A shell script with amqp-tools: announce a push, watch deploy events

\`\`\`sh
#!/bin/sh
set -eu
url='amqp://deploybus:secret@rabbit.example.com:5672/deploybus'
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
id=$(cat /proc/sys/kernel/random/uuid)
sha=$(git rev-parse HEAD)

amqp-publish --url="$url" -e ${EVENTS_EXCHANGE} -r commit.pushed.shop -p -C application/json -b '{
  "v": ${PROTOCOL_VERSION}, "id": "'"$id"'", "type": "commit.pushed", "time": "'"$now"'",
  "source": {"service": "post-receive-hook", "host": "git1"},
  "payload": {"repo": "shop", "ref": "refs/heads/main",
              "before": "0000000000000000000000000000000000000000", "after": "'"$sha"'",
              "commits": [], "pusher": "ada", "origin": "post-receive"}}'

# Print every deploy event as it happens (amqp-consume binds a temporary, server-named queue with deploy.#).
amqp-consume --url="$url" -e ${EVENTS_EXCHANGE} -r 'deploy.#' -- sh -c 'cat; echo'
\`\`\`

Only values the script controls are placed in the JSON here (a commit id from git, a UUID and a time); a script that
places other text in a message must JSON-escape it (e.g. with \`jq --arg\`).`;
}

/** The whole of docs/protocol.md. */
export function renderProtocolDoc(): string {
  const sections = [
    `# deploybus wire protocol, version ${PROTOCOL_VERSION}

<!-- Generated by packages/protocol (src/protocol-doc.ts) from the message catalog: run \`npm run protocol:generate\`.
     Do not edit by hand; \`npm run protocol:check\` fails when this file is stale. -->

deploybus daemons talk only through messages on RabbitMQ. This document is the whole contract: with it alone, a
client in any language (Python with stomp.py, a shell script with amqp-tools) can publish, subscribe, answer
requests and send signed commands. Machine-readable JSON Schemas (draft 2020-12) of every message are in
[\`packages/protocol/schemas/\`](../packages/protocol/schemas/).

Contents: [Envelope](#envelope) · [Signing](#signing) · [Transport](#transport) ·
[Acknowledgement and failure](#acknowledgement-and-failure) · [Requests and fan-out replies](#requests-and-fan-out-replies) ·
[Names](#names) · [Message types](#message-types) · [Worked examples](#worked-examples)`,
    envelopeSection(),
    signingSection(),
    transportSection(),
    deliverySection(),
    fanOutSection(),
    namesSection(),
    `## Message types

${typeIndex()}

In the field tables, \`a.b\` is field \`b\` of object \`a\`, and \`a[].b\` is field \`b\` of each item of array \`a\`. A field
with a default may be left out; receivers then use the default. Every example is a complete, valid message, and its
canonical JSON is what a signature would cover (key order in the examples is not significant).`,
    ...messageSpecs.map((spec: MessageSpec) => messageSection(spec)),
    examplesSection(),
  ];
  return `${sections.join('\n\n')}\n`;
}
