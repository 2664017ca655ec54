// What settlement asks of the ledger: the captures, refunds and payouts of merchants
// in a window, and the airtime captured for and refunded from the operator's
// airtime account (read), and booking a closed window's nets from payable to
// settled accounts (write, idempotent on ids derived from the window).
import { bigIntToInt64, dialpay, int64ToBigInt, moneyFromProto, moneyToProto, unixMsFromProto, unixMsToProto } from '../../proto/index.js';
import { withTransaction, type Pool } from '../../runtime/pg/index.js';
import type { Ledger } from './ledger/store.js';
import { AccountIds, settlementTransfer } from './ledger/rules.js';
import { availableBalance, lockPayable } from './payable.js';

/** Movements per answer; settlement asks again after the last id. */
const MOVEMENTS_PAGE_MAX = 5_000;

/** A movement as movements() reads it: one row per transfer (or its collected part), amounts as text. */
interface MovementRow {
  id: string; kind: 'capture' | 'refund' | 'airtime' | 'airtime_refund' | 'collected' | 'payout'; currency: string;
  merchant_account: string; payee: string; fee: string; share: string; funding: string;
}

/** The movements of an operator in [$2, $3) ms after the id $4, $5 at most (movements()). */
const MOVEMENTS_SQL = `SELECT * FROM (
     SELECT t.id, t.kind, t.currency, m.account_id AS merchant_account,
          m.amount_minor::text AS payee,
          COALESCE((SELECT SUM(p.amount_minor) FROM billing.postings p JOIN billing.accounts a ON a.id = p.account_id
                    WHERE p.transfer_id = t.id AND a.kind = 'fee_revenue'), 0)::text AS fee,
          COALESCE((SELECT SUM(p.amount_minor) FROM billing.postings p JOIN billing.accounts a ON a.id = p.account_id
                    WHERE p.transfer_id = t.id AND a.kind = 'operator_share'), 0)::text AS share,
          d.funding
     FROM billing.transfers t
     JOIN billing.debits d ON d.payment_id = t.payment_id
     JOIN billing.postings m ON m.transfer_id = t.id
     JOIN billing.accounts ma ON ma.id = m.account_id AND ma.kind = 'merchant_payable'
     WHERE t.kind IN ('capture', 'refund') AND d.operator_id = $1
       AND t.created_at >= to_timestamp($2::double precision / 1000) AND t.created_at < to_timestamp($3::double precision / 1000)
     UNION ALL
     -- Airtime: the capture credits airtime:<operator>:<currency>, a refused top-up debits it (airtime-refund:<debit>).
     SELECT t.id, CASE WHEN t.kind = 'capture' THEN 'airtime' ELSE 'airtime_refund' END, t.currency, '' AS merchant_account,
          abs(m.amount_minor)::text AS payee, '0' AS fee, '0' AS share, 'carrier' AS funding
     FROM billing.transfers t
     JOIN billing.postings m ON m.transfer_id = t.id
     JOIN billing.accounts ma ON ma.id = m.account_id AND ma.kind = 'airtime_payable'
     WHERE t.kind IN ('capture', 'refund') AND ma.id = 'airtime:' || $1 || ':' || ma.currency
       AND t.created_at >= to_timestamp($2::double precision / 1000) AND t.created_at < to_timestamp($3::double precision / 1000)
     UNION ALL
     -- What else this operator's carrier charged: the captured part (the rest went back to the payer's account).
     SELECT t.id || '#collected', 'collected', t.currency, '' AS merchant_account,
          (t.amount_minor - COALESCE((SELECT SUM(p.amount_minor) FROM billing.postings p
                                      WHERE p.transfer_id = t.id AND p.account_id = d.payer_account_id AND p.amount_minor > 0), 0))::text,
          '0' AS fee, '0' AS share, d.funding
     FROM billing.transfers t
     JOIN billing.debits d ON d.payment_id = t.payment_id
     WHERE t.kind = 'capture' AND d.operator_id = $1 AND d.funding = 'carrier'
       AND NOT EXISTS (SELECT 1 FROM billing.postings m JOIN billing.accounts ma ON ma.id = m.account_id AND ma.kind = 'merchant_payable'
                       WHERE m.transfer_id = t.id)
       -- A transfer to another operator's subscriber is that pair's inter-operator position (interop.ts), settled between them.
       AND NOT EXISTS (SELECT 1 FROM billing.interop_positions ip WHERE ip.debit_id = d.debit_id)
       AND t.created_at >= to_timestamp($2::double precision / 1000) AND t.created_at < to_timestamp($3::double precision / 1000)
     UNION ALL
     -- Payouts (credits.ts): the merchant's payable to a subscriber's wallet, in the window of that subscriber's operator.
     SELECT t.id, 'payout', t.currency, 'merchant:' || c.merchant_id || ':' || t.currency AS merchant_account,
          t.amount_minor::text AS payee, '0' AS fee, '0' AS share, 'wallet' AS funding
     FROM billing.credits c
     JOIN billing.transfers t ON t.id = c.transfer_id
     WHERE c.outcome = 'ok' AND c.source = 'merchant-payout' AND c.operator_id = $1
       AND c.created_at >= to_timestamp($2::double precision / 1000) AND c.created_at < to_timestamp($3::double precision / 1000)
   ) w
   WHERE id > $4
   ORDER BY id LIMIT $5`;

