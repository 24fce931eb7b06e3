// Server-sent events over fetch: a pure, push-driven parser (text in, events out; it knows nothing of
// sockets, so it is tested on strings), and a thin reader that feeds it a response body.
// Follows the WHATWG event-stream rules: lines end in CRLF, LF or CR; ":" starts a comment; a blank
// line dispatches; `data` lines join with "\n"; an `id` holding NUL is ignored; a BOM at the start is dropped.

export interface SseEvent {
  /** `event:`; "message" when the server named none. */
  readonly event: string;
  readonly data: string;
  /** The last `id:` seen so far in the stream (it carries over to later events), if any. */
  readonly id: string | undefined;
}

export class SseParser {
  #buffer = '';
  #started = false;
  /** The previous chunk ended in CR: a LF at the start of this one belongs to that line end. */
  #pendingCr = false;
  #event = '';
  #data: string[] = [];
  #lastId: string | undefined;
  #retryMs: number | undefined;

  constructor(private readonly onEvent: (event: SseEvent) => void) {}

  /** The server's `retry:` advice, if it gave one. */
  get retryMs(): number | undefined {
    return this.#retryMs;
  }

  get lastEventId(): string | undefined {
    return this.#lastId;
  }

  feed(chunk: string): void {
    let text = chunk;
    if (!this.#started && text.length > 0) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.#pendingCr = false;
    this.#buffer += text;
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const c = this.#buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      this.#line(this.#buffer.slice(start, i));
      if (c === '\r') {
        if (i + 1 === this.#buffer.length) this.#pendingCr = true;
        else if (this.#buffer[i + 1] === '\n') i++;
      }
      start = i + 1;
    }
    this.#buffer = this.#buffer.slice(start);
  }

  /** The stream ended: an event without its blank line is dropped, as the spec says. */
  end(): void {
    this.#buffer = '';
    this.#event = '';
    this.#data = [];
  }

  #line(line: string): void {
    if (line === '') {
      if (this.#data.length > 0) this.onEvent({ event: this.#event || 'message', data: this.#data.join('\n'), id: this.#lastId });
      this.#event = '';
      this.#data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.#event = value;
        break;
      case 'data':
        this.#data.push(value);
        break;
      case 'id':
        if (!value.includes('\u0000')) this.#lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.#retryMs = Number(value);
        break;
      default:
        break;
    }
  }
}

/** Nothing, not even a keepalive comment, arrived on an event stream for this long: the connection is taken for dead. */
export class SseIdleError extends Error {
  override readonly name = 'SseIdleError';
  constructor(readonly idleMs: number) {
    super(`nothing arrived for ${Math.round(idleMs / 1000)} s (the server sends a keepalive every 15 s)`);
  }
}

/**
 * Yields the events of an event-stream body until it ends or `signal` aborts. With `idleMs`, a stream
 * on which nothing arrives for that long fails with SseIdleError: a connection that died without a
 * word (a NAT or proxy that dropped it) would otherwise be waited on for ever.
 */
export async function* readSse(body: ReadableStream<Uint8Array>, signal?: AbortSignal, idleMs?: number): AsyncGenerator<SseEvent, void, undefined> {
  const queue: SseEvent[] = [];
  const parser = new SseParser((event) => queue.push(event));
  const decoder = new TextDecoder('utf-8');
  const reader = body.getReader();
  const abort = (): void => {
    reader.cancel().catch(() => undefined);
  };
  signal?.addEventListener('abort', abort, { once: true });
  let idle = false;
  const watch = idleMs === undefined ? undefined : setTimeout(() => {
    idle = true;
    abort();
  }, idleMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (idle) throw new SseIdleError(idleMs ?? 0);
      watch?.refresh();
      if (done) {
        parser.feed(decoder.decode());
        parser.end();
        yield* queue.splice(0);
        return;
      }
      parser.feed(decoder.decode(value, { stream: true }));
      yield* queue.splice(0);
    }
  } finally {
    clearTimeout(watch);
    signal?.removeEventListener('abort', abort);
    // Also when the consumer stops early: the connection must not stay open behind it.
    await reader.cancel().catch(() => undefined);
  }
}
