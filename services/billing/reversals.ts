// Reversals (credit.proto, CREDIT_SOURCE_REVERSAL): customer care takes back a transfer sent to the
// wrong number (`dialpay payment reverse`, payments' reversals.ts). Decided here, inside the credit's
// transaction (credits.ts holds the credit id's lock and writes the credit's row and result):
//   1. the original: a captured debit of this payment, from this payer to this payee's wallet, and
//      what its capture put in that wallet; the amount asked is at most that;
//   2. both wallets' rows locked (FOR UPDATE, held until COMMIT, by id as apply_transfers locks) and the
//      payee's read: the amount taken is the smaller of the amount asked and the balance, so the wallet
//      never goes below zero; nothing left: INSUFFICIENT_FUNDS, nothing moved;
//   3. the transfer reversal:<payment_id>, subscriber:<payee> -> subscriber:<payer>, whose own
//      statement checks the payee's balance again (apply_transfers).
// The original's fee is not returned: it paid for a transfer that was made.
import type pg from 'pg';
import { dialpay, type MoneyMinor } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { isE164 } from '../../runtime/msisdn.js';
import type { Ledger } from './ledger/store.js';
import { AccountIds, REVERSED_PAYMENT_ID, reversalTransfer, reversalTransferId } from './ledger/rules.js';

const { CreditOutcome } = dialpay.v1;

export interface CreditDecision {
  readonly outcome: dialpay.v1.CreditOutcome;
  readonly detail: string;
  /** What moved (OK only). */
  readonly credited: MoneyMinor | null;
  readonly transferId: string | null;
}

const refuse = (detail: string): CreditDecision => ({
  outcome: CreditOutcome.CREDIT_OUTCOME_REJECTED, detail, credited: null, transferId: null,
});

/** The part of the original capture the payee's wallet received; null when there is no such captured transfer. */
async function receivedByPayee(
  client: pg.ClientBase, paymentId: string, payer: string, payee: string,
): Promise<{ receivedMinor: bigint; currency: string } | null> {
  const { rows } = await client.query<{ amount_minor: string; currency: string }>(
    `SELECT p.amount_minor::text, d.currency FROM billing.debits d
       JOIN billing.postings p ON p.transfer_id = 'capture:' || d.debit_id AND p.account_id = $4
      WHERE d.payment_id = $1 AND d.state = 'captured' AND d.msisdn = $2 AND d.payee = $3 AND d.funding <> 'agent-float'
      LIMIT 1`,
    [paymentId, payer, payee, AccountIds.subscriber(payee)],
  );
  const row = rows[0];
  return row ? { receivedMinor: BigInt(row.amount_minor), currency: row.currency } : null;
}

/** Decides and, when anything is left, books one reversal, in the caller's transaction. */
export async function decideReversal(
  client: pg.ClientBase, ledger: Ledger, operators: ReadonlyMap<string, OperatorConfig>,
  request: dialpay.v1.ICreditRequested, amount: MoneyMinor | null,
): Promise<CreditDecision> {
  const paymentId = request.originalPaymentId ?? '';
  const payer = request.msisdn ?? '';
  const payee = request.debitedMsisdn ?? '';
  if (!amount || amount.amountMinor <= 0n) return refuse('the amount must be positive');
  if (!REVERSED_PAYMENT_ID.test(paymentId) || request.creditId !== `reversal-${paymentId}`) {
    return refuse('a reversal names its payment: credit id reversal-<payment id>');
  }
  if (!isE164(payer) || !isE164(payee) || payer === payee) return refuse('payer and payee must be two E.164 numbers');
  const operator = operators.get(request.operatorId ?? '');
  if (!operator || operator.currency !== amount.currency) return refuse(`unknown operator, or not in ${amount.currency}`);
  const original = await receivedByPayee(client, paymentId, payer, payee);
  if (!original || original.currency !== amount.currency) {
    // No numbers in the text: it is logged, stored in billing.credits and carried on the DEBITS stream.
    return refuse(`no captured transfer ${paymentId} from the payer to the payee's wallet in ${amount.currency}`);
  }
  const askedMinor = amount.amountMinor < original.receivedMinor ? amount.amountMinor : original.receivedMinor;
  await ledger.ensureAccountsIn(client, [{ id: AccountIds.subscriber(payer), kind: 'subscriber', currency: amount.currency }]);
  // Both wallets locked until COMMIT, in one statement and in apply_transfers' order (by id, balance-checked
  // accounts only): nothing spends from the payee's between this read and the booking, and a transfer
  // between the two, locking in that order too, cannot hold one while this waits for the other.
  const payeeAccount = AccountIds.subscriber(payee);
  const wallets = (await client.query<{ id: string; balance_minor: string; currency: string }>(
    `SELECT id, balance_minor::text, currency FROM billing.accounts
      WHERE id = ANY ($1::text[]) AND balance_minor IS NOT NULL ORDER BY id FOR UPDATE`,
    [[payeeAccount, AccountIds.subscriber(payer)]],
  )).rows;
  const wallet = wallets.find((w) => w.id === payeeAccount);
  const balanceMinor = wallet && wallet.currency === amount.currency ? BigInt(wallet.balance_minor) : 0n;
  const takenMinor = askedMinor < balanceMinor ? askedMinor : balanceMinor;
  if (takenMinor <= 0n) {
    return { outcome: CreditOutcome.CREDIT_OUTCOME_INSUFFICIENT_FUNDS, detail: "the payee's wallet holds nothing", credited: null,
      transferId: null };
  }
  const transfer = reversalTransfer({ paymentId, payeeMsisdn: payee, payerMsisdn: payer, currency: amount.currency,
    amountMinor: takenMinor });
  const [booked] = await ledger.applyIn(client, [transfer]);
  // The wallet is locked and holds at least takenMinor: 'applied' is the only answer (the credit's row is absent, so no duplicate).
  if (booked?.outcome !== 'applied') throw new Error(`reversal ${transfer.id} could not be booked: ${booked?.outcome}`);
  const detail = takenMinor < askedMinor ? `partial: ${takenMinor} of ${askedMinor} was left in the wallet` : '';
  return { outcome: CreditOutcome.CREDIT_OUTCOME_OK, detail, credited: { amountMinor: takenMinor, currency: amount.currency },
    transferId: reversalTransferId(paymentId) };
}