export class SettlementLedger {
  readonly #pool: Pool;
  readonly #ledger: Ledger;

  constructor(pool: Pool, ledger: Ledger) {
    this.#pool = pool;
    this.#ledger = ledger;
  }

  /**
   * Captures and refunds touching a merchant's payable, for debits of this operator, booked in
   * [from, to), each saying whether the debit was wallet-funded; and the captures into and refunds
   * out of this operator's airtime account (whoever the payer's operator); and the other captures
   * its carrier collected (carrier-funded airtime and transfers to a wallet, which pay no merchant),
   * under the id "<transfer id>#collected"; and the merchants' payouts to this operator's subscribers
   * (credits.ts: out of the merchant's payable, amount in payeeMinor). In one id order; the page's last id is the cursor.
   */
  async movements(request: dialpay.v1.ISettlementMovementsRequest): Promise<dialpay.v1.ISettlementMovementsReply> {
    const limit = Math.min(Math.max(request.limit || MOVEMENTS_PAGE_MAX, 1), MOVEMENTS_PAGE_MAX);
    const { rows } = await this.#pool.query<MovementRow>(
      MOVEMENTS_SQL,
      [request.operatorId ?? '', unixMsFromProto(request.fromUnixMs), unixMsFromProto(request.toUnixMs),
        request.afterTransferId ?? '', limit + 1],
    );
    const page = rows.slice(0, limit);
    return {
      available: true,
      more: rows.length > limit,
      movements: page.map(movementOf),
    };
  }

  /** Captured debits of an operator in [from, to), for reconciliation, in debit-id pages. */
  async charges(request: dialpay.v1.IChargesRequest): Promise<dialpay.v1.IChargesReply> {
    const limit = Math.min(Math.max(request.limit || MOVEMENTS_PAGE_MAX, 1), MOVEMENTS_PAGE_MAX);
    const { rows } = await this.#pool.query<{
      debit_id: string; carrier_ref: string | null; msisdn: string; currency: string; captured_minor: string; refunded: boolean; at: Date;
    }>(
      `SELECT d.debit_id, d.carrier_ref, d.msisdn, d.currency, d.captured_minor::text, t.created_at AS at,
              EXISTS (SELECT 1 FROM billing.refunds r WHERE r.debit_id = d.debit_id AND r.state = 'refunded') AS refunded
       FROM billing.debits d JOIN billing.transfers t ON t.id = 'capture:' || d.debit_id
       WHERE d.operator_id = $1 AND d.state = 'captured'
         -- A carrier-billed operator's wallet-funded debit never reached the carrier: nothing to match there;
         -- nor did a cash-in, paid by an agent's float in our ledger, on any operator.
         AND (d.funding = 'carrier' OR (d.adapter = 'wallet' AND d.funding = 'wallet'))
         AND t.created_at >= to_timestamp($2::double precision / 1000) AND t.created_at < to_timestamp($3::double precision / 1000)
         AND d.debit_id > $4
       ORDER BY d.debit_id LIMIT $5`,
      [request.operatorId ?? '', unixMsFromProto(request.fromUnixMs), unixMsFromProto(request.toUnixMs),
        request.afterDebitId ?? '', limit + 1],
    );
    return {
      available: true,
      more: rows.length > limit,
      charges: rows.slice(0, limit).map((r) => ({
        debitId: r.debit_id, carrierRef: r.carrier_ref ?? '', msisdn: r.msisdn,
        amount: moneyToProto({ amountMinor: BigInt(r.captured_minor), currency: r.currency }),
        status: r.refunded ? 'refunded' : 'captured', atUnixMs: unixMsToProto(r.at),
      })),
    };
  }

  /**
   * Moves each merchant's payout from payable to settled: the window's net, but never more than
   * the merchant's available balance (payable.ts: the payable less refunds claimed and not yet
   * booked; payouts to wallets have taken theirs already), so a debt carried from an earlier
   * window (refunds that outweighed its payments) is taken off this payout instead of being
   * forgotten. Idempotent: a transfer
   * already booked for this window and merchant is reported as it was booked.
   */
  async book(request: dialpay.v1.IBookSettlementRequest): Promise<dialpay.v1.IBookSettlementReply> {
    const windowId = request.windowId ?? '';
    const operatorId = request.operatorId ?? '';
    if (!windowId || !operatorId) return { ok: false, detail: 'window and operator are required' };
    const paidOut: dialpay.v1.ISettlementLine[] = [];
    for (const line of request.lines ?? []) {
      const net = moneyFromProto(line.netPayable);
      const merchantId = line.merchantId ?? '';
      const from = AccountIds.merchant(merchantId, net.currency);
      const to = AccountIds.merchantSettled(merchantId, net.currency);
      const id = `settle:${windowId}:${merchantId}:${net.currency}`;
      let payout = await this.#ledger.transferAmount(id);
      if (payout === null) {
        await this.#ledger.ensureAccount(from, 'merchant_payable', net.currency);
        await this.#ledger.ensureAccount(to, 'merchant_settled', net.currency);
        // Under the payable's lock (payable.ts), like a payout: the close never takes what a payout
        // took meanwhile, nor what refunds claimed and not yet booked will take.
        payout = await withTransaction(this.#pool, 'READ COMMITTED', async (client) => {
          await lockPayable(client, merchantId, net.currency, 'exclusive');
          const before = await this.#ledger.transferAmount(id, client);
          if (before !== null) return before; // a concurrent close of the same window booked it
          const { availableMinor } = await availableBalance(client, merchantId, net.currency);
          const amountMinor = net.amountMinor < availableMinor ? net.amountMinor : availableMinor;
          if (amountMinor <= 0n) return 0n;
          const [booked] = await this.#ledger.applyIn(client, [
            settlementTransfer({ id, windowId, currency: net.currency, amountMinor, fromAccountId: from, toAccountId: to }),
          ]);
          if (booked?.outcome !== 'applied' && booked?.outcome !== 'duplicate') {
            throw new Error(`settlement transfer ${id}: ${booked?.outcome}`);
          }
          return amountMinor;
        });
      }
      paidOut.push({ merchantId, netPayable: moneyToProto({ amountMinor: payout, currency: net.currency }) });
    }
    if (request.operatorShare) {
      const share = moneyFromProto(request.operatorShare);
      if (share.amountMinor > 0n) {
        await this.#ledger.ensureAccount(AccountIds.operatorShare(operatorId), 'operator_share', share.currency);
        await this.#ledger.ensureAccount(AccountIds.operatorSettled(operatorId), 'operator_settled', share.currency);
        await this.#apply(settlementTransfer({
          id: `settle:${windowId}:operator`, windowId, currency: share.currency, amountMinor: share.amountMinor,
          fromAccountId: AccountIds.operatorShare(operatorId), toAccountId: AccountIds.operatorSettled(operatorId),
        }));
      }
    }
    const toUnixMs = int64ToBigInt(request.toUnixMs);
    const airtimeSettled = request.airtimeOwed && toUnixMs > 0n
      ? moneyToProto(await this.#bookAirtime(windowId, operatorId, moneyFromProto(request.airtimeOwed).currency, toUnixMs))
      : null;
    return { ok: true, paidOut, airtimeSettled };
  }

  /**
   * The operator's airtime account to its settled account: what the account held at the window's
   * end, counting every settlement booked so far (whenever booked), never below zero. That is the
   * window's airtime net when earlier windows were settled; airtime from before any window settled
   * it (or a debt left by refusals that outweighed a window's airtime) is taken with it, so nothing
   * rests in the account for good and nothing is paid twice. Idempotent on the window.
   */
  async #bookAirtime(
    windowId: string, operatorId: string, currency: string, toUnixMs: bigint,
  ): Promise<{ amountMinor: bigint; currency: string }> {
    const id = `settle:${windowId}:operator:airtime`;
    const bookedAs = () => this.#ledger.transferAmount(id);
    const before = await bookedAs();
    if (before !== null) return { amountMinor: before, currency };
    const from = AccountIds.airtime(operatorId, currency);
    const to = AccountIds.operatorSettled(operatorId);
    await this.#ledger.ensureAccount(from, 'airtime_payable', currency);
    await this.#ledger.ensureAccount(to, 'operator_settled', currency);
    // One booking of this account at a time (any billing instance): two windows closed at once
    // must each see the other's settlement, or both would move the same airtime.
    const lock = await this.#pool.connect();
    try {
      await lock.query('SELECT pg_advisory_lock(hashtext($1))', [`settle:${from}`]);
      if ((await bookedAs()) === null) {
        const { rows } = await lock.query<{ held: string }>(
          `SELECT COALESCE(SUM(p.amount_minor), 0)::text AS held FROM billing.postings p JOIN billing.transfers t ON t.id = p.transfer_id
           WHERE p.account_id = $1 AND (t.created_at < to_timestamp($2::double precision / 1000) OR t.id LIKE 'settle:%')`,
          [from, Number(toUnixMs)],
        );
        const held = BigInt(rows[0]?.held ?? '0');
        if (held > 0n) {
          await this.#apply(settlementTransfer({ id, windowId, currency, amountMinor: held, fromAccountId: from, toAccountId: to }));
        }
      }
    } finally {
      // A connection that could not unlock may still hold the lock: it is closed, not pooled.
      const unlocked = await lock.query('SELECT pg_advisory_unlock(hashtext($1))', [`settle:${from}`])
        .then(() => true, () => false);
      lock.release(!unlocked);
    }
    return { amountMinor: (await bookedAs()) ?? 0n, currency };
  }

  async #apply(transfer: Parameters<Ledger['apply']>[0]): Promise<void> {
    const booked = await this.#ledger.apply(transfer);
    if (booked.outcome !== 'applied' && booked.outcome !== 'duplicate') {
      throw new Error(`settlement transfer ${transfer.id}: ${booked.outcome}`);
    }
  }
}

