// pino, set up the same way in every daemon.
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  readonly service: string;
  readonly host: string;
  readonly level: string;
  /** Where lines go (default stdout); tests pass a stream. */
  readonly destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.service,
      level: options.level,
      base: { service: options.service, host: options.host, pid: process.pid },
      // Belt and braces: secrets are Secret objects that print as "[secret]", and these paths are cut too.
      redact: { paths: ['*.password', '*.passcode', '*.token', '*.secret', 'headers.authorization', 'headers["x-gitlab-token"]'], censor: '[redacted]' },
    },
    options.destination,
  );
}
