// The ledger in Postgres. apply() writes one transfer atomically: the
// transfer row (its id makes it idempotent), the balance check of every
// balance-checked account it debits (row locks taken in id order, so two
// transfers never deadlock), and its postings. Insufficient funds and a
// reserve already settled are ordinary, typed outcomes; a transfer whose
// postings do not balance is a bug and throws before anything is written.
import type pg from 'pg';
import { onAfterCommit, quoteIdent, withTransaction } from '../../../runtime/pg/index.js';
import { transactionLocal } from '../../../runtime/pg/pool.js';
import { namedPerKey, query } from '../../../runtime/pg/named.js';
import { assertBalanced, type AccountKind, type Transfer, BALANCE_CHECKED_KINDS, LedgerInvariantError } from './rules.js';

export type ApplyOutcome =
  | { readonly outcome: 'applied' }
  | { readonly outcome: 'duplicate' }
  | { readonly outcome: 'insufficient-funds'; readonly accountId: string }
  | { readonly outcome: 'already-settled'; readonly reserveId: string };

export interface StatementLine {
  readonly transferId: string;
  readonly kind: string;
  readonly paymentId: string;
  readonly amountMinor: bigint;
  readonly at: Date;
}

export interface LedgerCheck {
  /** Sum of every posting: zero in a sound ledger. */
  readonly postingsSumMinor: bigint;
  /** Transfers whose own postings do not sum to zero. */
  readonly unbalancedTransfers: number;
  /** Balance rows that differ from the sum of their postings. */
  readonly driftedBalances: number;
  readonly negativeBalances: number;
}

const UNIQUE_VIOLATION = '23505';
/** Account ids remembered as existing; past this the memory starts over. */
const KNOWN_ACCOUNTS_MAX = 100_000;
/** Transfers per batch statement: enough to share a WAL flush, small enough to keep latency low. */
const BATCH_TRANSFERS_MAX = 200;

interface Queued {
  readonly transfer: Transfer;
  readonly resolve: (outcome: ApplyOutcome) => void;
  readonly reject: (err: unknown) => void;
}
const STATEMENT_LINES_MAX = 50;
/** The statements every booking sends, named per schema (runtime/pg/named.ts). */
const applyTransfersSql = namedPerKey('ledger.applyTransfers',
  (s) => `SELECT ${s}.apply_transfers($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS r`);
const ensureAccountsSql = namedPerKey('ledger.ensureAccounts', (s) => `INSERT INTO ${s}.accounts (id, kind, currency, balance_minor)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) ON CONFLICT (id) DO NOTHING`);
/** Transaction local: the transfers its callers asked for in this tick (applyIn). */
const PENDING_TRANSFERS = Symbol('ledger.pendingTransfers');

/** An account a step may be the first to use. */
export interface NewAccount {
  readonly id: string;
  readonly kind: AccountKind;
  readonly currency: string;
}

export class Ledger {
  readonly #pool: pg.Pool;
  readonly #s: string;
  readonly #queue: Queued[] = [];
  readonly #known = new Set<string>();
  #scheduled = false;

  constructor(pool: pg.Pool, schema = 'billing') {
    this.#pool = pool;
    this.#s = quoteIdent(schema);
  }

