// The Wire over STOMP 1.2 to RabbitMQ's STOMP plugin, with stompjs over raw TCP or TLS.
//
// RabbitMQ runs each STOMP connection as one AMQP channel, and three of its habits shape this file:
// - STOMP cannot declare a queue. RabbitMQ declares and binds one as a side effect of a SUBSCRIBE to
//   /topic/<pattern> (or /exchange/<x>/<pattern>) that names it in `x-queue-name`. That SUBSCRIBE is
//   also a consumer: on a queue that already holds messages it takes some at once.
// - After an UNSUBSCRIBE, RabbitMQ refuses ACK and NACK for that subscription, so whatever it
//   delivered and was not yet settled stays unacknowledged, out of everyone's reach, until the
//   connection ends.
// - Closing a connection gives every unsettled delivery back to its queue.
// Hence: declarations and deletions run on a short-lived connection of their own, whose close
// returns whatever the declaring SUBSCRIBE took; each consumer has its own connection, closed by
// cancel(), the way the AMQP wire gives each consumer a channel; publishing has the main connection.
// One StompWire is still one unit to its BusClient: any of its connections lost means it is lost.
import { Client, type IFrame, type IMessage, type StompHeaders, type StompSubscription } from '@stomp/stompjs';
import { EVENTS_EXCHANGE, stompQueueDestination, stompTopicDestination } from '@deploybus/protocol';
import { BrokerRefusedError, WireClosedError, WireRefusedError } from '../errors.js';
import { queueArguments } from '../queue-arguments.js';
import type { QueueSpec, Wire, WireConsumer, WireDelivery, WirePublishOptions } from '../wire.js';
import { stompSocketFactory, type StompTlsOptions } from './stomp-socket.js';

export interface StompWireOptions {
  readonly host: string;
  readonly port: number;
  readonly login: string;
  readonly passcode: string;
  /** RabbitMQ virtual host, sent as the CONNECT `host` header. */
  readonly vhost: string;
  /** Present: stomp+ssl://. */
  readonly tls?: StompTlsOptions | undefined;
  /**
   * STOMP heart-beats both ways, in ms; a silent broker is noticed after about twice this. 0: none.
   * Default 10 000. RabbitMQ counts whole seconds, and at least one.
   */
  readonly heartbeatMs?: number | undefined;
  /** How long a connection may take to reach CONNECTED. Default 10 000. */
  readonly connectTimeoutMs?: number | undefined;
}

interface CompiledStompWireOptions {
  readonly host: string;
  readonly port: number;
  readonly login: string;
  readonly passcode: string;
  readonly vhost: string;
  readonly tls: StompTlsOptions | undefined;
  readonly heartbeatMs: number;
  readonly connectTimeoutMs: number;
  /** host:port, for messages: never the credentials. */
  readonly endpoint: string;
}

