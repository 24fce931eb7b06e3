// Typed errors of the daemon runtime.

/** A config file or environment value is wrong; `key` names it (dotted path), `file` the file. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  readonly key: string;
  readonly file: string | undefined;
  constructor(key: string, problem: string, file: string | undefined, options?: { cause?: unknown }) {
    super(`${file ? `config ${file}: ` : 'config: '}${key ? `${key}: ` : ''}${problem}`, options);
    this.key = key;
    this.file = file;
  }
}
