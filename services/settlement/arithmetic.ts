// Settlement arithmetic, pure: what each merchant is paid and what each
// operator owes and is owed for one window, from the ledger's movements in
// it. No rounding happens here: every fee and share was rounded once, per
// payment, when it was booked (services/payments/fees.ts); a window only adds
// whole minor units, so the batch always adds up to the ledger.
//
// A movement belongs to the window its ledger time falls in: a refund made
// on Tuesday for Monday's payment comes off Tuesday's batch. A merchant's payout
// to a subscriber's wallet comes off the net of the window of that subscriber's
// operator, like a refund.
//
// What the operator owes is what its carrier collected: every carrier-funded capture (a merchant
// payment, airtime, a transfer to a wallet) less the merchant refunds it paid back. A debit funded
// from the payer's dialpay wallet never reached the carrier (and its refund goes back to the
// wallet), so it is not in it.
// What it is owed is its revenue share, and the airtime it credited to its lines: the window's
// airtime captures less the top-ups it refused (refunded to the payer's wallet).

export interface CaptureMovement {
  readonly kind: 'capture';
  readonly merchantId: string;
  readonly currency: string;
  /** What the payer paid. */
  readonly grossMinor: bigint;
  readonly feeMinor: bigint;
  readonly operatorShareMinor: bigint;
  /** What the merchant's payable was credited: gross - fee - share. */
  readonly payeeMinor: bigint;
  /** Paid from the payer's dialpay wallet: the carrier collected none of it. */
  readonly walletFunded?: boolean;
}

export interface RefundMovement {
  readonly kind: 'refund';
  readonly merchantId: string;
  readonly currency: string;
  /** Taken back from the merchant's payable and given to the payer. */
  readonly refundMinor: bigint;
  /** A refund of a wallet-funded debit: back to the wallet, not paid back by the carrier. */
  readonly walletFunded?: boolean;
}

/** Airtime captured into this operator's airtime account (what we owe it for airtime it credits). */
export interface AirtimeMovement {
  readonly kind: 'airtime';
  readonly currency: string;
  readonly amountMinor: bigint;
}

/** A top-up the operator refused after the capture: back out of its airtime account to the payer's wallet. */
export interface AirtimeRefundMovement {
  readonly kind: 'airtime_refund';
  readonly currency: string;
  readonly amountMinor: bigint;
}

/**
 * A carrier-funded capture that paid no merchant (airtime, a transfer to a wallet): the carrier
 * charged its subscriber for it, so it collected it for us. Any refund of it goes to a wallet.
 */
export interface CollectedMovement {
  readonly kind: 'collected';
  readonly currency: string;
  readonly amountMinor: bigint;
}

/**
 * A merchant's payout to a subscriber's wallet (billing's credits.ts): out of its payable, so off
 * the window's net. Ledger-only: no carrier collected or paid anything for it.
 */
export interface PayoutMovement {
  readonly kind: 'payout';
  readonly merchantId: string;
  readonly currency: string;
  readonly amountMinor: bigint;
}

export type Movement = CaptureMovement | RefundMovement | AirtimeMovement | AirtimeRefundMovement | CollectedMovement | PayoutMovement;

export interface MerchantLine {
  readonly merchantId: string;
  readonly currency: string;
  readonly payments: number;
  readonly refunds: number;
  readonly grossMinor: bigint;
  readonly refundsMinor: bigint;
  readonly feesMinor: bigint;
  readonly operatorShareMinor: bigint;
  /** Payouts to subscribers' wallets the merchant made from its payable in the window; absent when none. */
  readonly payouts?: number;
  readonly payoutsMinor?: bigint;
  /** Paid out for this window; negative when refunds outweigh the window's payments (carried to the next). */
  readonly netPayableMinor: bigint;
}

export interface OperatorTotals {
  readonly currency: string;
  /** The carrier collected this from subscribers for us (carrier-funded captures, merchant or not, less merchant refunds it paid back). */
  readonly owesMinor: bigint;
  /** Its revenue share of the window's payments. */
  readonly owedMinor: bigint;
  /** Airtime it credited to its lines: the window's airtime captures less refused top-ups; negative when refusals outweigh them. */
  readonly airtimeOwedMinor: bigint;
}

export interface Batch {
  readonly merchants: readonly MerchantLine[];
  readonly operator: OperatorTotals;
}

export class SettlementArithmeticError extends Error {
  override readonly name = 'SettlementArithmeticError';
}