const DEFAULT_HEARTBEAT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export class StompWire implements Wire {
  private readonly options: CompiledStompWireOptions;
  private state: 'new' | 'open' | 'lost' | 'closed' = 'new';
  private main: StompSession | undefined;
  private readonly consumers = new Set<StompSession>();
  /** Queues declared through this wire, so deleteQueue can repeat their exact arguments. */
  private readonly declared = new Map<string, QueueSpec>();
  private lostListener: ((error: Error) => void) | undefined;

  constructor(options: StompWireOptions) {
    this.options = compileOptions(options);
  }

  async connect(): Promise<void> {
    if (this.state !== 'new') throw new Error('StompWire connects once; make a new one to reconnect');
    const session = new StompSession(this.options);
    this.main = session;
    await session.connect();
    if (this.state !== 'new') {
      await session.close();
      throw new WireClosedError(`the connection to ${this.options.endpoint} was closed while it opened`);
    }
    this.state = 'open';
    session.onLost((error) => this.markLost(error));
  }

  onLost(listener: (error: Error) => void): void {
    this.lostListener = listener;
  }

  async declareQueue(spec: QueueSpec): Promise<void> {
    this.requireOpen();
    const headers = declaringHeaders(spec);
    // A queue with no pattern is declared through /queue/<name>: bound only to the default exchange, as every queue is.
    const destinations = spec.patterns.length > 0 ? spec.patterns.map((pattern) => destinationOf(spec.exchange, pattern)) : [`/queue/${spec.name}`];
    await this.onTemporaryConnection(`declare queue ${spec.name}`, (session) =>
      Promise.all(destinations.map((destination) => session.withReceipt((receipt) => session.subscribe(destination, ignoreMessage, { ...headers, receipt })))),
    );
    this.declared.set(spec.name, spec);
  }

  async deleteQueue(name: string): Promise<void> {
    this.requireOpen();
    // STOMP has no delete, but RabbitMQ deletes the queue of a durable /topic subscription when the
    // UNSUBSCRIBE says `durable: true` and names the queue in `x-queue-name`. That SUBSCRIBE must
    // repeat the queue's arguments exactly (else PRECONDITION_FAILED), and they are known only for
    // queues declared through this wire, which is every queue BusClient deletes. Any other queue is
    // left alone: a private one goes away by itself a minute after its last consumer (x-expires).
    const spec = this.declared.get(name);
    if (spec === undefined) return;
    const headers = declaringHeaders(spec);
    await this.onTemporaryConnection(`delete queue ${name}`, async (session) => {
      let subscription: StompSubscription | undefined;
      // The binding this adds (amq.topic, key = the queue name) goes with the queue.
      await session.withReceipt((receipt) => {
        subscription = session.subscribe(stompTopicDestination(name), ignoreMessage, { ...headers, receipt });
      });
      await session.withReceipt((receipt) => subscription?.unsubscribe({ receipt, durable: 'true', 'x-queue-name': name }));
    });
    this.declared.delete(name);
  }

  async consume(queue: string, prefetch: number, onDelivery: (delivery: WireDelivery) => void): Promise<WireConsumer> {
    this.requireOpen();
    const session = new StompSession(this.options);
    this.consumers.add(session);
    try {
      await session.connect();
      this.requireOpen();
      const headers = { ack: 'client-individual', 'prefetch-count': String(prefetch) };
      await session.withReceipt((receipt) => session.subscribe(stompQueueDestination(queue), (message) => deliver(session, message, onDelivery), { ...headers, receipt }));
    } catch (error) {
      this.consumers.delete(session);
      await session.close();
      throw error instanceof BrokerRefusedError ? error.withContext(`consume ${queue}`) : asWireClosed(error, `could not consume ${queue}`);
    }
    session.onLost((error) => this.markLost(error));
    return {
      cancel: async () => {
        // Closing the connection cancels the subscription and requeues what it held unsettled.
        this.consumers.delete(session);
        await session.close();
      },
    };
  }

  publish(body: Buffer, options: WirePublishOptions): Promise<void> {
    const session = this.main;
    if (this.state !== 'open' || session === undefined || !session.isOpen) return Promise.reject(new WireClosedError());
    const destination = destinationOf(options.exchange, options.routingKey);
    const headers = publishHeaders(options);
    if (!options.confirm) {
      try {
        session.send(destination, body, headers);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(asWireClosed(error, `could not publish ${options.type} to ${options.routingKey}`));
      }
    }
    // RabbitMQ answers a SEND's receipt once the broker has confirmed the message (publisher confirms),
    // so a RECEIPT means what a confirm means. Receipts are awaited side by side, never one at a time.
    // An ERROR frame ends the connection and cannot be tied to one frame: each publish waiting then
    // fails with a WireRefusedError, so the client can find the refused one by sending them one at a time.
    return session.withReceipt((receipt) => session.send(destination, body, { ...headers, receipt })).catch((error: unknown) => {
      if (error instanceof BrokerRefusedError) throw new WireRefusedError(error.detail === '' ? error.brokerMessage : `${error.brokerMessage}: ${error.detail}`, `no receipt for ${options.type} to ${options.routingKey}: ${error.message}`, { cause: error });
      throw asWireClosed(error, `no receipt for ${options.type} to ${options.routingKey}`);
    });
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const sessions = [...this.consumers];
    if (this.main) sessions.push(this.main);
    this.consumers.clear();
    await Promise.all(sessions.map((session) => session.close()));
  }

  private markLost(error: Error): void {
    if (this.state !== 'open') return;
    this.state = 'lost';
    this.main?.abort();
    for (const session of this.consumers) session.abort();
    this.consumers.clear();
    this.lostListener?.(error);
  }

  private requireOpen(): void {
    if (this.state !== 'open') throw new WireClosedError();
  }

  private async onTemporaryConnection(what: string, work: (session: StompSession) => Promise<unknown>): Promise<void> {
    const session = new StompSession(this.options);
    try {
      await session.connect();
      await work(session);
    } catch (error) {
      throw error instanceof BrokerRefusedError ? error.withContext(what) : asWireClosed(error, `could not ${what}`);
    } finally {
      await session.close();
    }
  }
}