  /** Creates an account if it does not exist; balance-checked kinds start at zero. */
  async ensureAccount(
    id: string, kind: AccountKind, currency: string, client: pg.ClientBase = this.#pool as unknown as pg.ClientBase,
  ): Promise<void> {
    // Accounts are never deleted: one that exists once exists for good, so skip the round trip.
    if (this.#known.has(id)) return;
    await client.query(
      `INSERT INTO ${this.#s}.accounts (id, kind, currency, balance_minor) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
      [id, kind, currency, BALANCE_CHECKED_KINDS.has(kind) ? '0' : null],
    );
    this.#remember([id]);
  }

  /**
   * Creates the accounts that do not exist yet, in one statement of the client's transaction
   * (withTransaction). They are remembered as existing only once it commits: an insert that
   * rolled back must not spare a later caller its own.
   */
  async ensureAccountsIn(client: pg.ClientBase, accounts: readonly NewAccount[]): Promise<void> {
    const missing = new Map<string, NewAccount>();
    for (const a of accounts) if (!this.#known.has(a.id)) missing.set(a.id, a);
    if (missing.size === 0) return;
    // In id order: two transactions creating the same accounts wait for each other, never deadlock.
    const rows = [...missing.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    await query(client, ensureAccountsSql(this.#s), [rows.map((a) => a.id), rows.map((a) => a.kind), rows.map((a) => a.currency),
      rows.map((a) => (BALANCE_CHECKED_KINDS.has(a.kind) ? '0' : null))],
    );
    onAfterCommit(client, () => this.#remember(rows.map((a) => a.id)));
  }

  #remember(ids: readonly string[]): void {
    if (this.#known.size + ids.length > KNOWN_ACCOUNTS_MAX) this.#known.clear(); // a bound, not an eviction policy: a miss costs one query
    for (const id of ids) this.#known.add(id);
  }

  /**
   * Applies transfers in the client's transaction (withTransaction): they commit, or roll back,
   * with the caller's other writes (a debit's state, its result event). Every transfer the
   * transaction's callers ask for within the same tick (the units of a batch booking side by side,
   * batches.ts) goes in one apply_transfers statement. One outcome per transfer, in order. A
   * statement that fails (an account missing or in another currency, a race on the settlement
   * index) fails every caller of it, and so the transaction.
   */
  applyIn(client: pg.ClientBase, transfers: readonly Transfer[]): Promise<ApplyOutcome[]> {
    try {
      for (const t of transfers) assertBalanced(t); // a bug: nothing is queued
    } catch (err) {
      return Promise.reject(err);
    }
    if (transfers.length === 0) return Promise.resolve([]);
    const pending = transactionLocal(client, PENDING_TRANSFERS, () => ({ queue: [] as Queued[], scheduled: false }));
    const outcomes = transfers.map((transfer) =>
      new Promise<ApplyOutcome>((resolve, reject) => pending.queue.push({ transfer, resolve, reject })));
    if (!pending.scheduled) {
      pending.scheduled = true;
      setImmediate(() => {
        pending.scheduled = false;
        void this.#applyQueuedIn(client, pending.queue.splice(0));
      });
    }
    return Promise.all(outcomes);
  }

  async #applyQueuedIn(client: pg.ClientBase, queued: readonly Queued[]): Promise<void> {
    let results: string[];
    try {
      const { rows } = await query<{ r: string[] }>(client, applyTransfersSql(this.#s), applyParams(queued.map((q) => q.transfer)));
      results = (rows[0] as { r: string[] }).r;
    } catch (err) {
      for (const q of queued) q.reject(err);
      return;
    }
    queued.forEach((q, i) => {
      const outcome = outcomeOf(q.transfer, results[i] ?? '');
      if (outcome instanceof Error) q.reject(outcome);
      else q.resolve(outcome);
    });
  }

  /**
   * Applies one transfer. Transfers applied within the same tick go to the
   * database together, as one statement and one commit (apply_transfers), so
   * the WAL is flushed once for many; each caller still gets its own outcome.
   */
  apply(transfer: Transfer): Promise<ApplyOutcome> {
    try {
      assertBalanced(transfer); // a bug: nothing is queued, the caller's promise rejects
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<ApplyOutcome>((resolve, reject) => {
      this.#queue.push({ transfer, resolve, reject });
      if (this.#queue.length >= BATCH_TRANSFERS_MAX) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = this.#queue.length > BATCH_TRANSFERS_MAX;
    const batch = this.#queue.splice(0, BATCH_TRANSFERS_MAX);
    if (this.#scheduled) setImmediate(() => this.#flush());
    if (batch.length === 0) return;
    void this.#applyBatch(batch);
  }

  async #applyBatch(batch: readonly Queued[]): Promise<void> {
    let results: string[];
    try {
      const { rows } = await query<{ r: string[] }>(this.#pool, applyTransfersSql(this.#s),
        applyParams(batch.map((b) => b.transfer)),
      );
      results = (rows[0] as { r: string[] }).r;
    } catch {
      // The batch failed as a whole (a race on the settlement index, a missing account, a
      // currency mismatch): apply each on its own, so each caller gets its own answer or error.
      await Promise.all(batch.map((b) => this.#applyOne(b.transfer).then(b.resolve, b.reject)));
      return;
    }
    batch.forEach((b, i) => {
      const outcome = outcomeOf(b.transfer, results[i] ?? '');
      if (outcome instanceof Error) b.reject(outcome);
      else b.resolve(outcome);
    });
  }

  /** One transfer in its own transaction: the fallback when a batch fails as a whole. */
  async #applyOne(transfer: Transfer): Promise<ApplyOutcome> {
    assertBalanced(transfer);
    try {
      return await withTransaction(this.#pool, 'READ COMMITTED', (client) => this.#apply(client, transfer));
    } catch (err) {
      if (err instanceof InsufficientFunds) return { outcome: 'insufficient-funds', accountId: err.accountId };
      if ((err as { code?: string }).code === UNIQUE_VIOLATION && transfer.reserveId && /one_settlement_per_reserve/.test((err as Error).message)) {
        return { outcome: 'already-settled', reserveId: transfer.reserveId };
      }
      throw err;
    }
  }

  async #apply(client: pg.PoolClient, transfer: Transfer): Promise<ApplyOutcome> {
    const inserted = await client.query(
      `INSERT INTO ${this.#s}.transfers (id, kind, reserve_id, payment_id, currency, amount_minor) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO NOTHING`,
      [transfer.id, transfer.kind, transfer.reserveId, transfer.paymentId, transfer.currency, transfer.amountMinor.toString()],
    );
    if (inserted.rowCount === 0) {
      const existing = await client.query<{ kind: string; amount_minor: bigint }>(
        `SELECT kind, amount_minor FROM ${this.#s}.transfers WHERE id = $1`, [transfer.id],
      );
      const row = existing.rows[0];
      if (!row || row.kind !== transfer.kind || row.amount_minor !== transfer.amountMinor) {
        throw new LedgerInvariantError(transfer.id, 'id reused for a different transfer');
      }
      return { outcome: 'duplicate' };
    }
    // Net change per balance-checked account, applied in id order.
    const deltas = new Map<string, bigint>();
    for (const p of transfer.postings) deltas.set(p.accountId, (deltas.get(p.accountId) ?? 0n) + p.amountMinor);
    const accounts = await client.query<{ id: string; kind: AccountKind; currency: string }>(
      `SELECT id, kind, currency FROM ${this.#s}.accounts WHERE id = ANY($1::text[])`,
      [[...deltas.keys()]],
    );
    if (accounts.rowCount !== deltas.size) throw new LedgerInvariantError(transfer.id, 'posting to an account that does not exist');
    for (const a of accounts.rows) {
      if (a.currency !== transfer.currency) {
        throw new LedgerInvariantError(transfer.id, `account ${a.id} is in ${a.currency}, not ${transfer.currency}`);
      }
    }
    const checked = accounts.rows.filter((a) => BALANCE_CHECKED_KINDS.has(a.kind)).map((a) => a.id).sort();
    for (const accountId of checked) {
      const delta = deltas.get(accountId) as bigint;
      const updated = await client.query(
        `UPDATE ${this.#s}.accounts SET balance_minor = balance_minor + $2 WHERE id = $1 AND balance_minor + $2 >= 0`,
        [accountId, delta.toString()],
      );
      // Throwing rolls the whole transfer back, its row included: nothing of it remains.
      if (updated.rowCount === 0) throw new InsufficientFunds(accountId);
    }
    await client.query(
      `INSERT INTO ${this.#s}.postings (transfer_id, account_id, amount_minor)
       SELECT $1, a, m FROM unnest($2::text[], $3::bigint[]) AS t(a, m)`,
      [transfer.id, transfer.postings.map((p) => p.accountId), transfer.postings.map((p) => p.amountMinor.toString())],
    );
    return { outcome: 'applied' };
  }

  /** The currencies of the accounts whose id starts with `prefix` (a merchant's payables, say). */
  async accountCurrencies(prefix: string): Promise<string[]> {
    const { rows } = await this.#pool.query<{ currency: string }>(
      `SELECT currency FROM ${this.#s}.accounts WHERE id LIKE $1 || '%' ESCAPE '\\' ORDER BY currency`, [prefix.replace(/[\\%_]/g, '\\$&')],
    );
    return rows.map((r) => r.currency);
  }

  /** The amount a transfer was booked with, or null when no transfer has this id (ids make bookings idempotent). */
  async transferAmount(id: string, client: pg.ClientBase | pg.Pool = this.#pool): Promise<bigint | null> {
    const { rows } = await client.query<{ amount_minor: string }>(
      `SELECT amount_minor::text FROM ${this.#s}.transfers WHERE id = $1`, [id],
    );
    return rows[0] ? BigInt(rows[0].amount_minor) : null;
  }

  /** The balance: the row for balance-checked accounts, the postings' sum for the others. */
  async balance(accountId: string): Promise<bigint> {
    const { rows } = await this.#pool.query<{ balance: bigint | null }>(
      `SELECT COALESCE(a.balance_minor,
                       (SELECT COALESCE(SUM(p.amount_minor), 0) FROM ${this.#s}.postings p WHERE p.account_id = a.id)) AS balance
       FROM ${this.#s}.accounts a WHERE a.id = $1`,
      [accountId],
    );
    const balance = rows[0]?.balance;
    if (balance === undefined || balance === null) throw new Error(`no account ${accountId}`);
    return BigInt(balance);
  }

