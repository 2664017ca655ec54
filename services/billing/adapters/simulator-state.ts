// Where the simulated carrier keeps its money (balances, holds, refunds and
// top-ups paid): in this process (tests that drive one billing and set
// balances directly), or in PostgreSQL, shared by every billing replica, so a
// capture that lands on another replica than its reserve finds the hold
// (migration 0016: one function call per operation, atomic across replicas).
import type { Pool } from '../../../runtime/pg/index.js';

export type ReserveOutcome = 'ok' | 'already' | 'insufficient';
export type CaptureOutcome = 'ok' | 'already' | 'none' | 'not-capturable';
export type ReleaseOutcome = 'ok' | 'nothing' | 'captured';
export type RefundOutcome = 'ok' | 'already' | 'nothing';
export type TopUpOutcome = 'ok' | 'already';

export interface SimulatorState {
  /** Whether this debit has a hold (in any state). */
  held(debitId: string): Promise<boolean>;
  /** Whether this top-up id was credited. */
  toppedUp(topUpId: string): Promise<boolean>;
  reserve(debitId: string, msisdn: string, amountMinor: bigint): Promise<ReserveOutcome>;
  capture(debitId: string, amountMinor: bigint): Promise<CaptureOutcome>;
  release(debitId: string): Promise<ReleaseOutcome>;
  refund(refundId: string, debitId: string, amountMinor: bigint): Promise<RefundOutcome>;
  topUp(topUpId: string, msisdn: string, amountMinor: bigint): Promise<TopUpOutcome>;
  balance(msisdn: string): Promise<bigint>;
}

/** Settled holds remembered for idempotent repeats; past this the oldest settled ones are forgotten. */
const SETTLED_HOLDS_MAX = 100_000;

interface Hold {
  readonly msisdn: string;
  readonly amountMinor: bigint;
  state: 'held' | 'captured' | 'released';
}

/** One process's carrier: a restart forgets it, and a second billing replica has another. */
export class MemorySimulatorState implements SimulatorState {
  readonly #openingBalanceMinor: bigint;
  readonly #balances = new Map<string, bigint>();
  readonly #holds = new Map<string, Hold>();
  /** Refund ids already paid back, so a retried refund pays nothing twice. */
  readonly #refunds = new Set<string>();
  /** Top-up ids already credited, so a retried top-up credits nothing twice. */
  readonly #topUps = new Set<string>();

  constructor(openingBalanceMinor: bigint) {
    this.#openingBalanceMinor = openingBalanceMinor;
  }

  balanceOf(msisdn: string): bigint {
    return this.#balances.get(msisdn) ?? this.#openingBalanceMinor;
  }

  setBalance(msisdn: string, amountMinor: bigint): void {
    this.#balances.set(msisdn, amountMinor);
  }

  get topUpsCredited(): number {
    return this.#topUps.size;
  }

  async balance(msisdn: string): Promise<bigint> {
    return this.balanceOf(msisdn);
  }

  async held(debitId: string): Promise<boolean> {
    return this.#holds.has(debitId);
  }

  async toppedUp(topUpId: string): Promise<boolean> {
    return this.#topUps.has(topUpId);
  }