function deliver(session: StompSession, message: IMessage, onDelivery: (delivery: WireDelivery) => void): void {
  // A frame parsed after the connection was lost or cancelled: the broker has taken it back already.
  if (!session.isOpen) return;
  let settled = false;
  const settle = (how: () => void): void => {
    // Once only: a second ACK for the same delivery tag is a channel error that would end the connection.
    if (settled) return;
    settled = true;
    // After a loss or cancel the broker requeues the message by itself.
    if (!session.isOpen) return;
    try {
      how();
    } catch {
      /* the connection closed between the check and the call */
    }
  };
  const body = message.binaryBody;
  const count = Number.parseInt(message.headers['x-delivery-count'] ?? '', 10);
  onDelivery({
    body: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    routingKey: routingKeyOfDestination(message.headers['destination'] ?? ''),
    redelivered: message.headers['redelivered'] === 'true',
    deliveryCount: Number.isNaN(count) ? undefined : count,
    ack: () => settle(() => message.ack()),
    // RabbitMQ reads `requeue` on NACK (default true); false dead-letters where the queue says so.
    nack: (requeue) => settle(() => message.nack({ requeue: String(requeue) })),
  });
}

function ignoreMessage(): void {
  // Deliveries to a declaring subscription stay unsettled and go back when its connection closes.
}

/**
 * Headers of a SUBSCRIBE that declares (or deletes) a queue. Its consumer acks by client and has
 * prefetch 1: it takes at most one message and settles nothing, so closing its connection puts that
 * message back, unconsumed.
 */
function declaringHeaders(spec: QueueSpec): StompHeaders {
  return { ...queueHeaders(spec), ack: 'client-individual', 'prefetch-count': '1' };
}

/** The queue headers RabbitMQ's STOMP plugin turns into queue.declare: the same arguments the AMQP wire declares. */
function queueHeaders(spec: QueueSpec): StompHeaders {
  const headers: Record<string, string> = {
    'x-queue-name': spec.name,
    durable: 'true',
    'auto-delete': 'false',
    // Said outright: for /exchange/ destinations RabbitMQ's default is an exclusive queue.
    exclusive: 'false',
  };
  // The plugin declares x-expires (and other counts) as integers, strings as strings, which is what
  // an AMQP client declares, so either transport can redeclare what the other declared.
  for (const [key, value] of Object.entries(queueArguments(spec.kind))) headers[key] = String(value);
  return headers;
}

/**
 * SEND headers. RabbitMQ maps content-type, persistent (delivery mode 2), amqp-message-id (message_id),
 * type, correlation-id, expiration and timestamp to AMQP properties, and every other header into the
 * AMQP headers table. (It also copies `receipt` and `content-length` into that table.)
 */