  /** The last `limit` movements of an account, newest first (the BAL mini statement). */
  async statement(accountId: string, limit = 5): Promise<StatementLine[]> {
    const { rows } = await this.#pool.query<{
      transfer_id: string; kind: string; payment_id: string; amount_minor: bigint; created_at: Date;
    }>(
      `SELECT p.transfer_id, t.kind, t.payment_id, p.amount_minor, p.created_at
       FROM ${this.#s}.postings p JOIN ${this.#s}.transfers t ON t.id = p.transfer_id
       WHERE p.account_id = $1 ORDER BY p.id DESC LIMIT $2`,
      [accountId, Math.min(limit, STATEMENT_LINES_MAX)],
    );
    return rows.map((r) => ({
      transferId: r.transfer_id, kind: r.kind, paymentId: r.payment_id, amountMinor: r.amount_minor, at: r.created_at,
    }));
  }

  /** Reads the whole ledger back and checks its invariants (tests, `dialpay reconcile`, audits). */
  async check(): Promise<LedgerCheck> {
    const { rows } = await this.#pool.query<{ total: bigint; unbalanced: bigint; drifted: bigint; negative: bigint }>(
      `SELECT
         (SELECT COALESCE(SUM(amount_minor), 0) FROM ${this.#s}.postings) AS total,
         (SELECT count(*) FROM (SELECT transfer_id FROM ${this.#s}.postings GROUP BY transfer_id HAVING SUM(amount_minor) <> 0) u)
           AS unbalanced,
         (SELECT count(*) FROM ${this.#s}.accounts a WHERE a.balance_minor IS NOT NULL
            AND a.balance_minor <> (SELECT COALESCE(SUM(p.amount_minor), 0) FROM ${this.#s}.postings p WHERE p.account_id = a.id))
           AS drifted,
         (SELECT count(*) FROM ${this.#s}.accounts WHERE balance_minor < 0) AS negative`,
    );
    const r = rows[0] as { total: bigint; unbalanced: bigint; drifted: bigint; negative: bigint };
    return {
      postingsSumMinor: BigInt(r.total), unbalancedTransfers: Number(r.unbalanced), driftedBalances: Number(r.drifted),
      negativeBalances: Number(r.negative),
    };
  }
}

