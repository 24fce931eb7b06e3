// A write the conductor makes for every event it hears, built and compiled by Kysely once and then run
// with each row's values. Building and compiling the query anew took longer than SQLite's insert itself
// (a fleet deploy writes about ten rows per host), so the hot writes skip it; the SQL is still Kysely's,
// in the dialect of the database at hand, so each query stays written once for SQLite and PostgreSQL.
import { CompiledQuery, type Compilable, type QueryResult } from 'kysely';

/** Stands in for a named value while compiling; no real value starts with a NUL character and this text. */
const MARK = '\u0000deploybus-value:';

type Slot = { readonly name: string } | { readonly literal: unknown };

export interface QueryRunner {
  executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>;
}

export class ReusableQuery<Values extends Record<string, unknown>> {
  readonly #sql: string;
  readonly #slots: readonly Slot[];

  /**
   * `build` makes the query from a values object; it is called once, with markers in place of the
   * values named by `names`, and must use each of them only as a bound value (not to choose SQL).
   */
  constructor(names: readonly (keyof Values & string)[], build: (values: Values) => Compilable) {
    const marked = Object.fromEntries(names.map((name) => [name, `${MARK}${name}`])) as unknown as Values;
    const compiled = build(marked).compile();
    const known = new Set<string>(names);
    const seen = new Set<string>();
    this.#slots = compiled.parameters.map((parameter): Slot => {
      if (typeof parameter !== 'string' || !parameter.startsWith(MARK)) return { literal: parameter };
      const name = parameter.slice(MARK.length);
      if (!known.has(name)) throw new Error(`reusable query: parameter ${JSON.stringify(name)} is not one of its values`);
      seen.add(name);
      return { name };
    });
    const unused = names.filter((name) => !seen.has(name));
    if (unused.length > 0) throw new Error(`reusable query: values ${unused.join(', ')} are not bound parameters of ${compiled.sql}`);
    this.#sql = compiled.sql;
  }

  /** Runs the query with `values` on `runner` (the database or a transaction). */
  run(runner: QueryRunner, values: Values): Promise<QueryResult<unknown>> {
    const parameters = this.#slots.map((slot) => ('name' in slot ? values[slot.name] : slot.literal));
    return runner.executeQuery(CompiledQuery.raw(this.#sql, parameters));
  }
}
