// The web's only way to ask anything: requests on the bus, answered by the conductor (deploys, locks,
// cancels, ledger queries) or keepalive (the roster). Every call either returns the answer or throws
// an ApiError saying why not: the bus is down (503), nobody answered in time (503), the request was
// refused (409) or named a bad field (400).
import { BusUnavailableError, type Bus } from '@deploybus/bus';
import { isMessageOfType, ProtocolError, type Message, type MessageType, type PayloadInputOf, type PayloadOf } from '@deploybus/protocol';
import { BusDownError, ConductorError, DeployRefusedError, InvalidFieldError, NoAnswerError } from './errors.js';

export type RosterEntry = PayloadOf<'roster.reply'>['entries'][number];
export type DeployAccepted = PayloadOf<'deploy.queued'>;
export type LockState = PayloadOf<'lock.state'>;
export type CancelResult = PayloadOf<'deploy.cancel-result'>;
export type StateQueryFields = Omit<PayloadInputOf<'state.query'>, 'kind'>;

export interface BusGatewayOptions {
  readonly bus: Bus;
  /** The keepalive hosts asked for the roster; the first complete answer wins. */
  readonly keepaliveHosts: readonly string[];
  /** How long to wait for any answer. */
  readonly timeoutMs: number;
}

/** Renames a field of the bus message (`targets.hosts`) to the API's (`hosts`). */
export type FieldMapper = (busField: string) => string;
const sameField: FieldMapper = (field) => field;

export class BusGateway {
  constructor(private readonly options: BusGatewayOptions) {}

  get bus(): Bus {
    return this.options.bus;
  }

  /** Builds a message, turning a payload the protocol refuses into a 400 naming the field. */
  message<T extends MessageType>(type: T, payload: PayloadInputOf<T>, mapField: FieldMapper = sameField): Message<T> {
    try {
      return this.options.bus.message(type, payload, { expectReplies: true, ttlMs: this.options.timeoutMs });
    } catch (error) {
      if (error instanceof ProtocolError) {
        const field = mapField(error.field.replace(/^payload\.?/, ''));
        throw new InvalidFieldError(field, error.message.replace(/^[^:]*:\s*/, ''));
      }
      throw error;
    }
  }

  /** deploy.requested -> deploy.queued; throws DeployRefusedError on deploy.refused. */
  async deploy(payload: PayloadInputOf<'deploy.requested'>, mapField: FieldMapper = sameField): Promise<DeployAccepted> {
    const reply = await this.#askConductor(this.message('deploy.requested', payload, mapField), mapField);
    if (isMessageOfType(reply, 'deploy.queued')) return reply.payload;
    if (isMessageOfType(reply, 'deploy.refused')) throw new DeployRefusedError(reply.payload.code, reply.payload.reason);
    throw new ConductorError(`the conductor answered a deploy request with ${reply.type}`);
  }

  /** state.query -> the ledger's result; a bad field in the answer's error becomes a 400 naming it. */
  async query<T = unknown>(kind: string, fields: StateQueryFields = {}, mapField: FieldMapper = sameField): Promise<{ result: T; truncated: boolean }> {
    const reply = await this.#askConductor(this.message('state.query', { kind, ...fields }, mapField), mapField);
    if (!isMessageOfType(reply, 'state.reply')) throw new ConductorError(`the conductor answered a state query with ${reply.type}`);
    const { error, result, truncated } = reply.payload;
    if (error !== undefined) {
      const match = /^([A-Za-z][A-Za-z0-9_.[\]]*): (.*)$/s.exec(error);
      const field = match?.[1];
      // A kind it does not know is not the caller's fault: an older conductor, most likely.
      if (field === undefined || field === 'kind' || field === 'query') throw new ConductorError(`the conductor could not answer the ${kind} query: ${error}`);
      throw new InvalidFieldError(mapField(field), match?.[2] ?? error);
    }
    return { result: result as T, truncated: truncated === true };
  }

  async lock(payload: PayloadInputOf<'lock.requested'>): Promise<LockState> {
    const reply = await this.#askConductor(this.message('lock.requested', payload));
    if (!isMessageOfType(reply, 'lock.state')) throw new ConductorError(`the conductor answered a lock request with ${reply.type}`);
    return reply.payload;
  }

  async cancel(payload: PayloadInputOf<'deploy.cancel-requested'>): Promise<CancelResult> {
    const reply = await this.#askConductor(this.message('deploy.cancel-requested', payload));
    if (!isMessageOfType(reply, 'deploy.cancel-result')) throw new ConductorError(`the conductor answered a cancel request with ${reply.type}`);
    return reply.payload;
  }

  /** Every daemon keepalive knows of (narrowed by service), from the first keepalive with a complete answer. */
  async roster(service?: string): Promise<RosterEntry[]> {
    const { bus, keepaliveHosts, timeoutMs } = this.options;
    this.#needBus();
    const query = this.message('roster.query', service === undefined ? {} : { service });
    let first: ((entries: RosterEntry[]) => void) | undefined;
    const early = new Promise<RosterEntry[]>((resolve) => (first = resolve));
    const onReply = (_responder: string, reply: Message): void => {
      if (isMessageOfType(reply, 'roster.reply') && reply.payload.truncated !== true) first?.(reply.payload.entries);
    };
    const all = this.#send(() => bus.request(query, { expect: keepaliveHosts, timeoutMs, onReply }));
    const result = await Promise.race([early, all]);
    if (Array.isArray(result)) return result;
    for (const host of keepaliveHosts) {
      const reply = result.replies.get(host);
      if (reply !== undefined && isMessageOfType(reply, 'roster.reply')) return reply.payload.entries;
    }
    throw new NoAnswerError('keepalive', `keepalive (${keepaliveHosts.join(', ')}) did not answer within ${timeoutMs} ms; is it running?`);
  }

  /**
   * Sends a request that any one instance of `responder` answers (its instances share a work queue, so
   * replies are not told apart by host) and returns the first reply. A message.rejected answer becomes a
   * 400 naming the field; silence a 503 (`<responder>_unavailable`; the conductor's and keepalive's is
   * `conductor_unavailable`, as the API contract names it).
   */
  async ask(message: Message, responder: string, mapField: FieldMapper = sameField): Promise<Message> {
    const { bus, timeoutMs } = this.options;
    this.#needBus();
    const result = await this.#send(() => bus.request(message, { expect: [responder], timeoutMs, responderOf: () => responder }));
    const reply = result.replies.get(responder);
    if (reply === undefined) throw new NoAnswerError(responder, `no ${responder} answered the ${message.type} within ${timeoutMs} ms; is one running?`);
    if (isMessageOfType(reply, 'message.rejected')) {
      const match = /payload\.([A-Za-z0-9_.[\]]+)/.exec(reply.payload.reason);
      const field = match?.[1] === undefined ? '' : mapField(match[1]);
      throw new InvalidFieldError(field, reply.payload.reason.replace(/^.*?payload\.[A-Za-z0-9_.[\]]+:\s*/, ''));
    }
    return reply;
  }

  #askConductor(message: Message, mapField: FieldMapper = sameField): Promise<Message> {
    return this.ask(message, 'conductor', mapField);
  }

  #needBus(): void {
    const { bus } = this.options;
    if (bus.state !== 'connected') throw new BusDownError(`the message bus is ${bus.state}; try again in a moment`);
  }

  async #send<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (error instanceof BusUnavailableError) throw new BusDownError(`the message bus is unavailable (${error.message}); try again in a moment`, { cause: error });
      throw error;
    }
  }
}
