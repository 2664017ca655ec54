// Payment outcomes and the confirmation-to-receipt latency (the DESIGN target:
// p99 <= 250 ms). Recorded only once the transaction that ended the payment
// commits, so a rolled-back and retried step is not counted twice.
import type pg from 'pg';
import { Counter, Histogram, LATENCY_BUCKETS_SECONDS, type Registry } from '../../runtime/metrics.js';
import { onAfterCommit } from '../../runtime/pg/index.js';
import { SimSwapMetrics } from './sim-swap.js';

export interface EndedPayment {
  readonly channel: string;
  readonly outcome: 'completed' | 'failed';
  /** The failure reason (state.ts FailureReason), or null for a completed payment. */
  readonly reason: string | null;
  /** When the payer's confirmation started the capture, for a completed payment the payer confirmed; else null. */
  readonly confirmedAt: Date | null;
}

export class PaymentsMetrics {
  readonly outcomes: Counter<'channel' | 'outcome' | 'reason'>;
  readonly confirmationToReceiptSeconds: Histogram<'channel'>;
  readonly codeLockouts: Counter<never>;
  readonly riskDecisions: Counter<'rule' | 'outcome'>;
  readonly riskHolds: Counter<'rule'>;
  readonly riskHoldsExpired: Counter<'rule'>;
  /** The SIM-swap checks payments skips (sim-swap.ts). */
  readonly simSwap: SimSwapMetrics;
  readonly creditsAskedAgain: Counter<'kind'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.outcomes = new Counter({
      name: 'dialpay_payments_outcomes_total',
      help: 'Payments that ended, by channel (sms, ussd, api), outcome (completed, failed) and failure reason (none when completed).',
      labelNames: ['channel', 'outcome', 'reason'],
      registers,
    });
    // LATENCY_BUCKETS_SECONDS has a 0.25 bucket: the SLO alert reads it directly.
    this.confirmationToReceiptSeconds = new Histogram({
      name: 'dialpay_payments_confirmation_to_receipt_seconds',
      help: 'Time from handling the payer\'s confirmation (YES, PIN or USSD confirm) to committing the receipts, '
        + 'for payments the payer confirmed.',
      labelNames: ['channel'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.codeLockouts = new Counter({
      name: 'dialpay_payments_code_lockouts_total',
      help: 'Subscribers whose confirmations by code were locked after too many wrong codes over their open challenges.',
      registers,
    });
    this.simSwap = new SimSwapMetrics(registry);
    this.riskDecisions = new Counter({
      name: 'dialpay_risk_decisions_total',
      help: 'Risk rules evaluated at a payment\'s start (risk-rules.ts), by rule and outcome (allow, hold).',
      labelNames: ['rule', 'outcome'],
      registers,
    });
    this.riskHolds = new Counter({
      name: 'dialpay_risk_holds_total',
      help: 'Payments held for customer care, by the rule that held them (payments\' rules, or billing\'s such as sim-swap).',
      labelNames: ['rule'],
      registers,
    });
    this.riskHoldsExpired = new Counter({
      name: 'dialpay_risk_holds_expired_total',
      help: 'Held payments customer care did not review within risk.holdTtlMs (failed, the payer told), by rule.',
      labelNames: ['rule'],
      registers,
    });
    this.creditsAskedAgain = new Counter({
      name: 'dialpay_payments_credits_asked_again_total',
      help: 'Credits (kind credit: deposits and payouts; kind reversal) billing had not answered, asked of billing again by the sweep.',
      labelNames: ['kind'],
      registers,
    });
  }

  /** Call inside the transaction that opened the payment (or not): each rule's decision. */
  riskDecided(client: pg.ClientBase, rule: string, outcome: 'allow' | 'hold'): void {
    onAfterCommit(client, () => this.riskDecisions.inc({ rule, outcome }));
  }

  /** Call inside the transaction that held the payment. */
  held(client: pg.ClientBase, rule: string): void {
    onAfterCommit(client, () => this.riskHolds.inc({ rule }));
  }

  /** Call inside the transaction that failed the unreviewed hold. */
  holdExpired(client: pg.ClientBase, rule: string): void {
    onAfterCommit(client, () => this.riskHoldsExpired.inc({ rule }));
  }

  /** Call inside the transaction that set the lockout. */
  codeLocked(client: pg.ClientBase): void {
    onAfterCommit(client, () => this.codeLockouts.inc());
  }

  /** Call inside the sweep's transaction that asked again. */
  askedAgain(client: pg.ClientBase, kind: 'credit' | 'reversal', count: number): void {
    if (count > 0) onAfterCommit(client, () => this.creditsAskedAgain.inc({ kind }, count));
  }

  /** Call inside the transaction that ends the payment. */
  ended(client: pg.ClientBase, payment: EndedPayment): void {
    onAfterCommit(client, () => {
      this.outcomes.inc({ channel: payment.channel, outcome: payment.outcome, reason: payment.reason ?? 'none' });
      if (payment.confirmedAt) {
        const confirmedAgoMs = Math.max(0, Date.now() - payment.confirmedAt.getTime());
        this.confirmationToReceiptSeconds.observe({ channel: payment.channel }, confirmedAgoMs / 1000);
      }
    });
  }
}