/** A movement row as settlement reads it. */
function movementOf(r: MovementRow): dialpay.v1.ISettlementMovement {
  const payee = BigInt(r.payee);
  if (r.kind === 'airtime') return { transferId: r.id, kind: r.kind, currency: r.currency, grossMinor: bigIntToInt64(payee) };
  if (r.kind === 'airtime_refund') {
    return { transferId: r.id, kind: r.kind, currency: r.currency, refundMinor: bigIntToInt64(payee) };
  }
  if (r.kind === 'collected') return { transferId: r.id, kind: r.kind, currency: r.currency, grossMinor: bigIntToInt64(payee) };
  // "merchant:<id>:<currency>": the merchant is the middle.
  const merchantId = r.merchant_account.slice('merchant:'.length, r.merchant_account.length - r.currency.length - 1);
  if (r.kind === 'payout') {
    return { transferId: r.id, kind: r.kind, merchantId, currency: r.currency, payeeMinor: bigIntToInt64(payee), walletFunded: true };
  }
  const fee = BigInt(r.fee);
  const share = BigInt(r.share);
  const walletFunded = r.funding === 'wallet';
  return r.kind === 'capture'
    ? {
      transferId: r.id, kind: 'capture', merchantId, currency: r.currency, grossMinor: bigIntToInt64(payee + fee + share),
      feeMinor: bigIntToInt64(fee), operatorShareMinor: bigIntToInt64(share), payeeMinor: bigIntToInt64(payee), walletFunded,
    }
    : { transferId: r.id, kind: 'refund', merchantId, currency: r.currency, refundMinor: bigIntToInt64(-payee), walletFunded };
}
