// The durable consumers billing reads (on the shared DEBITS stream of runtime/nats/topology.ts);
// the runtime provisions them and grants billing's NATS user access to them.
import type { ConsumerSpec } from '../../runtime/nats/topology.js';

const billingDebits = (step: 'reserve' | 'capture' | 'void' | 'refund' | 'credit'): ConsumerSpec => ({
  stream: 'DEBITS',
  durableName: `billing-debit-${step}`,
  filterSubject: `dialpay.debit.${step}.requested`,
  ackWaitMs: 30_000,
  deliveriesMax: 10,
  ackPendingMax: 5_000,
});
export const BILLING_DEBIT_RESERVE = billingDebits('reserve');
export const BILLING_DEBIT_CAPTURE = billingDebits('capture');
export const BILLING_DEBIT_VOID = billingDebits('void');
export const BILLING_DEBIT_REFUND = billingDebits('refund');
/** Operator deposits and merchant payouts into wallets (credit.proto). */
export const BILLING_CREDIT = billingDebits('credit');

export const BILLING_CONSUMERS: readonly ConsumerSpec[] = [
  BILLING_DEBIT_RESERVE, BILLING_DEBIT_CAPTURE, BILLING_DEBIT_VOID, BILLING_DEBIT_REFUND, BILLING_CREDIT,
];