export function settle(currency: string, movements: Iterable<Movement>): Batch {
  const lines = new Map<string, {
    payments: number; refunds: number; gross: bigint; refundsTotal: bigint; fees: bigint; share: bigint; payee: bigint;
    payouts: number; payoutsTotal: bigint;
  }>();
  let walletGross = 0n;
  let walletRefunds = 0n;
  let airtime = 0n;
  let collected = 0n;
  for (const m of movements) {
    if (m.currency !== currency) throw new SettlementArithmeticError(`a ${m.currency} movement in a ${currency} window`);
    if (m.kind === 'airtime' || m.kind === 'airtime_refund') {
      if (m.amountMinor <= 0n) throw new SettlementArithmeticError(`${m.kind} movement that is not positive`);
      airtime += m.kind === 'airtime' ? m.amountMinor : -m.amountMinor;
      continue;
    }
    if (m.kind === 'collected') {
      if (m.amountMinor <= 0n) throw new SettlementArithmeticError('collected movement that is not positive');
      collected += m.amountMinor;
      continue;
    }
    const line = lines.get(m.merchantId)
      ?? { payments: 0, refunds: 0, gross: 0n, refundsTotal: 0n, fees: 0n, share: 0n, payee: 0n, payouts: 0, payoutsTotal: 0n };
    if (m.kind === 'payout') {
      if (m.amountMinor <= 0n) throw new SettlementArithmeticError(`payout for ${m.merchantId} that is not positive`);
      line.payouts++;
      line.payoutsTotal += m.amountMinor;
    } else if (m.kind === 'capture') {
      if (m.grossMinor <= 0n || m.feeMinor < 0n || m.operatorShareMinor < 0n || m.payeeMinor < 0n) {
        throw new SettlementArithmeticError(`capture for ${m.merchantId} with a negative part`);
      }
      // The invariant every booked capture keeps; a movement that breaks it is not ours to pay out.
      if (m.feeMinor + m.operatorShareMinor + m.payeeMinor !== m.grossMinor) {
        throw new SettlementArithmeticError(`capture for ${m.merchantId} whose parts do not add up to its gross`);
      }
      line.payments++;
      line.gross += m.grossMinor;
      line.fees += m.feeMinor;
      line.share += m.operatorShareMinor;
      line.payee += m.payeeMinor;
      if (m.walletFunded) walletGross += m.grossMinor;
    } else {
      if (m.refundMinor <= 0n) throw new SettlementArithmeticError(`refund for ${m.merchantId} that is not positive`);
      line.refunds++;
      line.refundsTotal += m.refundMinor;
      if (m.walletFunded) walletRefunds += m.refundMinor;
    }
    lines.set(m.merchantId, line);
  }
  const merchants = [...lines.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([merchantId, l]): MerchantLine => ({
      merchantId, currency, payments: l.payments, refunds: l.refunds, grossMinor: l.gross, refundsMinor: l.refundsTotal, feesMinor: l.fees,
      operatorShareMinor: l.share, netPayableMinor: l.payee - l.refundsTotal - l.payoutsTotal,
      ...(l.payouts > 0 ? { payouts: l.payouts, payoutsMinor: l.payoutsTotal } : {}),
    }));
  const gross = merchants.reduce((s, l) => s + l.grossMinor, 0n);
  const refunds = merchants.reduce((s, l) => s + l.refundsMinor, 0n);
  const share = merchants.reduce((s, l) => s + l.operatorShareMinor, 0n);
  return {
    merchants,
    operator: {
      currency, owesMinor: gross - walletGross - (refunds - walletRefunds) + collected, owedMinor: share, airtimeOwedMinor: airtime,
    },
  };
}

/**
 * The batch as CSV, one merchant a line, amounts in minor units (the header names them). When a
 * merchant made payouts to wallets in the window, payouts and payouts_minor columns follow (the
 * net is after them). With `paidOutMinor` (what billing actually moved to settled), a
 * paid_out_minor column follows.
 */
export function batchCsv(windowId: string, batch: Batch, paidOutMinor?: Readonly<Record<string, bigint>>): string {
  const payouts = batch.merchants.some((l) => (l.payouts ?? 0) > 0);
  const header = 'window,merchant_id,currency,payments,refunds,gross_minor,refunds_minor,fees_minor,'
    + 'operator_share_minor,net_payable_minor'
    + `${payouts ? ',payouts,payouts_minor' : ''}${paidOutMinor ? ',paid_out_minor' : ''}`;
  const rows = batch.merchants.map((l) =>
    [windowId, l.merchantId, l.currency, l.payments, l.refunds, l.grossMinor, l.refundsMinor, l.feesMinor, l.operatorShareMinor,
      l.netPayableMinor,
      ...(payouts ? [l.payouts ?? 0, l.payoutsMinor ?? 0n] : []), ...(paidOutMinor ? [paidOutMinor[l.merchantId] ?? 0n] : [])].join(','));
  return `${[header, ...rows].join('\n')}\n`;
}

/**
 * The operator's side of the batch as CSV, one line: what it owes (its carrier collected), what it
 * is owed (revenue share, airtime), and with `airtimeSettledMinor` what billing moved for airtime.
 */
export function operatorCsv(windowId: string, operatorId: string, batch: Batch, airtimeSettledMinor?: bigint): string {
  const o = batch.operator;
  const header = 'window,operator_id,currency,owes_minor,owed_minor,airtime_owed_minor'
    + (airtimeSettledMinor === undefined ? '' : ',airtime_settled_minor');
  const row = [windowId, operatorId, o.currency, o.owesMinor, o.owedMinor, o.airtimeOwedMinor,
    ...(airtimeSettledMinor === undefined ? [] : [airtimeSettledMinor])].join(',');
  return `${header}\n${row}\n`;
}
