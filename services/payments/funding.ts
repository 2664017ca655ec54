// Where a payment's money comes from, as payments tells the payer: the dialpay
// wallet (our ledger; billing draws on it first when it covers the amount) or
// the carrier account. The USSD path asks billing the wallet's balance before
// its transaction (like BAL, outside any row lock) so its confirmation screen
// can promise a source; SMS lets billing choose and says which in the challenge.
import { moneyFromProto, type Funding } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { Requests, requestReply } from '../../runtime/nats/index.js';
import type { Language } from '../../runtime/language.js';
import type { PaymentEngine } from './engine.js';

/** How long the USSD path waits for the wallet's balance before promising nothing. */
const WALLET_TIMEOUT_MS = 1_000;

/**
 * The source to promise for `amountMinor`: a wallet-model operator's payments are all
 * wallet-funded; elsewhere the wallet if its balance covers the amount, else the carrier.
 * Null when billing did not answer in time: the payment then goes wallet-first without a promise.
 */
export async function promisedFunding(
  e: PaymentEngine, operator: OperatorConfig, msisdn: string, amountMinor: bigint,
): Promise<Funding | null> {
  if (operator.billingAdapter === 'wallet') return 'wallet';
  try {
    const reply = await requestReply(e.nc, Requests.billingBalance,
      { operatorId: operator.id, msisdn, walletOnly: true }, WALLET_TIMEOUT_MS);
    if (!reply.available || !reply.wallet) return null;
    return moneyFromProto(reply.wallet).amountMinor >= amountMinor ? 'wallet' : 'carrier';
  } catch (err) {
    e.log.warn({ err }, 'wallet balance unanswered; the payment goes wallet-first without a promise');
    return null;
  }
}

/**
 * What the account that will pay holds, asked of billing before a USSD cash payment's transaction
 * (cash.ts refuses one it cannot cover before anything is reserved): the payer's wallet, or with
 * `agentId` that agent's float. Null when billing did not answer in time: billing's reserve decides.
 */
export async function balanceBefore(
  e: PaymentEngine, operator: OperatorConfig, msisdn: string, agentId: string | null,
): Promise<bigint | null> {
  try {
    const reply = await requestReply(e.nc, Requests.billingBalance,
      { operatorId: operator.id, msisdn, walletOnly: true, agentId: agentId ?? '' }, WALLET_TIMEOUT_MS);
    return reply.available && reply.wallet ? moneyFromProto(reply.wallet).amountMinor : null;
  } catch (err) {
    e.log.warn({ err }, 'balance unanswered; billing\'s reserve decides');
    return null;
  }
}

/** The challenge's line saying where the money comes from; empty when not known. */
export function sourceText(funding: Funding | null, operatorName: string, language: Language): string {
  if (funding === 'wallet') return language === 'fr' ? 'Depuis votre portefeuille dialpay.' : 'From your dialpay wallet.';
  if (funding === 'carrier') {
    return language === 'fr' ? `Debite sur votre compte ${operatorName}.` : `Charged to your ${operatorName} account.`;
  }
  return '';
}
