// Leases: work that at most one replica may do at a time (closing a settlement
// window, a reconciliation run), held as a PostgreSQL session-level advisory
// lock on a connection of its own. The lock lives exactly as long as that
// connection: a holder that dies (SIGKILL, a crash) drops its connection and
// PostgreSQL releases the lock at once, so another replica takes the work over
// at its next try; a host that vanishes without closing its sockets is noticed
// by the server's TCP keepalives, which the lease's session sets short
// (LEASE_KEEPALIVE_*: about 25 s). No expiry to tune, no clock to trust.
//
// The holder checks its connection every checkEveryMs; once it fails, the lease
// is lost: `signal` aborts and the run stops at its next step. A run's last step
// (marking its result) checks in its own transaction that the lock is still held
// by the lease's backend (assertHeldIn), so a holder that lost the lease cannot
// mark a result. Whatever a run does before that must be idempotent (billing's
// bookings are, on ids derived from the window), since a holder that lost its
// lease may still have a request in flight when the next one starts.
import type pg from 'pg';
import type { Logger } from '../log.js';
import { Counter, Gauge, type Registry } from '../metrics.js';

/** The first key of every lease's two-key advisory lock: ours, apart from any single-key lock (billing's). 'dpls'. */
export const LEASE_LOCK_CLASS = 0x64706c73;
export const LEASE_CHECK_MS = 5_000;
/** A check that takes longer than this means the connection is gone. */
const LEASE_CHECK_TIMEOUT_MS = 5_000;
/** How often a waiting acquire asks again. */
const LEASE_POLL_MS = 250;
/** Names remembered as found held (for takeovers): bounded, oldest forgotten first. */
const CONTENDED_NAMES_MAX = 1_000;
/** The server's keepalive on the lease's session (seconds): a vanished holder's lock goes within idle + interval x count. */
const LEASE_KEEPALIVE_IDLE_S = 10;
const LEASE_KEEPALIVE_INTERVAL_S = 5;
const LEASE_KEEPALIVE_COUNT = 3;

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(readonly lease: string, options?: { cause?: unknown }) {
    super(`the lease ${lease} was lost (its connection failed); another replica may take the work over`, options);
  }
}

export class LeaseHeldError extends Error {
  override readonly name = 'LeaseHeldError';
  constructor(readonly lease: string) {
    super(`another replica holds the lease ${lease}`);
  }
}

export interface Lease {
  readonly name: string;
  /** Aborted (with a LeaseLostError) when the lease is lost. */
  readonly signal: AbortSignal;
  /** Whether this process found the lease held by another holder before it got it. */
  readonly contended: boolean;
  /** Throws a LeaseLostError once the lease is lost. */
  throwIfLost(): void;
  /** Inside a run's final transaction: throws a LeaseLostError unless the lock is still held by this lease's connection. */
  assertHeldIn(client: pg.ClientBase): Promise<void>;
  /** Counts a takeover: the caller found the work another holder started and did not finish. */
  tookOver(): void;
  /** Gives the lease up (its connection is closed, which releases the lock); safe to call twice. */
  release(): Promise<void>;
}

export interface LeasesOptions {
  readonly pool: pg.Pool;
  readonly log: Logger;
  /** The component's registry: dialpay_lease_held and dialpay_lease_takeovers_total (its component label). */
  readonly registry?: Registry;
  readonly checkEveryMs?: number;
}

export class Leases {
  readonly #pool: pg.Pool;
  readonly #log: Logger;
  readonly #checkEveryMs: number;
  readonly #held: Gauge | null;
  readonly #takeovers: Counter | null;
  /** Names found held by another holder, not yet got since. */
  readonly #contended = new Set<string>();

  constructor(options: LeasesOptions) {
    this.#pool = options.pool;
    this.#log = options.log;
    this.#checkEveryMs = options.checkEveryMs ?? LEASE_CHECK_MS;
    this.#held = options.registry
      ? new Gauge({ name: 'dialpay_lease_held',
        help: 'Leases (runs at most one replica does: settlement closes, reconciliation runs) this process holds now.',
        registers: [options.registry] })
      : null;
    this.#takeovers = options.registry
      ? new Counter({ name: 'dialpay_lease_takeovers_total',
        help: 'Runs this process took over: it got a lease another holder had had, '
          + 'and found that holder\'s work unfinished (it died or failed).',
        registers: [options.registry] })
      : null;
    this.#held?.set(0);
    this.#takeovers?.inc(0);
  }

