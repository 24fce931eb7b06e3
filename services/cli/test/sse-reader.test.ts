// The SSE parser on strings (every line ending, split anywhere) and the reader on a real byte stream.
import { describe, expect, it } from 'vitest';
import { readSse, SseIdleError, SseParser, type SseEvent } from '../src/sse-reader.js';

function parse(chunks: readonly string[]): { events: SseEvent[]; parser: SseParser } {
  const events: SseEvent[] = [];
  const parser = new SseParser((e) => events.push(e));
  for (const chunk of chunks) parser.feed(chunk);
  return { events, parser };
}

const STREAM = '\uFEFFretry: 3000\n\n: keepalive comment\nid: 7\nevent: deploy.started\ndata: {"a":1}\n\ndata: line one\ndata: line two\n\nid: 8\nevent: task.log\ndata:no-space\r\n\r\nevent: lost\ndata: never dispatched';

describe('SseParser', () => {
  it('reads events, multi-line data, comments, ids that carry over, retry, and drops an unfinished last event', () => {
    const { events, parser } = parse([STREAM]);
    parser.end();
    expect(events).toEqual([
      { event: 'deploy.started', data: '{"a":1}', id: '7' },
      { event: 'message', data: 'line one\nline two', id: '7' },
      { event: 'task.log', data: 'no-space', id: '8' },
    ]);
    expect(parser.retryMs).toBe(3000);
    expect(parser.lastEventId).toBe('8');
  });

  it('gives the same events however the text is cut, CRLF split between chunks included', () => {
    const whole = parse([STREAM]).events;
    for (let cut = 1; cut < STREAM.length; cut++) {
      expect(parse([STREAM.slice(0, cut), STREAM.slice(cut)]).events).toEqual(whole);
    }
    expect(parse([...STREAM]).events).toEqual(whole);
  });

  it('treats a lone CR as a line end, and ignores an id holding NUL', () => {
    const { events } = parse(['id: 1\rdata: a\r\rid: x\u0000y\rdata: b\r\r']);
    expect(events).toEqual([
      { event: 'message', data: 'a', id: '1' },
      { event: 'message', data: 'b', id: '1' },
    ]);
  });
});

describe('readSse', () => {
  it('decodes UTF-8 split inside a character and yields each event', async () => {
    const bytes = new TextEncoder().encode('event: x\ndata: héllo ✓\n\nevent: y\ndata: 2\n\n');
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 3) controller.enqueue(bytes.slice(i, i + 3));
        controller.close();
      },
    });
    const seen: SseEvent[] = [];
    for await (const event of readSse(body)) seen.push(event);
    expect(seen).toEqual([
      { event: 'x', data: 'héllo ✓', id: undefined },
      { event: 'y', data: '2', id: undefined },
    ]);
  });

  it('ends when its signal aborts, even while the server sends nothing', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('data: first\n\n'));
      },
    });
    const abort = new AbortController();
    const seen: string[] = [];
    for await (const event of readSse(body, abort.signal)) {
      seen.push(event.data);
      abort.abort();
    }
    expect(seen).toEqual(['first']);
  });

  it('fails with SseIdleError when nothing, not even a keepalive, arrives for idleMs; keepalives keep it open', async () => {
    const encoder = new TextEncoder();
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
      },
    });
    const seen: string[] = [];
    const reading = (async () => {
      for await (const event of readSse(body, undefined, 300)) seen.push(event.data);
    })();
    // Keepalive comments every 150 ms for a while: the stream stays open past idleMs.
    for (let i = 0; i < 4; i += 1) {
      await new Promise((r) => setTimeout(r, 150));
      controller?.enqueue(encoder.encode(i === 1 ? 'data: live\n\n' : ': keepalive\n\n'));
    }
    // Then silence, as from a connection that died without a word.
    await expect(reading).rejects.toBeInstanceOf(SseIdleError);
    expect(seen).toEqual(['live']);
  });
});
