// Gathers the replies to one request until every expected responder answered or time ran out.
import type { Message } from '@deploybus/protocol';
import type { FanOutResult } from './bus.js';

export class FanOutCollector {
  private readonly expected: ReadonlySet<string>;
  private readonly replies = new Map<string, Message>();
  private settle: ((result: FanOutResult) => void) | undefined;
  private done: FanOutResult | undefined;

  constructor(
    expect: readonly string[],
    private readonly responderOf: (reply: Message) => string,
    private readonly onReply: ((responder: string, reply: Message) => void) | undefined,
  ) {
    this.expected = new Set(expect);
  }

  add(reply: Message): void {
    if (this.done) return;
    const responder = this.responderOf(reply);
    // Replies from responders nobody asked for, and second replies, do not count.
    if (!this.expected.has(responder) || this.replies.has(responder)) return;
    this.replies.set(responder, reply);
    this.onReply?.(responder, reply);
    if (this.replies.size === this.expected.size) this.finish();
  }

  wait(timeoutMs: number): Promise<FanOutResult> {
    if (this.expected.size === 0) this.finish();
    if (this.done) return Promise.resolve(this.done);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.finish(), timeoutMs);
      this.settle = (result) => {
        clearTimeout(timer);
        resolve(result);
      };
    });
  }

  finish(): void {
    if (this.done) return;
    const missing = [...this.expected].filter((name) => !this.replies.has(name)).sort();
    this.done = { replies: new Map(this.replies), missing, complete: missing.length === 0 };
    this.settle?.(this.done);
  }
}
