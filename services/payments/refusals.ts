// Payments' refusals: every "no" a subscriber or an agent reads, by a stable
// code, with whether the same request may go through if sent again later,
// unchanged (retryable), and its text in each language. Request refusals come
// before anything is reserved; failures end a payment that had started.
// README.md's "Refusals" table lists them (test/unit/payments/refusals.test.ts).
import { formatAmount } from '../../runtime/money.js';
import type { Language } from '../../runtime/language.js';
import { FailureReason, type FailureReasonValue } from './state.js';
import { LimitKind, type LimitKindValue } from './limits.js';

type Args = Readonly<Record<string, string>>;
type Texts = Readonly<Record<Language, (a: Args) => string>>;
type Phrase = Readonly<Record<Language, string>>;

export interface Refusal {
  readonly retryable: boolean;
  readonly text: Texts;
}

const refused = (retryable: boolean, en: (a: Args) => string, fr: (a: Args) => string): Refusal => ({ retryable, text: { en, fr } });

/** A started payment that failed: why, in the payer's receipt frame. */
const failed = (retryable: boolean, why: Phrase): Refusal & { why: Phrase } => ({
  retryable, why,
  text: {
    en: (a) => `Payment of ${a.amount} failed: ${why.en}. Nothing was charged.`,
    fr: (a) => `Paiement de ${a.amount} echoue: ${why.fr}. Rien n a ete debite.`,
  },
});

/** A started cash-in that failed, as the agent reads it. */
const cashInFailed = (retryable: boolean, why: Phrase): Refusal => ({ retryable, text: cashInFrame(why) });
function cashInFrame(why: Phrase): Texts {
  return {
    en: (a) => `Deposit of ${a.amount} to ${a.payee} failed: ${why.en}. Nothing was moved.`,
    fr: (a) => `Depot de ${a.amount} pour ${a.payee} echoue: ${why.fr}. Rien n a ete deplace.`,
  };
}

/** Over a limit before anything is reserved; `remaining` is what is left (none for velocity). */
const overLimit = (retryable: boolean, what: Phrase, withAmount = true): Refusal => ({
  retryable,
  text: {
    en: (a) => `Payment refused: ${what.en}${withAmount ? ` ${a.remaining}` : ''}.`,
    fr: (a) => `Paiement refuse: ${what.fr}${withAmount ? ` ${a.remaining}` : ''}.`,
  },
});