  /** The lease if no one holds it now, else null at once. */
  tryAcquire(name: string): Promise<Lease | null> {
    return this.acquire(name, 0);
  }

  /**
   * The lease, waiting up to waitMs for its holder to finish or die; null when it is still held then.
   * One connection asks, again every LEASE_POLL_MS, and becomes the lease's when it gets the lock.
   */
  async acquire(name: string, waitMs: number, onWait?: () => void): Promise<Lease | null> {
    const deadline = performance.now() + waitMs;
    const client = await this.#pool.connect();
    let failure: Error | null = null;
    const onError = (err: Error) => {
      failure = err;
    };
    client.on('error', onError);
    let got: Lease | null = null;
    try {
      await client.query(`SET tcp_keepalives_idle = ${LEASE_KEEPALIVE_IDLE_S};
        SET tcp_keepalives_interval = ${LEASE_KEEPALIVE_INTERVAL_S}; SET tcp_keepalives_count = ${LEASE_KEEPALIVE_COUNT}`);
      for (let attempt = 0; ; attempt++) {
        const { rows } = await client.query<{ got: boolean; pid: number }>(
          'SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS got, pg_backend_pid() AS pid', [LEASE_LOCK_CLASS, name]);
        const row = rows[0];
        if (row?.got) {
          client.removeListener('error', onError);
          got = this.#held$(name, client, row.pid, this.#contended.delete(name));
          return got;
        }
        this.#remember(name);
        if (performance.now() >= deadline) return null;
        if (attempt === 0) onWait?.();
        await new Promise((r) => setTimeout(r, Math.min(LEASE_POLL_MS, Math.max(0, deadline - performance.now()))));
      }
    } catch (err) {
      throw failure ? new LeaseLostError(name, { cause: err }) : err;
    } finally {
      if (!got) {
        client.removeListener('error', onError);
        client.release(true); // a fresh session next time: nothing of this one is kept
      }
    }
  }

  #remember(name: string): void {
    this.#contended.delete(name);
    this.#contended.add(name);
    if (this.#contended.size > CONTENDED_NAMES_MAX) this.#contended.delete(this.#contended.values().next().value as string);
  }

  #held$(name: string, client: pg.PoolClient, pid: number, contended: boolean): Lease {
    const controller = new AbortController();
    let released = false;
    const lose = (cause: unknown) => {
      if (controller.signal.aborted || released) return;
      this.#held?.dec();
      this.#log.warn({ err: cause, lease: name }, 'lease lost: the run stops; another replica may take it over');
      controller.abort(new LeaseLostError(name, { cause }));
    };
    client.on('error', lose);
    let checking = false;
    const check = setInterval(() => {
      if (checking) return; // one check at a time on the connection
      checking = true;
      client.query({ text: 'SELECT 1', query_timeout: LEASE_CHECK_TIMEOUT_MS } as pg.QueryConfig)
        .catch(lose).finally(() => (checking = false));
    }, this.#checkEveryMs);
    check.unref();
    this.#held?.inc();
    return {
      name,
      signal: controller.signal,
      contended,
      throwIfLost: () => {
        if (controller.signal.aborted) throw controller.signal.reason;
      },
      assertHeldIn: async (other) => {
        if (controller.signal.aborted) throw controller.signal.reason;
        const { rowCount } = await other.query(
          `SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
            AND classid = $1::int::oid AND objid = hashtext($2)::oid AND objsubid = 2 AND pid = $3 AND granted`,
          [LEASE_LOCK_CLASS, name, pid],
        );
        if (rowCount !== 1) {
          lose(new Error('the lock is no longer held by the lease\'s connection'));
          throw controller.signal.reason;
        }
      },
      tookOver: () => {
        this.#takeovers?.inc();
        this.#log.info({ lease: name }, 'took over a run another replica left unfinished');
      },
      release: async () => {
        if (released) return;
        clearInterval(check);
        if (!controller.signal.aborted) this.#held?.dec();
        released = true;
        client.removeListener('error', lose);
        // Closing the session releases its locks; it never goes back to the pool with one.
        client.release(true);
      },
    };
  }
}