function publishHeaders(options: WirePublishOptions): StompHeaders {
  const headers: Record<string, string> = {
    ...options.headers,
    'content-type': 'application/json',
    persistent: 'true',
    'amqp-message-id': options.messageId,
    type: options.type,
    timestamp: String(Math.floor(Date.now() / 1000)),
  };
  if (options.correlationId !== undefined) headers['correlation-id'] = options.correlationId;
  if (options.expirationMs !== undefined) headers['expiration'] = String(Math.max(1, Math.round(options.expirationMs)));
  return headers;
}

/** Where a publish (or a binding) to `exchange` under `routingKey` goes, as a STOMP destination. */
function destinationOf(exchange: string | undefined, routingKey: string): string {
  if (exchange === undefined || exchange === EVENTS_EXCHANGE) return stompTopicDestination(routingKey);
  return `/exchange/${escapeDestinationPart(exchange)}/${escapeDestinationPart(routingKey)}`;
}

/** RabbitMQ splits destinations at "/", so one inside a name travels as %2F (as stompTopicDestination does). */
function escapeDestinationPart(part: string): string {
  return part.replace(/\//g, '%2F');
}

/**
 * The routing key a MESSAGE was published with, read from the `destination` header RabbitMQ writes
 * on it: /topic/<key> for amq.topic, /exchange/<exchange>/<key> for other exchanges, /queue/<key> for
 * the default exchange, with "/", "%" and bytes outside printable ASCII escaped as %XX.
 */
export function routingKeyOfDestination(destination: string): string {
  const [, kind, first, second] = destination.split('/');
  const escaped = kind === 'exchange' ? second : kind === 'topic' || kind === 'queue' ? first : undefined;
  return unescapeDestinationPart(escaped ?? '');
}

function unescapeDestinationPart(part: string): string {
  if (!part.includes('%')) return part;
  const chunks: Buffer[] = [];
  let from = 0;
  for (const match of part.matchAll(/%([0-9A-Fa-f]{2})/g)) {
    chunks.push(Buffer.from(part.slice(from, match.index), 'utf8'), Buffer.of(Number.parseInt(match[1] ?? '', 16)));
    from = match.index + match[0].length;
  }
  chunks.push(Buffer.from(part.slice(from), 'utf8'));
  // The escapes are bytes of UTF-8, so decode after joining them.
  return Buffer.concat(chunks).toString('utf8');
}

function asWireClosed(error: unknown, what: string): WireClosedError {
  if (error instanceof WireClosedError) return error;
  const text = error instanceof Error ? error.message : String(error);
  return new WireClosedError(`${what}: ${text}`, { cause: error });
}

function compileOptions(input: StompWireOptions): CompiledStompWireOptions {
  const heartbeatMs = input.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const connectTimeoutMs = input.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if (input.host === '') throw new RangeError('StompWire: host is empty');
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65_535) throw new RangeError(`StompWire: port must be 1-65535, got ${input.port}`);
  if (!Number.isInteger(heartbeatMs) || heartbeatMs < 0) throw new RangeError(`StompWire: heartbeatMs must be a whole number of ms (0: no heart-beats), got ${heartbeatMs}`);
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs <= 0) throw new RangeError(`StompWire: connectTimeoutMs must be a positive whole number of ms, got ${connectTimeoutMs}`);
  return Object.freeze({
    host: input.host,
    port: input.port,
    login: input.login,
    passcode: input.passcode,
    vhost: input.vhost,
    tls: input.tls,
    heartbeatMs,
    connectTimeoutMs,
    endpoint: `${input.host}:${input.port}`,
  });
}

// --- one STOMP connection ------------------------------------------------------------------------

type SessionState = 'new' | 'connecting' | 'open' | 'lost' | 'closing' | 'closed';

interface ReceiptWaiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** One STOMP connection: a stompjs Client without its reconnects, with connect, receipts, loss and close as promises. */
class StompSession {
  private readonly client: Client;
  private state: SessionState = 'new';
  private readonly waiters = new Map<string, ReceiptWaiter>();
  private receiptCount = 0;
  private lostListener: ((error: Error) => void) | undefined;
  private opening: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private closing: Promise<void> | undefined;
  private socketError: string | undefined;
  private heartbeatLost = false;