export const REFUSALS = {
  // Refused requests: nothing was reserved.
  payee_unknown: refused(false,
    (a) => `${a.payee} is not a shop we know. Check the code and try again.`,
    (a) => `${a.payee} n est pas une boutique connue. Verifiez le code.`),
  self_transfer: refused(false, () => 'You cannot send money to yourself.', () => 'Vous ne pouvez pas vous envoyer de l argent.'),
  payee_no_network: refused(false,
    (a) => `${a.payee} is not on a network dialpay can send to. Check the number. Nothing was charged.`,
    (a) => `${a.payee} n est pas sur un reseau joignable par dialpay. Verifiez le numero. Rien n a ete debite.`),
  payee_other_currency: refused(false,
    (a) => `${a.payee} is on ${a.operator}, which uses ${a.theirs}: you cannot send ${a.ours} there. Nothing was charged.`,
    (a) => `${a.payee} est chez ${a.operator}, en ${a.theirs}: impossible d envoyer des ${a.ours}. Rien n a ete debite.`),
  pin_locked: refused(false,
    () => 'Your PIN is locked after too many wrong tries. Please contact customer care.',
    () => 'Votre PIN est bloque apres trop d essais. Contactez le service client.'),
  amount_too_small: refused(false, () => 'This amount is too small to pay.', () => 'Ce montant est trop petit.'),
  limit_per_payment: overLimit(false, { en: 'the most per payment is', fr: 'le maximum par paiement est' }),
  limit_daily: overLimit(true, { en: 'you can pay at most this today:', fr: 'vous pouvez encore payer aujourd hui:' }),
  limit_monthly: overLimit(true, { en: 'you can pay at most this month:', fr: 'vous pouvez encore payer ce mois:' }),
  limit_velocity: overLimit(true,
    { en: 'too many payments in a minute, try again shortly', fr: 'trop de paiements en une minute, reessayez bientot' }, false),
  airtime_not_offered: refused(false,
    () => 'Airtime is not sold through dialpay on your network. Nothing was charged.',
    () => 'Le credit n est pas vendu par dialpay sur votre reseau. Rien n a ete debite.'),
  airtime_bad_number: refused(false,
    (a) => `${a.target} is not a phone number we can top up. Nothing was charged.`,
    (a) => `${a.target} n est pas un numero que nous pouvons recharger. Rien n a ete debite.`),
  airtime_other_currency: refused(false,
    (a) => `Airtime for ${a.target} is not sold in ${a.currency}. Nothing was charged.`,
    (a) => `Le credit pour ${a.target} n est pas vendu en ${a.currency}. Rien n a ete debite.`),
  agent_unknown: refused(false,
    (a) => `${a.agent} is not an agent we know, or not one you can use. Check the agent's number. Nothing was charged.`,
    (a) => `${a.agent} n est pas un agent connu, ou pas chez votre operateur. Verifiez le numero de l agent. Rien n a ete debite.`),
  agent_not_trading: refused(true,
    (a) => `Agent ${a.agent} cannot pay out cash right now. Try another agent. Nothing was charged.`,
    (a) => `L agent ${a.agent} ne peut pas payer pour le moment. Essayez un autre agent. Rien n a ete debite.`),
  // A USSD cash-out the wallet cannot cover: an END screen, so it fits one USSD message.
  cash_out_wallet_short: refused(true,
    (a) => `Your dialpay wallet has ${a.wallet}: not enough for ${a.total} (${a.amount} + fee ${a.fee}). Nothing was charged.`,
    (a) => `Votre portefeuille dialpay a ${a.wallet}: pas assez pour ${a.total} (${a.amount} + frais ${a.fee}). Rien n a ete debite.`),
  // An agent's DEP (cash.ts).
  not_an_agent: refused(false,
    () => 'DEP is for registered dialpay agents only. Nothing was moved.',
    () => 'DEPOT est reserve aux agents dialpay enregistres. Rien n a ete deplace.'),
  agent_suspended: refused(false,
    () => 'Your agent account is suspended: deposits are refused. Contact your operator. Nothing was moved.',
    () => 'Votre compte agent est suspendu: depots refuses. Contactez votre operateur. Rien n a ete deplace.'),
  agent_no_pin: refused(false,
    (a) => `Deposits are confirmed with your PIN, and you have none. Dial ${a.ussd} to set one, then send DEP again.`,
    (a) => `Les depots se confirment avec votre PIN, et vous n en avez pas. Composez ${a.ussd} pour le choisir, puis renvoyez DEPOT.`),
  cash_in_other_operator: refused(false,
    (a) => `${a.payee} is not a ${a.operator} number: you can deposit only to your operator's subscribers. Nothing was moved.`,
    (a) => `${a.payee} n est pas un numero ${a.operator}: depots seulement pour les abonnes de votre operateur. Rien n a ete deplace.`),
  cash_in_over_cap: refused(false,
    (a) => `Deposit refused: ${a.payee} may hold at most ${a.cap} in their wallet. Nothing was moved.`,
    (a) => `Depot refuse: ${a.payee} peut detenir au plus ${a.cap} dans son portefeuille. Rien n a ete deplace.`),
  // Failed payments (FailureReason): whatever was reserved is released.
  limit_exceeded: failed(true, { en: 'over your limit', fr: 'au-dessus de votre limite' }),
  insufficient_funds: failed(true, { en: 'insufficient balance', fr: 'solde insuffisant' }),
  challenge_expired: failed(true, { en: 'not confirmed in time', fr: 'non confirme a temps' }),
  wrong_code: failed(true, { en: 'wrong code 3 times', fr: 'code incorrect 3 fois' }),
  cancelled: failed(true, { en: 'cancelled', fr: 'annule' }),
  payment_payee_unknown: failed(false, { en: 'unknown payee', fr: 'beneficiaire inconnu' }),
  carrier_error: failed(true, { en: 'your operator could not charge your account', fr: 'votre operateur n a pas pu debiter votre compte' }),
  payment_pin_locked: failed(false, { en: 'PIN locked', fr: 'PIN bloque' }),
  wallet_balance_max: failed(true, { en: 'the wallet would exceed its limit', fr: 'le portefeuille depasserait sa limite' }),
  // A payment held for customer care (holds.ts) that care rejected, or did not review in time.
  risk_rejected: failed(false,
    { en: 'stopped by customer care after a security check', fr: 'arrete par le service client apres un controle de securite' }),
  hold_expired: failed(true,
    { en: 'on hold and not reviewed in time', fr: 'en attente et non verifie a temps' }),
  // Failed cash-ins, as the agent reads them: their float, not "your balance".
  float_too_low: cashInFailed(true, { en: 'float too low', fr: 'float insuffisant' }),
  cash_in_wallet_balance_max: cashInFailed(true,
    { en: "the subscriber's wallet would exceed its limit", fr: 'le portefeuille de l abonne depasserait sa limite' }),
  cash_in_not_completed: cashInFailed(true, { en: 'it could not be completed', fr: 'il n a pas pu aboutir' }),
} as const satisfies Record<string, Refusal>;

