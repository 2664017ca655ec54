// The reconciliation matcher, pure: the ledger's charges on one side, the
// operator's charging records on the other. A record is matched first on our
// correlator (the debit id we gave the carrier: CAMARA's clientCorrelator),
// then on the carrier's own id for it (CAMARA's paymentId, which billing keeps
// as the debit's carrier_ref; an operator's file may carry it as its
// transaction id or in the correlator column), then, when the operator's
// file has none of these, on MSISDN + amount + currency within a
// time tolerance (the closest in time wins). Whatever does not pair up is a
// finding. Memory: the ledger side is indexed (it is ours and bounded by the
// window); the operator side is consumed one record at a time, so a file of
// any length streams through.

export interface LedgerCharge {
  /** Our correlator: the debit id the carrier saw. */
  readonly correlator: string;
  /** The carrier's own id for the charge (CAMARA paymentId), when it has one. */
  readonly carrierRef?: string;
  readonly msisdn: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly status: 'captured' | 'refunded';
  readonly atMs: number;
}

export interface OperatorRecord {
  /** Where it is in the file, for the report. */
  readonly line: number;
  readonly carrierTxId: string;
  /** Empty when the operator's file does not carry it. */
  readonly correlator: string;
  readonly msisdn: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly status: 'charged' | 'refunded' | 'failed';
  readonly chargedAtMs: number;
}

export type Finding =
  | { readonly category: 'matched'; readonly by: MatchedBy; readonly ledger: LedgerCharge; readonly operator: OperatorRecord }
  | { readonly category: 'amount_mismatch'; readonly ledger: LedgerCharge; readonly operator: OperatorRecord }
  | { readonly category: 'status_mismatch'; readonly ledger: LedgerCharge; readonly operator: OperatorRecord }
  | { readonly category: 'missing_at_operator'; readonly ledger: LedgerCharge }
  | { readonly category: 'missing_in_ledger'; readonly operator: OperatorRecord }
  | { readonly category: 'duplicate'; readonly side: 'ledger'; readonly ledger: LedgerCharge }
  | { readonly category: 'duplicate'; readonly side: 'operator'; readonly operator: OperatorRecord };

export type Category = Finding['category'];
export type MatchedBy = 'correlator' | 'carrier-ref' | 'msisdn-amount-time';

const STATUS_PAIRS: Readonly<Record<LedgerCharge['status'], OperatorRecord['status']>> = { captured: 'charged', refunded: 'refunded' };

const fallbackKey = (msisdn: string, amountMinor: bigint, currency: string) => `${msisdn}|${amountMinor}|${currency}`;

export class Matcher {
  readonly #toleranceMs: number;
  readonly #byCorrelator = new Map<string, { charge: LedgerCharge; matched: boolean }>();
  readonly #byCarrierRef = new Map<string, { charge: LedgerCharge; matched: boolean }>();
  readonly #byFallback = new Map<string, { charge: LedgerCharge; matched: boolean }[]>();
  readonly #seenCarrierTx = new Set<string>();
  #finished = false;

  constructor(options: { toleranceMs: number }) {
    if (!(options.toleranceMs >= 0)) throw new RangeError('toleranceMs must be zero or more');
    this.#toleranceMs = options.toleranceMs;
  }

  /** Adds one of our charges; all of them come before the operator's records. */
  addLedger(charge: LedgerCharge): Finding[] {
    if (this.#seenCarrierTx.size > 0 || this.#finished) throw new Error('ledger charges must all be added before the operator records');
    if (this.#byCorrelator.has(charge.correlator)) return [{ category: 'duplicate', side: 'ledger', ledger: charge }];
    const entry = { charge, matched: false };
    this.#byCorrelator.set(charge.correlator, entry);
    if (charge.carrierRef) this.#byCarrierRef.set(charge.carrierRef, entry);
    const key = fallbackKey(charge.msisdn, charge.amountMinor, charge.currency);
    const list = this.#byFallback.get(key);
    if (list) list.push(entry);
    else this.#byFallback.set(key, [entry]);
    return [];
  }

  /** Matches one operator record; its findings at once (the ledger's leftovers come from finish()). */
  addOperator(record: OperatorRecord): Finding[] {
    if (this.#finished) throw new Error('the matcher is finished');
    if (this.#seenCarrierTx.has(record.carrierTxId)) return [{ category: 'duplicate', side: 'operator', operator: record }];
    this.#seenCarrierTx.add(record.carrierTxId);
    const byCorrelator = record.correlator ? this.#byCorrelator.get(record.correlator) : undefined;
    const byCarrierRef = byCorrelator ? undefined
      : (this.#byCarrierRef.get(record.carrierTxId) ?? (record.correlator ? this.#byCarrierRef.get(record.correlator) : undefined));
    const byId = byCorrelator ?? byCarrierRef;
    if (byId) {
      // The same charge a second time under another carrier id: the carrier charged twice.
      if (byId.matched) return [{ category: 'duplicate', side: 'operator', operator: record }];
      byId.matched = true;
      return [this.#compare(byId.charge, record, byCorrelator ? 'correlator' : 'carrier-ref')];
    }
    const candidates = this.#byFallback.get(fallbackKey(record.msisdn, record.amountMinor, record.currency)) ?? [];
    let best: { charge: LedgerCharge; matched: boolean } | null = null;
    for (const c of candidates) {
      if (c.matched) continue;
      const gap = Math.abs(c.charge.atMs - record.chargedAtMs);
      if (gap <= this.#toleranceMs && (!best || gap < Math.abs(best.charge.atMs - record.chargedAtMs))) best = c;
    }
    if (!best) return [{ category: 'missing_in_ledger', operator: record }];
    best.matched = true;
    return [this.#compare(best.charge, record, 'msisdn-amount-time')];
  }

  /** Our charges the operator's file never mentioned. */
  finish(): Finding[] {
    this.#finished = true;
    const missing: Finding[] = [];
    for (const { charge, matched } of this.#byCorrelator.values()) {
      if (!matched) missing.push({ category: 'missing_at_operator', ledger: charge });
    }
    return missing;
  }

  #compare(ledger: LedgerCharge, operator: OperatorRecord, by: MatchedBy): Finding {
    if (ledger.amountMinor !== operator.amountMinor || ledger.currency !== operator.currency) {
      return { category: 'amount_mismatch', ledger, operator };
    }
    if (STATUS_PAIRS[ledger.status] !== operator.status) return { category: 'status_mismatch', ledger, operator };
    return { category: 'matched', by, ledger, operator };
  }
}

/** Counts per category, every category present (zeros included), for reports and metrics. */
export function tally(findings: Iterable<Finding>): Record<Category, number> {
  const counts: Record<Category, number> = {
    matched: 0, amount_mismatch: 0, status_mismatch: 0, missing_at_operator: 0, missing_in_ledger: 0, duplicate: 0,
  };
  for (const f of findings) counts[f.category]++;
  return counts;
}
