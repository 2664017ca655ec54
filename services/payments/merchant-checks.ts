// Checks shared by the merchant API's payment requests and mandates: whose
// number it is, and the bounds on what merchants may ask of one subscriber.
import type pg from 'pg';
import { dialpay } from '../../proto/index.js';
import type { MerchantConfig, OperatorConfig } from '../../runtime/config/index.js';
import { numberBelongsTo, toE164 } from '../../runtime/msisdn.js';
import { merchantRequestRefusal, MerchantRequestRefusal } from './merchant-requests.js';
import { merchantRequestCounts } from './merchant-requests-store.js';
import type { PaymentEngine } from './engine.js';

const MerchantError = dialpay.v1.MerchantError;

/** What a merchant hears when the payer's limits, PIN or payee rules refuse: nothing about the payer's figures. */
export const MERCHANT_REFUSAL = 'this payer cannot make this payment now (a limit or the payer\'s account)';

/** The payer's operator: one this merchant is served by, in this currency, whose number ranges hold the number. */
export function payerOfMerchant(
  engine: PaymentEngine, merchant: MerchantConfig, msisdnText: string, currency: string,
): { operator: OperatorConfig; msisdn: string } | null {
  for (const id of merchant.operatorIds) {
    const operator = engine.operators.get(id);
    const msisdn = operator ? toE164(msisdnText, operator.countryCallingCode) : null;
    if (operator && msisdn && numberBelongsTo(operator, msisdn, engine.config.operators) && operator.currency === currency) {
      return { operator, msisdn };
    }
  }
  return null;
}

/**
 * The bounds on what merchants may start for one subscriber before they answer
 * (merchant-requests.ts). Called under the subscriber's lock, so two requests at once cannot
 * both take the last place.
 */
export async function merchantRequestRefused(
  engine: PaymentEngine, client: pg.PoolClient, msisdn: string, merchantId: string,
): Promise<dialpay.v1.IMerchantCommandReply | null> {
  const counts = await merchantRequestCounts(client, msisdn, merchantId);
  const limits = engine.config.limits;
  const bounds = {
    openPerMerchantMax: limits.merchantOpenRequestsPerSubscriberMax, openTotalMax: limits.merchantOpenRequestsPerSubscriberTotalMax,
    unansweredPerDayMax: limits.merchantUnansweredRequestsPerDayMax,
  };
  switch (merchantRequestRefusal(counts, bounds)) {
    case null: return null;
    case MerchantRequestRefusal.OPEN_PER_MERCHANT:
      return { error: MerchantError.MERCHANT_ERROR_TOO_MANY_OPEN,
        detail: `${bounds.openPerMerchantMax} requests to this payer already await their answer; one must end first` };
    case MerchantRequestRefusal.OPEN_TOTAL:
      return { error: MerchantError.MERCHANT_ERROR_TOO_MANY_OPEN,
        detail: 'this payer already has as many requests awaiting their answer as they may; one must end first' };
    case MerchantRequestRefusal.UNANSWERED:
      return { error: MerchantError.MERCHANT_ERROR_TOO_MANY_UNANSWERED,
        detail: `${bounds.unansweredPerDayMax} requests to this payer expired unanswered in the last 24 hours; try again later` };
  }
}
