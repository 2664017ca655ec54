// A credit's CreditRequested (credit.proto), built from its payments.credits row: the first ask
// (credits.ts) and the sweep's asks again (credit-retries.ts) send the same request.
import type pg from 'pg';
import { dialpay, moneyToProto } from '../../proto/index.js';
import { Events } from '../../runtime/nats/index.js';
import { emitEvent } from '../../runtime/pg/index.js';
import type { CreditRow } from './credits-store.js';
import type { PaymentEngine } from './engine.js';
import { OUTBOX } from './outbox.js';
import * as store from './store.js';
import { tierOf } from './limits.js';

const { CreditSource } = dialpay.v1;

/**
 * The cap on the subscriber's wallet, from their KYC tier (null: none). The subscriber may be unknown
 * to us yet: tier 0's cap.
 */
export async function walletMaxOf(e: PaymentEngine, client: pg.ClientBase, msisdn: string): Promise<bigint | null> {
  return tierOf(e.config, (await store.readSubscriber(client, msisdn))?.kyc_tier).walletBalanceMaxMinor ?? null;
}

/** The request through the outbox, in the caller's transaction, under `eventId` (a new one for each ask). */
export async function requestCredit(
  client: pg.ClientBase, row: CreditRow, walletMaxMinor: bigint | null, eventId: string,
): Promise<void> {
  const amount = { amountMinor: BigInt(row.amount_minor), currency: row.currency };
  await emitEvent(client, OUTBOX, Events.creditRequested, { eventId, correlationId: row.credit_id }, {
    creditId: row.credit_id,
    source: row.source === 'merchant-payout' ? CreditSource.CREDIT_SOURCE_MERCHANT_PAYOUT : CreditSource.CREDIT_SOURCE_OPERATOR_DEPOSIT,
    operatorId: row.operator_id, merchantId: row.merchant_id ?? '', msisdn: row.msisdn, amount: moneyToProto(amount),
    reference: row.reference,
    ...(walletMaxMinor !== null ? { walletMax: moneyToProto({ amountMinor: walletMaxMinor, currency: row.currency }) } : {}),
  });
}
