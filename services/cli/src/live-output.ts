// Output of a command that follows something live. On a terminal, a status line (the progress bar)
// stays at the bottom and lines scroll above it; elsewhere (a pipe, a file, a CI log) only the lines
// are written, so logs stay clean. Machine output (--json) never goes through here.
import { printable } from './human-format.js';

export class LiveOutput {
  #status = '';

  constructor(
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
  ) {}

  line(text: string): void {
    this.#clearStatus();
    this.write(`${printable(text)}\n`);
    this.#drawStatus();
  }

  /** Replaces the status line; ignored when not on a terminal. */
  status(text: string): void {
    if (!this.tty || text === this.#status) return;
    this.#clearStatus();
    this.#status = text;
    this.#drawStatus();
  }

  /** Removes the status line for good (before the final lines or an error). */
  done(): void {
    this.#clearStatus();
    this.#status = '';
  }

  #clearStatus(): void {
    if (this.tty && this.#status !== '') this.write('\r\u001b[2K');
  }

  #drawStatus(): void {
    if (this.tty && this.#status !== '') this.write(this.#status);
  }
}
