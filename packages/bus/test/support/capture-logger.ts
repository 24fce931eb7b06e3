// A BusLogger that keeps every line, so tests can assert what was logged and why.
import type { BusLogger } from '../../src/index.js';

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

export class CaptureLogger implements BusLogger {
  readonly lines: LogLine[] = [];
  debug(fields: object, msg: string): void {
    this.lines.push({ level: 'debug', msg, fields: fields as Record<string, unknown> });
  }
  info(fields: object, msg: string): void {
    this.lines.push({ level: 'info', msg, fields: fields as Record<string, unknown> });
  }
  warn(fields: object, msg: string): void {
    this.lines.push({ level: 'warn', msg, fields: fields as Record<string, unknown> });
  }
  error(fields: object, msg: string): void {
    this.lines.push({ level: 'error', msg, fields: fields as Record<string, unknown> });
  }
}