  async reserve(debitId: string, msisdn: string, amountMinor: bigint): Promise<ReserveOutcome> {
    if (this.#holds.has(debitId)) return 'already';
    const balance = this.balanceOf(msisdn);
    if (balance < amountMinor) return 'insufficient';
    this.#balances.set(msisdn, balance - amountMinor);
    this.#holds.set(debitId, { msisdn, amountMinor, state: 'held' });
    this.#forgetOldSettled();
    return 'ok';
  }

  async capture(debitId: string, amountMinor: bigint): Promise<CaptureOutcome> {
    const hold = this.#holds.get(debitId);
    if (!hold) return 'none';
    if (hold.state === 'captured') return 'already';
    if (hold.state === 'released' || amountMinor > hold.amountMinor) return 'not-capturable';
    hold.state = 'captured';
    this.#balances.set(hold.msisdn, this.balanceOf(hold.msisdn) + (hold.amountMinor - amountMinor));
    return 'ok';
  }

  async refund(refundId: string, debitId: string, amountMinor: bigint): Promise<RefundOutcome> {
    const hold = this.#holds.get(debitId);
    if (!hold || hold.state !== 'captured') return 'nothing';
    if (this.#refunds.has(refundId)) return 'already';
    this.#refunds.add(refundId);
    if (this.#refunds.size > SETTLED_HOLDS_MAX) this.#refunds.delete(this.#refunds.values().next().value as string);
    this.#balances.set(hold.msisdn, this.balanceOf(hold.msisdn) + amountMinor);
    return 'ok';
  }

  async release(debitId: string): Promise<ReleaseOutcome> {
    const hold = this.#holds.get(debitId);
    if (!hold || hold.state === 'released') return 'nothing';
    if (hold.state === 'captured') return 'captured';
    hold.state = 'released';
    this.#balances.set(hold.msisdn, this.balanceOf(hold.msisdn) + hold.amountMinor);
    return 'ok';
  }

  async topUp(topUpId: string, msisdn: string, amountMinor: bigint): Promise<TopUpOutcome> {
    if (this.#topUps.has(topUpId)) return 'already';
    this.#topUps.add(topUpId);
    if (this.#topUps.size > SETTLED_HOLDS_MAX) this.#topUps.delete(this.#topUps.values().next().value as string);
    this.#balances.set(msisdn, this.balanceOf(msisdn) + amountMinor);
    return 'ok';
  }

  /** Open holds are never forgotten; settled ones are kept only for repeats, oldest first out. */
  #forgetOldSettled(): void {
    if (this.#holds.size <= SETTLED_HOLDS_MAX) return;
    for (const [id, hold] of this.#holds) {
      if (this.#holds.size <= SETTLED_HOLDS_MAX) break;
      if (hold.state !== 'held') this.#holds.delete(id);
    }
  }
}

/** Settled holds and paid ids older than this are pruned: repeats come within minutes (ack waits, retries). */
export const SIMULATOR_SETTLED_AGE_MS = 24 * 3_600_000;
/** How often one replica prunes (each does; the deletes are idempotent). */
const PRUNE_EVERY_MS = 10 * 60_000;

/** The carrier in billing's schema (billing.simulator_*), one for every replica. */
export class PostgresSimulatorState implements SimulatorState {
  readonly #pool: Pool;
  readonly #openingBalanceMinor: bigint;
  #prunedAtMs = Date.now();

  constructor(pool: Pool, openingBalanceMinor: bigint) {
    this.#pool = pool;
    this.#openingBalanceMinor = openingBalanceMinor;
  }

  async #call<T extends string>(sql: string, values: unknown[]): Promise<T> {
    this.#prune();
    const { rows } = await this.#pool.query<{ outcome: T }>(sql, values);
    const outcome = rows[0]?.outcome;
    if (!outcome) throw new Error(`the simulator's ${sql.slice(0, 40)} answered nothing`);
    return outcome;
  }

  reserve(debitId: string, msisdn: string, amountMinor: bigint): Promise<ReserveOutcome> {
    return this.#call('SELECT billing.simulator_reserve($1, $2, $3, $4) AS outcome',
      [debitId, msisdn, amountMinor, this.#openingBalanceMinor]);
  }

  capture(debitId: string, amountMinor: bigint): Promise<CaptureOutcome> {
    return this.#call('SELECT billing.simulator_capture($1, $2, $3) AS outcome', [debitId, amountMinor, this.#openingBalanceMinor]);
  }

  release(debitId: string): Promise<ReleaseOutcome> {
    return this.#call('SELECT billing.simulator_release($1, $2) AS outcome', [debitId, this.#openingBalanceMinor]);
  }

  refund(refundId: string, debitId: string, amountMinor: bigint): Promise<RefundOutcome> {
    return this.#call('SELECT billing.simulator_refund($1, $2, $3, $4) AS outcome',
      [refundId, debitId, amountMinor, this.#openingBalanceMinor]);
  }

  topUp(topUpId: string, msisdn: string, amountMinor: bigint): Promise<TopUpOutcome> {
    return this.#call('SELECT billing.simulator_top_up($1, $2, $3, $4) AS outcome',
      [topUpId, msisdn, amountMinor, this.#openingBalanceMinor]);
  }

  async held(debitId: string): Promise<boolean> {
    return ((await this.#pool.query('SELECT 1 FROM billing.simulator_holds WHERE debit_id = $1', [debitId])).rowCount ?? 0) > 0;
  }

  async toppedUp(topUpId: string): Promise<boolean> {
    return ((await this.#pool.query("SELECT 1 FROM billing.simulator_paid WHERE id = 'top-up:' || $1", [topUpId])).rowCount ?? 0) > 0;
  }

  async balance(msisdn: string): Promise<bigint> {
    const { rows } = await this.#pool.query<{ balance: bigint }>(
      'SELECT balance_minor AS balance FROM billing.simulator_lines WHERE msisdn = $1', [msisdn],
    );
    return rows[0]?.balance ?? this.#openingBalanceMinor;
  }

  /** In the background, at most every PRUNE_EVERY_MS: what it keeps stays bounded by a day of traffic. */
  #prune(): void {
    if (Date.now() - this.#prunedAtMs < PRUNE_EVERY_MS) return;
    this.#prunedAtMs = Date.now();
    this.#pool.query('SELECT billing.simulator_prune($1)', [SIMULATOR_SETTLED_AGE_MS]).catch(() => undefined); // the next one tries again
  }
}