  constructor(private readonly options: CompiledStompWireOptions) {
    this.client = new Client({
      webSocketFactory: stompSocketFactory({ host: options.host, port: options.port, tls: options.tls }),
      connectHeaders: { login: options.login, passcode: options.passcode, host: options.vhost },
      // Reconnecting, and restoring subscriptions after it, is BusClient's job, once for all transports.
      reconnectDelay: 0,
      heartbeatIncoming: options.heartbeatMs,
      heartbeatOutgoing: options.heartbeatMs,
      // TCP carries whole frames as bytes, NUL terminator included: none of the WebSocket workarounds apply.
      splitLargeFrames: false,
      forceBinaryWSFrames: false,
      appendMissingNULLonIncoming: false,
      // On a missed heart-beat, drop the socket rather than wait for a dead peer to finish a graceful close.
      discardWebsocketOnCommFailure: true,
    });
    this.client.onConnect = () => this.opened();
    this.client.onStompError = (frame) => this.errorFrame(frame);
    this.client.onWebSocketError = (event: unknown) => {
      this.socketError = describeSocketError(event);
    };
    this.client.onWebSocketClose = () => this.socketClosed();
    this.client.onHeartbeatLost = () => {
      this.heartbeatLost = true;
    };
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Resolves on CONNECTED; rejects on an ERROR frame (BrokerRefusedError), a socket failure or the timeout (WireClosedError). */
  connect(): Promise<void> {
    if (this.state !== 'new') return Promise.reject(new Error('a STOMP session connects once'));
    this.state = 'connecting';
    return new Promise<void>((resolve, reject) => {
      const { endpoint, connectTimeoutMs } = this.options;
      const timer = setTimeout(() => this.failOpening(new WireClosedError(`no STOMP CONNECTED from ${endpoint} within ${connectTimeoutMs} ms`)), connectTimeoutMs);
      this.opening = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.client.activate();
    });
  }

  /** Called once, when an open connection is lost; not after close() or abort(). */
  onLost(listener: (error: Error) => void): void {
    this.lostListener = listener;
  }

  /** Sends a frame carrying a fresh `receipt` header and resolves when the broker's RECEIPT for it arrives. */
  withReceipt(send: (receipt: string) => void): Promise<void> {
    if (this.state !== 'open') return Promise.reject(new WireClosedError(`the connection to ${this.options.endpoint} is not open`));
    this.receiptCount += 1;
    // Short: RabbitMQ copies a SEND's receipt id into the message's AMQP headers.
    const receipt = `r${this.receiptCount}`;
    return new Promise<void>((resolve, reject) => {
      this.waiters.set(receipt, { resolve, reject });
      // Watched before sending, so a RECEIPT cannot arrive unwatched.
      this.client.watchForReceipt(receipt, () => {
        const waiter = this.waiters.get(receipt);
        // Gone when the session ended first: RabbitMQ even sends the RECEIPT of a frame it refused, after the ERROR.
        if (waiter === undefined) return;
        this.waiters.delete(receipt);
        waiter.resolve();
      });
      try {
        send(receipt);
      } catch (error) {
        this.waiters.delete(receipt);
        reject(asWireClosed(error, `could not send to ${this.options.endpoint}`));
      }
    });
  }

  send(destination: string, body: Uint8Array, headers: StompHeaders): void {
    this.requireOpen();
    this.client.publish({ destination, binaryBody: body, headers });
  }

  subscribe(destination: string, onMessage: (message: IMessage) => void, headers: StompHeaders): StompSubscription {
    this.requireOpen();
    return this.client.subscribe(destination, onMessage, headers);
  }

  /** DISCONNECT, then resolves once the socket closed; a broker that does not answer in time is cut off. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  /** Drops the connection at once, without DISCONNECT; the broker requeues whatever was unsettled. */
  abort(): void {
    if (this.state === 'connecting') {
      this.failOpening(new WireClosedError(`the connection to ${this.options.endpoint} was dropped`));
      return;
    }
    if (this.state !== 'open') return;
    this.state = 'closed';
    this.failWaiters(new WireClosedError(`the connection to ${this.options.endpoint} was dropped`));
    void this.client.deactivate({ force: true });
  }

  private async shutDown(): Promise<void> {
    if (this.state === 'connecting') {
      this.failOpening(new WireClosedError(`the connection to ${this.options.endpoint} was closed before it opened`));
      return;
    }
    if (this.state !== 'open') {
      this.state = 'closed';
      return;
    }
    this.state = 'closing';
    this.failWaiters(new WireClosedError(`the connection to ${this.options.endpoint} was closed`));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.options.connectTimeoutMs);
    });
    try {
      if ((await Promise.race([this.client.deactivate(), late])) === 'late') await this.client.deactivate({ force: true });
    } finally {
      clearTimeout(timer);
      this.state = 'closed';
    }
  }

  private opened(): void {
    if (this.state !== 'connecting') return;
    this.state = 'open';
    const opening = this.opening;
    this.opening = undefined;
    opening?.resolve();
  }

  private errorFrame(frame: IFrame): void {
    const { endpoint } = this.options;
    const brokerMessage = frame.headers['message'] ?? 'ERROR';
    const detail = frame.body.trim();
    if (this.state === 'connecting') {
      this.failOpening(new BrokerRefusedError(endpoint, brokerMessage, detail, `STOMP login refused by ${endpoint}: ${detail || brokerMessage}`));
      return;
    }
    // RabbitMQ closes the connection after most ERROR frames (a failed channel takes the STOMP
    // connection with it) and sends no receipt-id, so the frame cannot be tied to one operation: the
    // operations waiting are refused, and the connection is given up.
    const refused = new BrokerRefusedError(endpoint, brokerMessage, detail, `${endpoint} answered with an ERROR frame: ${brokerMessage}${detail === '' ? '' : `: ${detail}`}`);
    this.lose(refused);
  }

  private socketClosed(): void {
    const { endpoint, heartbeatMs } = this.options;
    if (this.state === 'connecting') {
      this.failOpening(new WireClosedError(`could not connect to STOMP at ${endpoint}: ${this.socketError ?? 'the connection closed'}`));
      return;
    }
    const why = this.heartbeatLost
      ? `missed heart-beats from ${endpoint} (every ${heartbeatMs} ms asked): the connection is taken for dead`
      : `the STOMP connection to ${endpoint} closed${this.socketError === undefined ? '' : `: ${this.socketError}`}`;
    this.lose(new WireClosedError(why));
  }

  private failOpening(error: Error): void {
    if (this.state !== 'connecting') return;
    this.state = 'closed';
    const opening = this.opening;
    this.opening = undefined;
    opening?.reject(error);
    void this.client.deactivate({ force: true });
  }

  private lose(cause: Error): void {
    if (this.state !== 'open') return;
    this.state = 'lost';
    this.failWaiters(cause);
    void this.client.deactivate({ force: true });
    this.lostListener?.(cause instanceof WireClosedError ? cause : new WireClosedError(cause.message, { cause }));
  }

  private failWaiters(error: Error): void {
    const waiters = [...this.waiters.values()];
    this.waiters.clear();
    for (const waiter of waiters) waiter.reject(error);
  }

  private requireOpen(): void {
    if (this.state !== 'open') throw new WireClosedError(`the connection to ${this.options.endpoint} is not open`);
  }
}

function describeSocketError(event: unknown): string {
  // TCPWrapper reports { type: 'Error', message: <the socket's Error> }.
  const inner = typeof event === 'object' && event !== null && 'message' in event ? event.message : event;
  if (inner instanceof Error) return inner.message;
  return typeof inner === 'string' ? inner : 'socket error';
}