/** The parameters of apply_transfers for these transfers: parallel arrays, postings flattened. */
function applyParams(transfers: readonly Transfer[]): unknown[] {
  const starts: number[] = [];
  const counts: number[] = [];
  const accounts: string[] = [];
  const deltas: string[] = [];
  for (const transfer of transfers) {
    starts.push(accounts.length + 1);
    counts.push(transfer.postings.length);
    for (const p of transfer.postings) {
      accounts.push(p.accountId);
      deltas.push(p.amountMinor.toString());
    }
  }
  return [
    transfers.map((t) => t.id), transfers.map((t) => t.kind), transfers.map((t) => t.reserveId),
    transfers.map((t) => t.paymentId), transfers.map((t) => t.currency), transfers.map((t) => t.amountMinor.toString()),
    starts, counts, accounts, deltas,
  ];
}

/** apply_transfers' answer for one transfer; an Error for an id reused or an answer it never gives. */
function outcomeOf(transfer: Transfer, r: string): ApplyOutcome | LedgerInvariantError {
  if (r === 'applied' || r === 'duplicate') return { outcome: r };
  if (r === 'already-settled') return { outcome: 'already-settled', reserveId: transfer.reserveId ?? '' };
  if (r.startsWith('insufficient-funds:')) return { outcome: 'insufficient-funds', accountId: r.slice('insufficient-funds:'.length) };
  return new LedgerInvariantError(transfer.id, r === 'conflict' ? 'id reused for a different transfer' : `unexpected result ${r}`);
}

class InsufficientFunds extends Error {
  override readonly name = 'InsufficientFunds';
  constructor(readonly accountId: string) {
    super(`insufficient funds in ${accountId}`);
  }
}
