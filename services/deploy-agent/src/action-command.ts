// Operator-defined actions: the parameters of a `run` command checked against the types the
// operator declared, then put into the configured argument list where a whole argument is
// `{name}`. A value is only ever one argument of a program run without a shell.
import type { ActionConfig } from './config.js';

export type ParamValue = string | number | boolean;
export type ActionArgv = { readonly ok: true; readonly argv: readonly string[] } | { readonly ok: false; readonly reason: string };

const PLACEHOLDER = /^\{([A-Za-z][A-Za-z0-9_]{0,63})\}$/;

export function buildActionArgv(action: ActionConfig, params: Readonly<Record<string, ParamValue>>): ActionArgv {
  for (const name of Object.keys(params)) {
    if (!Object.hasOwn(action.params, name)) return { ok: false, reason: `action ${action.name} has no parameter ${JSON.stringify(name)}` };
  }
  const values = new Map<string, string>();
  for (const [name, spec] of Object.entries(action.params)) {
    const value = Object.hasOwn(params, name) ? params[name] : undefined;
    if (value === undefined) return { ok: false, reason: `parameter ${name} is missing` };
    if (spec.type === 'string') {
      if (typeof value !== 'string') return { ok: false, reason: `parameter ${name} must be a string` };
      if (!new RegExp(`^(?:${spec.pattern})$`, 'u').test(value)) return { ok: false, reason: `parameter ${name} does not match its pattern ${spec.pattern}` };
      values.set(name, value);
    } else if (spec.type === 'integer') {
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) return { ok: false, reason: `parameter ${name} must be an integer` };
      if (spec.min !== undefined && value < spec.min) return { ok: false, reason: `parameter ${name} must be at least ${spec.min}` };
      if (spec.max !== undefined && value > spec.max) return { ok: false, reason: `parameter ${name} must be at most ${spec.max}` };
      values.set(name, String(value));
    } else {
      if (typeof value !== 'boolean') return { ok: false, reason: `parameter ${name} must be true or false` };
      values.set(name, String(value));
    }
  }
  const argv = action.command.map((arg) => {
    const placeholder = PLACEHOLDER.exec(arg);
    return placeholder ? (values.get(placeholder[1]!) ?? arg) : arg;
  });
  return { ok: true, argv };
}