export type RefusalCode = keyof typeof REFUSALS;

export function refusalText(code: RefusalCode, language: Language, args: Args = {}): string {
  return REFUSALS[code].text[language](args);
}

/** The refusal a payment's FailureReason reads as. */
export const FAILURE_REFUSAL = {
  [FailureReason.LIMIT]: 'limit_exceeded',
  [FailureReason.INSUFFICIENT_FUNDS]: 'insufficient_funds',
  [FailureReason.EXPIRED]: 'challenge_expired',
  [FailureReason.WRONG_CODE]: 'wrong_code',
  [FailureReason.CANCELLED]: 'cancelled',
  [FailureReason.UNKNOWN_PAYEE]: 'payment_payee_unknown',
  [FailureReason.CARRIER_ERROR]: 'carrier_error',
  [FailureReason.PIN_LOCKED]: 'payment_pin_locked',
  [FailureReason.WALLET_BALANCE_MAX]: 'wallet_balance_max',
  [FailureReason.RISK_REJECTED]: 'risk_rejected',
  [FailureReason.HOLD_EXPIRED]: 'hold_expired',
} as const satisfies Record<FailureReasonValue, RefusalCode>;

/** A cash-in's failures the agent reads in their own words; the others read as the payment's, in the deposit's frame. */
const CASH_IN_REFUSAL: Readonly<Partial<Record<FailureReasonValue, RefusalCode>>> = {
  [FailureReason.INSUFFICIENT_FUNDS]: 'float_too_low',
  [FailureReason.WALLET_BALANCE_MAX]: 'cash_in_wallet_balance_max',
  [FailureReason.CARRIER_ERROR]: 'cash_in_not_completed',
};

export const LIMIT_REFUSAL = {
  [LimitKind.PER_TRANSACTION]: 'limit_per_payment',
  [LimitKind.DAILY]: 'limit_daily',
  [LimitKind.MONTHLY]: 'limit_monthly',
  [LimitKind.VELOCITY]: 'limit_velocity',
} as const satisfies Record<LimitKindValue, RefusalCode>;

export function failedReply(reason: FailureReasonValue, amountMinor: bigint, currency: string, language: Language): string {
  return refusalText(FAILURE_REFUSAL[reason], language, { amount: formatAmount(amountMinor, currency, language) });
}

export function cashInFailedReply(
  reason: FailureReasonValue, amountMinor: bigint, currency: string, payee: string, language: Language,
): string {
  const args = { amount: formatAmount(amountMinor, currency, language), payee };
  const own = CASH_IN_REFUSAL[reason];
  return own ? refusalText(own, language, args) : cashInFrame(REFUSALS[FAILURE_REFUSAL[reason]].why)[language](args);
}

export function limitReply(limit: LimitKindValue, remainingMinor: bigint, currency: string, language: Language): string {
  return refusalText(LIMIT_REFUSAL[limit], language, { remaining: formatAmount(remainingMinor, currency, language) });
}
