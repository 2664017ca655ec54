// The durable consumers payments reads (on the shared streams of runtime/nats/topology.ts);
// the runtime provisions them and grants payments' NATS user access to them.
import type { ConsumerSpec } from '../../runtime/nats/topology.js';

/** SMS_INBOUND is a work queue: this is its one consumer. */
export const PAYMENTS_SMS_INBOUND: ConsumerSpec = {
  stream: 'SMS_INBOUND', durableName: 'payments-sms-inbound', filterSubject: 'dialpay.sms.inbound',
  ackWaitMs: 30_000, deliveriesMax: 10, ackPendingMax: 5_000,
};

const debitResults = (step: 'reserve' | 'capture' | 'void' | 'refund' | 'credit'): ConsumerSpec => ({
  stream: 'DEBITS', durableName: `payments-${step}-result`, filterSubject: `dialpay.debit.${step}.result`,
  ackWaitMs: 30_000, deliveriesMax: 10, ackPendingMax: 5_000,
});
export const PAYMENTS_RESERVE_RESULT = debitResults('reserve');
export const PAYMENTS_CAPTURE_RESULT = debitResults('capture');
export const PAYMENTS_VOID_RESULT = debitResults('void');
export const PAYMENTS_REFUND_RESULT = debitResults('refund');
export const PAYMENTS_CREDIT_RESULT = debitResults('credit');

export const PAYMENTS_CONSUMERS: readonly ConsumerSpec[] = [
  PAYMENTS_SMS_INBOUND, PAYMENTS_RESERVE_RESULT, PAYMENTS_CAPTURE_RESULT, PAYMENTS_VOID_RESULT, PAYMENTS_REFUND_RESULT,
  PAYMENTS_CREDIT_RESULT,
];
