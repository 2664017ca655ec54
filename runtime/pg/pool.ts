// The Postgres pool and transaction helper. BIGINT comes back as bigint, so
// money read from the database is never a number.
import pg from 'pg';
import type { Logger } from '../log.js';
import { failoverClientClass, PrimaryFinder } from './failover.js';
import { postgresServers } from './hosts.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type ClientBase = pg.ClientBase;

pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => BigInt(value));

/** What a pool connects to, for the health watcher (nats/cluster-health.ts): kept beside each pool made here. */
interface PoolServers {
  /** Servers named in postgres.url: more than one means standbys are expected. */
  readonly count: number;
  readonly finder: PrimaryFinder | null;
}
const poolServers = new WeakMap<pg.Pool, PoolServers>();

/** Servers the pool's postgres.url names, and the failovers its new clients followed (0 for a one-server URL). */
export function poolFailoverState(pool: pg.Pool): { servers: number; failovers: number } {
  const s = poolServers.get(pool);
  return { servers: s?.count ?? 1, failovers: s?.finder?.failovers ?? 0 };
}

export interface PoolOptions {
  readonly url: string;
  readonly poolSizeMax: number;
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly applicationName: string;
}

/**
 * A pool on `options.url`. A URL naming several servers (hosts.ts) connects each new client to
 * the one that accepts writes (failover.ts), so a promoted standby is found without a restart.
 */
export function createPool(options: PoolOptions, log: Logger): pg.Pool {
  const servers = postgresServers(options.url);
  const finder = servers.urls.length > 1 || servers.readWrite ? new PrimaryFinder(servers, options.connectTimeoutMs) : null;
  const pool = new pg.Pool({
    connectionString: servers.urls[0],
    ...(finder ? { Client: failoverClientClass(finder) } : {}),
    max: options.poolSizeMax,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs,
    idle_in_transaction_session_timeout: options.statementTimeoutMs * 2,
    application_name: options.applicationName,
    // Day and month windows (limits, statements) are UTC, whatever the server's zone.
    options: '-c TimeZone=UTC',
  });
  // An idle client lost its connection (server restart): the pool drops it and
  // makes a new one on the next checkout. Log it; do not crash the process.
  pool.on('error', (err) => {
    finder?.forget();
    log.warn({ err }, 'idle postgres client failed');
  });
  poolServers.set(pool, { count: servers.urls.length, finder });
  return pool;
}

export type IsolationLevel = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

interface TransactionState {
  /** The pool the transaction's client came from (the outbox finds its relay by it). */
  readonly pool: pg.Pool;
  /** Work to run after the body and just before COMMIT, in order. */
  readonly beforeCommit: (() => Promise<void>)[];
  /** Run once COMMIT succeeded (metrics of what committed); synchronous, must not throw. */
  readonly afterCommit: (() => void)[];
  /** What helpers keep for the length of one transaction (the outbox's unwritten events). */
  readonly locals: Map<symbol, unknown>;
}

/** Present only while a client is inside withTransaction, so nothing outlives its transaction. */
const transactions = new WeakMap<pg.ClientBase, TransactionState>();

function stateOf(client: pg.ClientBase): TransactionState {
  const state = transactions.get(client);
  if (!state) throw new Error('called outside withTransaction');
  return state;
}

/**
 * Runs fn inside the client's transaction, after its body and just before COMMIT
 * (the outbox writes a transaction's events in one statement this way).
 */
export function onBeforeCommit(client: pg.ClientBase, fn: () => Promise<void>): void {
  stateOf(client).beforeCommit.push(fn);
}

/** Runs fn once the client's transaction has committed; a rolled-back transaction never runs it. */
export function onAfterCommit(client: pg.ClientBase, fn: () => void): void {
  stateOf(client).afterCommit.push(fn);
}

/** The pool a client inside withTransaction came from. */
export function transactionPool(client: pg.ClientBase): pg.Pool {
  return stateOf(client).pool;
}

/** A value kept for the rest of the client's current transaction, made by init on first use. */
export function transactionLocal<T>(client: pg.ClientBase, key: symbol, init: () => T): T {
  const { locals } = stateOf(client);
  if (!locals.has(key)) locals.set(key, init());
  return locals.get(key) as T;
}

/**
 * Runs fn in a transaction and commits it. Inside a shared transaction (batch.ts) on the same
 * pool, fn runs in that one instead: its statements, hooks and outbox events commit with the
 * batch's, or roll back with it.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  isolation: IsolationLevel,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const shared = sharedTransactionFor(pool, isolation);
  if (shared) return shared(fn);
  return ownTransaction(pool, isolation, fn);
}

/** A transaction shared by several units of work, as batch.ts opens one: the hook it installs. */
type SharedTransaction = <T>(fn: (client: pg.PoolClient) => Promise<T>) => Promise<T>;
let sharedTransactionFor: (pool: pg.Pool, isolation: IsolationLevel) => SharedTransaction | null = () => null;

/** Installs how withTransaction finds a shared transaction to join (batch.ts; once per process). */
export function setSharedTransactionLookup(lookup: typeof sharedTransactionFor): void {
  sharedTransactionFor = lookup;
}

/**
 * BEGIN, fn, the before-commit hooks, COMMIT, the after-commit hooks, on a client of its own. A
 * COMMIT that PostgreSQL turned into a ROLLBACK (the transaction had failed and fn swallowed the
 * error) throws: nothing of it committed.
 */
export async function ownTransaction<T>(
  pool: pg.Pool,
  isolation: IsolationLevel,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  // A checked-out client has no pool listener: its connection dying (a PostgreSQL restart)
  // would be an uncaught 'error' and take the process down. The statement in flight, or the
  // next one, fails instead, and the client is dropped rather than returned to the pool.
  const onConnectionError = () => {
    broken = true;
  };
  client.on('error', onConnectionError);
  const state: TransactionState = { pool, beforeCommit: [], afterCommit: [], locals: new Map() };
  transactions.set(client, state);
  try {
    await client.query(`BEGIN ISOLATION LEVEL ${isolation}`);
    const result = await fn(client);
    // A hook may add another (each schema's outbox flushes once): run until none is left.
    for (let i = 0; i < state.beforeCommit.length; i++) await (state.beforeCommit[i] as () => Promise<void>)();
    const committed = await client.query('COMMIT');
    if (committed.command === 'ROLLBACK') throw new TransactionRolledBackError();
    // Committed: a hook that throws anyway (a bug) must not make the caller think it failed and run it again.
    for (const fn of state.afterCommit) {
      try {
        fn();
      } catch {
        // nothing to undo: the transaction is durable
      }
    }
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      broken = true; // the connection itself failed: do not return it to the pool
    }
    throw err;
  } finally {
    transactions.delete(client);
    client.removeListener('error', onConnectionError);
    client.release(broken);
  }
}

/** COMMIT answered ROLLBACK: a statement had failed inside the transaction and its error was caught. */
export class TransactionRolledBackError extends Error {
  override readonly name = 'TransactionRolledBackError';
  constructor() {
    super('the transaction had failed and was rolled back at COMMIT');
  }
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Schema and table names cannot be bind parameters: accept only plain identifiers, quoted. */
export function quoteIdent(name: string): string {
  if (!IDENTIFIER.test(name)) throw new TypeError(`not a plain SQL identifier: ${JSON.stringify(name)}`);
  return `"${name}"`;
}
