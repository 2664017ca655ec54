// Named (prepared) statements for the hot paths. node-postgres sends a query
// with values as an unnamed statement: PostgreSQL parses, analyses and plans
// it again on every execution. A named one is parsed once per connection and
// its plan cached (generic once it costs no more than the custom ones), so a
// payment step's single-row statements skip most of that work.
//
// Every name comes from here, so the statements a connection prepares are
// bounded: each is a fixed text (a schema-qualified one is named per schema,
// and there are a handful of schemas), and a text that varies with a batch's
// size is named only up to a small row count (namedPerCount); past it, and
// past NAMED_STATEMENTS_MAX in all, statements go unnamed as before.
// Prepare after the migrations: a cached `SELECT *` plan fails if a column is
// added under it (the services migrate at start, before any query).
import type pg from 'pg';

/** Distinct names in the process, so in any one connection's statement cache. */
export const NAMED_STATEMENTS_MAX = 256;

export interface Sql {
  /** Undefined: sent unnamed (the bound was reached). */
  readonly name: string | undefined;
  readonly text: string;
}

const texts = new Map<string, string>();
let unnamedForBound = 0;

/**
 * A statement under a fixed name. The same name with another text is a bug (node-postgres would
 * throw on a connection that prepared the first): it throws here, at once.
 */
export function named(name: string, text: string): Sql {
  const known = texts.get(name);
  if (known !== undefined) {
    if (known !== text) throw new Error(`statement name ${name} already names a different text`);
    return { name, text };
  }
  if (texts.size >= NAMED_STATEMENTS_MAX) {
    unnamedForBound++;
    return { name: undefined, text };
  }
  texts.set(name, text);
  return { name, text };
}

/** Statements sent unnamed because NAMED_STATEMENTS_MAX names were taken (tests, metrics). */
export function unnamedForLack(): number {
  return unnamedForBound;
}

/**
 * A statement whose text depends on a key (a schema name) and is built once per key: `build` runs
 * on the first use of a key only. Keys are few (schemas, services), not values.
 */
export function namedPerKey(name: string, build: (key: string) => string): (key: string) => Sql {
  const cache = new Map<string, Sql>();
  return (key) => {
    let sql = cache.get(key);
    if (!sql) {
      sql = named(`${name}:${key}`, build(key));
      cache.set(key, sql);
    }
    return sql;
  };
}

/**
 * A statement whose text depends on a row count (a multi-row VALUES): named for counts up to
 * countMax, unnamed above (a rare large batch pays the parse, and does not fill the cache).
 */
export function namedPerCount(name: string, countMax: number, build: (count: number) => string): (count: number) => Sql {
  const cache = new Map<number, Sql>();
  return (count) => {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`bad row count ${count}`);
    if (count > countMax) return { name: undefined, text: build(count) };
    let sql = cache.get(count);
    if (!sql) {
      sql = named(`${name}#${count}`, build(count));
      cache.set(count, sql);
    }
    return sql;
  };
}

/**
 * A column added under a running process (a rolling deploy's migration) makes PostgreSQL refuse a
 * prepared `SELECT *` for good on every connection that prepared it. Names carry a generation:
 * that error moves every statement to fresh names (prepared again on next use), at most
 * GENERATIONS_MAX times, then statements go unnamed. The statement that met it still fails (its
 * transaction is aborted): its caller retries, as after any failed transaction.
 */
const GENERATIONS_MAX = 4;
let generation = 0;
const RESULT_TYPE_CHANGED = /cached plan must not change result type/;

/** Runs a statement, named when it has a name. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(
  db: pg.ClientBase | pg.Pool,
  sql: Sql,
  values: readonly unknown[],
): Promise<pg.QueryResult<R>> {
  const sentIn = generation;
  const name = sql.name === undefined || sentIn >= GENERATIONS_MAX ? undefined : sentIn === 0 ? sql.name : `${sql.name}~${sentIn}`;
  try {
    return await db.query<R>({ name, text: sql.text, values: values as unknown[] });
  } catch (err) {
    if (name !== undefined && (err as { code?: string }).code === '0A000' && RESULT_TYPE_CHANGED.test((err as Error).message)) {
      // Statements in flight on the old names fail the same way: one move for all of them.
      if (generation === sentIn) generation++;
    }
    throw err;
  }
}
