// One transaction for many units of work: a consumer hands over a batch of
// messages, each handler's withTransaction(pool, …) joins the one transaction,
// and the batch commits once (one WAL flush, one outbox insert). When any unit
// fails, the whole transaction rolls back and each unit runs again on its own,
// so one bad message costs its batch a retry, never its effects or its neighbours'.
import { AsyncLocalStorage } from 'node:async_hooks';
import type pg from 'pg';
import { ownTransaction, setSharedTransactionLookup, type IsolationLevel } from './pool.js';
import { settleBounded } from '../settle-bounded.js';

interface Shared {
  readonly pool: pg.Pool;
  readonly isolation: IsolationLevel;
  readonly client: pg.PoolClient;
  /** False once the batch committed or rolled back: late callbacks (timers) run on their own. */
  active: boolean;
  /** A unit's withTransaction failed and the unit caught it: its partial statements must not commit. */
  poisoned: boolean;
}

const current = new AsyncLocalStorage<Shared>();

/** How long a shared transaction waits for a row lock before it gives up and its units run alone. */
export const SHARED_LOCK_TIMEOUT_MS = 250;

setSharedTransactionLookup((pool, isolation) => {
  const shared = current.getStore();
  if (!shared?.active || shared.pool !== pool || shared.isolation !== isolation) return null;
  return async (fn) => {
    try {
      return await fn(shared.client);
    } catch (err) {
      shared.poisoned = true;
      throw err;
    }
  };
});

export interface SharedTransactionOutcome {
  readonly results: PromiseSettledResult<void>[];
  /** True when the units committed together; false when they ran one by one (a failure, or one unit). */
  readonly shared: boolean;
  /** Why the shared attempt was given up, when it was. */
  readonly fallbackCause?: unknown;
}

/**
 * Runs the units one after another inside one transaction on one connection, then commits once
 * (a unit may start work for the others, as billing's batches do: whatever runs in its async
 * context joins the same transaction).
 * Each unit's withTransaction on `pool` at `isolation` joins it; its other calls (pool.query, a
 * different pool) run on their own connections as before, so a unit must not wait there for a
 * row this transaction has locked. On any failure (a unit throws, COMMIT fails) nothing commits
 * and every unit runs again by itself; each result is that unit's own.
 */
export async function inOneTransaction(
  pool: pg.Pool,
  isolation: IsolationLevel,
  units: readonly (() => Promise<void>)[],
  options: {
    readonly lockTimeoutMs?: number;
    /** Runs first in the shared transaction (not when the units run alone): work done once for all of them. */
    readonly begin?: (client: pg.PoolClient) => Promise<void>;
  } = {},
): Promise<SharedTransactionOutcome> {
  if (units.length <= 1) return { results: await Promise.allSettled(units.map((unit) => unit())), shared: false };
  const lockTimeoutMs = options.lockTimeoutMs ?? SHARED_LOCK_TIMEOUT_MS;
  if (!Number.isInteger(lockTimeoutMs) || lockTimeoutMs < 1) throw new RangeError('lockTimeoutMs must be a positive integer');
  let shared: Shared | null = null;
  try {
    await ownTransaction(pool, isolation, async (client) => {
      // Two batches that lock the same rows in different orders would deadlock, and PostgreSQL
      // only notices after deadlock_timeout (1 s): give up sooner and run the units alone.
      await client.query(`SET LOCAL lock_timeout = ${lockTimeoutMs}`);
      await options.begin?.(client);
      const s: Shared = { pool, isolation, client, active: true, poisoned: false };
      shared = s;
      await current.run(s, async () => {
        for (const unit of units) await unit();
      });
      if (s.poisoned) throw new Error('a unit of the shared transaction failed and carried on');
    });
    return { results: units.map(() => ({ status: 'fulfilled', value: undefined })), shared: true };
  } catch (cause) {
    return { results: await alone(units), shared: false, fallbackCause: cause };
  } finally {
    if (shared) (shared as Shared).active = false;
  }
}

/** Units run alone at once after a failed batch: a few, so a batch of 64 does not empty the pool. */
export const ALONE_IN_FLIGHT_MAX = 4;

/** Each unit in its own transactions, outside any shared one, at most ALONE_IN_FLIGHT_MAX at once. */
function alone(units: readonly (() => Promise<void>)[]): Promise<PromiseSettledResult<void>[]> {
  return current.exit(() => settleBounded(units, ALONE_IN_FLIGHT_MAX, (unit) => unit()));
}
