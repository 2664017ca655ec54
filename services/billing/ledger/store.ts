// The ledger in Postgres. apply() writes one transfer atomically: the
// transfer row (its id makes it idempotent), the balance check of every
// balance-checked account it debits (row locks taken in id order, so two
// transfers never deadlock), and its postings. Insufficient funds and a
// reserve already settled are ordinary, typed outcomes; a transfer whose
// postings do not balance is a bug and throws before anything is written.
import type pg from 'pg';
import { quoteIdent, withTransaction } from '../../../runtime/pg/index.js';
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
  async ensureAccount(id: string, kind: AccountKind, currency: string, client: pg.ClientBase = this.#pool as unknown as pg.ClientBase): Promise<void> {
    // Accounts are never deleted: one that exists once exists for good, so skip the round trip.
    if (this.#known.has(id)) return;
    await client.query(
      `INSERT INTO ${this.#s}.accounts (id, kind, currency, balance_minor) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
      [id, kind, currency, BALANCE_CHECKED_KINDS.has(kind) ? '0' : null],
    );
    if (this.#known.size >= KNOWN_ACCOUNTS_MAX) this.#known.clear(); // a bound, not an eviction policy: a miss costs one query
    this.#known.add(id);
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
    const starts: number[] = [];
    const counts: number[] = [];
    const accounts: string[] = [];
    const deltas: string[] = [];
    for (const { transfer } of batch) {
      starts.push(accounts.length + 1);
      counts.push(transfer.postings.length);
      for (const p of transfer.postings) {
        accounts.push(p.accountId);
        deltas.push(p.amountMinor.toString());
      }
    }
    let results: string[];
    try {
      const { rows } = await this.#pool.query<{ r: string[] }>(
        `SELECT ${this.#s}.apply_transfers($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS r`,
        [
          batch.map((b) => b.transfer.id), batch.map((b) => b.transfer.kind), batch.map((b) => b.transfer.reserveId),
          batch.map((b) => b.transfer.paymentId), batch.map((b) => b.transfer.currency), batch.map((b) => b.transfer.amountMinor.toString()),
          starts, counts, accounts, deltas,
        ],
      );
      results = (rows[0] as { r: string[] }).r;
    } catch {
      // The batch failed as a whole (a race on the settlement index, a missing account, a
      // currency mismatch): apply each on its own, so each caller gets its own answer or error.
      await Promise.all(batch.map((b) => this.#applyOne(b.transfer).then(b.resolve, b.reject)));
      return;
    }
    batch.forEach((b, i) => {
      const r = results[i] ?? '';
      if (r === 'applied' || r === 'duplicate') b.resolve({ outcome: r });
      else if (r === 'already-settled') b.resolve({ outcome: 'already-settled', reserveId: b.transfer.reserveId ?? '' });
      else if (r.startsWith('insufficient-funds:')) b.resolve({ outcome: 'insufficient-funds', accountId: r.slice('insufficient-funds:'.length) });
      else b.reject(new LedgerInvariantError(b.transfer.id, r === 'conflict' ? 'id reused for a different transfer' : `unexpected result ${r}`));
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
      const existing = await client.query<{ kind: string; amount_minor: bigint }>(`SELECT kind, amount_minor FROM ${this.#s}.transfers WHERE id = $1`, [transfer.id]);
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
      if (a.currency !== transfer.currency) throw new LedgerInvariantError(transfer.id, `account ${a.id} is in ${a.currency}, not ${transfer.currency}`);
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
  async transferAmount(id: string): Promise<bigint | null> {
    const { rows } = await this.#pool.query<{ amount_minor: string }>(`SELECT amount_minor::text FROM ${this.#s}.transfers WHERE id = $1`, [id]);
    return rows[0] ? BigInt(rows[0].amount_minor) : null;
  }

  /** The balance: the row for balance-checked accounts, the postings' sum for the others. */
  async balance(accountId: string): Promise<bigint> {
    const { rows } = await this.#pool.query<{ balance: bigint | null }>(
      `SELECT COALESCE(a.balance_minor, (SELECT COALESCE(SUM(p.amount_minor), 0) FROM ${this.#s}.postings p WHERE p.account_id = a.id)) AS balance
       FROM ${this.#s}.accounts a WHERE a.id = $1`,
      [accountId],
    );
    const balance = rows[0]?.balance;
    if (balance === undefined || balance === null) throw new Error(`no account ${accountId}`);
    return BigInt(balance);
  }

  /** The last `limit` movements of an account, newest first (the BAL mini statement). */
  async statement(accountId: string, limit = 5): Promise<StatementLine[]> {
    const { rows } = await this.#pool.query<{ transfer_id: string; kind: string; payment_id: string; amount_minor: bigint; created_at: Date }>(
      `SELECT p.transfer_id, t.kind, t.payment_id, p.amount_minor, p.created_at
       FROM ${this.#s}.postings p JOIN ${this.#s}.transfers t ON t.id = p.transfer_id
       WHERE p.account_id = $1 ORDER BY p.id DESC LIMIT $2`,
      [accountId, Math.min(limit, STATEMENT_LINES_MAX)],
    );
    return rows.map((r) => ({ transferId: r.transfer_id, kind: r.kind, paymentId: r.payment_id, amountMinor: r.amount_minor, at: r.created_at }));
  }

  /** Reads the whole ledger back and checks its invariants (tests, `dialpay reconcile`, audits). */
  async check(): Promise<LedgerCheck> {
    const { rows } = await this.#pool.query<{ total: bigint; unbalanced: bigint; drifted: bigint; negative: bigint }>(
      `SELECT
         (SELECT COALESCE(SUM(amount_minor), 0) FROM ${this.#s}.postings) AS total,
         (SELECT count(*) FROM (SELECT transfer_id FROM ${this.#s}.postings GROUP BY transfer_id HAVING SUM(amount_minor) <> 0) u) AS unbalanced,
         (SELECT count(*) FROM ${this.#s}.accounts a WHERE a.balance_minor IS NOT NULL
            AND a.balance_minor <> (SELECT COALESCE(SUM(p.amount_minor), 0) FROM ${this.#s}.postings p WHERE p.account_id = a.id)) AS drifted,
         (SELECT count(*) FROM ${this.#s}.accounts WHERE balance_minor < 0) AS negative`,
    );
    const r = rows[0] as { total: bigint; unbalanced: bigint; drifted: bigint; negative: bigint };
    return { postingsSumMinor: BigInt(r.total), unbalancedTransfers: Number(r.unbalanced), driftedBalances: Number(r.drifted), negativeBalances: Number(r.negative) };
  }
}

class InsufficientFunds extends Error {
  override readonly name = 'InsufficientFunds';
  constructor(readonly accountId: string) {
    super(`insufficient funds in ${accountId}`);
  }
}
