// Credits (credit.proto): an operator's deposit into a subscriber's wallet, or a merchant's payout
// to one. payments asks (CreditRequested), billing books and answers (CreditResult). Credits are
// rare next to payments, so each is handled on its own, in ONE transaction:
//   1. the credit id's advisory lock, then its row in billing.credits: a credit already decided
//      answers as it was decided (booked or refused), nothing booked again;
//   2. the checks: operator, merchant, currency, msisdn, amount (else REJECTED);
//   3. a payout: the merchant's payable locked (payable.ts) and its available balance read under
//      the lock; short: INSUFFICIENT_FUNDS, nothing moved;
//   4. a wallet cap: the wallet's row locked and read; over: WALLET_BALANCE_MAX, nothing moved;
//   5. the transfer credit:<credit_id> (ledger/rules.ts), the credit's row, and the result
//      through billing's outbox.
// A reversal (CREDIT_SOURCE_REVERSAL) is decided by reversals.ts instead of steps 2-5's checks.
// Locks in this order only (credit id, payable, wallet row): refunds and settlement closes take the
// payable's lock before any wallet row too (payable.ts), so nothing waits in a cycle.
import type pg from 'pg';
import { dialpay, moneyFromProtoOrNull, moneyToProto, type MoneyMinor } from '../../proto/index.js';
import type { MerchantConfig, OperatorConfig } from '../../runtime/config/index.js';
import { maskMsisdnsInText, type Logger } from '../../runtime/log.js';
import { isE164 } from '../../runtime/msisdn.js';
import { Events, PermanentHandlerError } from '../../runtime/nats/index.js';
import { emitEvent, withTransaction } from '../../runtime/pg/index.js';
import { Ledger } from './ledger/store.js';
import { CREDIT_ID, operatorDepositTransfer, payoutTransfer, type Transfer } from './ledger/rules.js';
import { availableBalance, lockPayable } from './payable.js';
import { OUTBOX } from './debit-results.js';
import { decideReversal, type CreditDecision } from './reversals.js';

const { CreditOutcome, CreditSource } = dialpay.v1;
type CreditOutcomeValue = dialpay.v1.CreditOutcome;

/** billing.credits.outcome: the outcome's name, lower case. */
const OUTCOME_NAMES: Readonly<Record<number, CreditRow['outcome']>> = {
  [CreditOutcome.CREDIT_OUTCOME_OK]: 'ok',
  [CreditOutcome.CREDIT_OUTCOME_INSUFFICIENT_FUNDS]: 'insufficient-funds',
  [CreditOutcome.CREDIT_OUTCOME_WALLET_BALANCE_MAX]: 'wallet-balance-max',
  [CreditOutcome.CREDIT_OUTCOME_REJECTED]: 'rejected',
};
const OUTCOMES_BY_NAME = new Map(Object.entries(OUTCOME_NAMES).map(([k, v]) => [v, Number(k) as CreditOutcomeValue]));

/** A reference longer than this is cut (the statement shows it; payments bounds it too). */
const REFERENCE_CHARS_MAX = 64;

interface CreditRow {
  readonly credit_id: string;
  readonly outcome: 'ok' | 'insufficient-funds' | 'wallet-balance-max' | 'rejected';
  readonly detail: string;
  readonly currency: string;
  readonly amount_minor: string;
}

type Source = 'operator-deposit' | 'merchant-payout' | 'reversal' | 'unknown';

const refused = (outcome: CreditOutcomeValue, detail: string): CreditDecision => ({ outcome, detail, credited: null, transferId: null });

export interface CreditServiceOptions {
  readonly pool: pg.Pool;
  readonly ledger: Ledger;
  readonly operators: ReadonlyMap<string, OperatorConfig>;
  readonly merchants: ReadonlyMap<string, MerchantConfig>;
  readonly log: Logger;
}

/** What a credit request asks, checked: a refusal, or the transfer to try. */
type Checked =
  | { readonly kind: 'refuse'; readonly detail: string }
  | {
    readonly kind: 'book'; readonly transfer: Transfer;
    readonly merchantId: string | null; readonly walletMaxMinor: bigint | null;
  };

export class CreditService {
  readonly #o: CreditServiceOptions;

  constructor(options: CreditServiceOptions) {
    this.#o = options;
  }

  /** One credit request: decided once, answered the same way on every delivery. */
  async credit(request: dialpay.v1.ICreditRequested): Promise<void> {
    const creditId = request.creditId ?? '';
    // No id to answer under: nothing to do but dead-letter it.
    if (!CREDIT_ID.test(creditId)) {
      throw new PermanentHandlerError(`credit id ${JSON.stringify(creditId)} is not [A-Za-z0-9-]{1,64}`);
    }
    const source = sourceOf(request.source);
    const amount = moneyFromProtoOrNull(request.amount);
    await withTransaction(this.#o.pool, 'READ COMMITTED', async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`credit:${creditId}`]);
      const existing = (await client.query<CreditRow>(
        'SELECT credit_id, outcome, detail, currency, amount_minor::text FROM billing.credits WHERE credit_id = $1', [creditId],
      )).rows[0];
      if (existing) {
        const outcome = OUTCOMES_BY_NAME.get(existing.outcome) ?? CreditOutcome.CREDIT_OUTCOME_REJECTED;
        const booked = { amountMinor: BigInt(existing.amount_minor), currency: existing.currency };
        return this.#answer(client, creditId, outcome, existing.detail, booked);
      }
      const decided = source === 'reversal'
        ? await decideReversal(client, this.#o.ledger, this.#o.operators, request, amount)
        : await this.#decide(client, request, source, amount);
      // What moved (a reversal's may be less than asked); what was asked when nothing did.
      const moved = decided.credited ?? amount;
      const row = {
        creditId, source, outcome: OUTCOME_NAMES[decided.outcome] as CreditRow['outcome'], detail: decided.detail,
        transferId: decided.transferId,
        operatorId: request.operatorId ?? '', merchantId: source === 'merchant-payout' ? (request.merchantId ?? '') : '',
        msisdn: request.msisdn ?? '', currency: moved?.currency ?? '', amountMinor: moved?.amountMinor ?? 0n,
        reference: (request.reference ?? '').slice(0, REFERENCE_CHARS_MAX),
        counterpartyName: this.#counterpartyName(source, request),
        debitedMsisdn: source === 'reversal' ? (request.debitedMsisdn ?? '') : '',
      };
      await client.query(
        `INSERT INTO billing.credits (credit_id, source, outcome, detail, transfer_id, operator_id, merchant_id, msisdn, currency,
           amount_minor, reference, counterparty_name, debited_msisdn)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [row.creditId, row.source, row.outcome, row.detail, row.transferId, row.operatorId, row.merchantId, row.msisdn, row.currency,
          row.amountMinor.toString(), row.reference, row.counterpartyName, row.debitedMsisdn],
      );
      if (decided.outcome !== CreditOutcome.CREDIT_OUTCOME_OK) {
        this.#o.log.info({ creditId, source, outcome: row.outcome, detail: maskMsisdnsInText(decided.detail) },
          'credit refused; nothing moved');
      }
      await this.#answer(client, creditId, decided.outcome, decided.detail, moved);
    });
  }

  /** The outcome of a credit not seen before, booked in the caller's transaction when OK. */
  async #decide(
    client: pg.ClientBase, request: dialpay.v1.ICreditRequested, source: Source, amount: MoneyMinor | null,
  ): Promise<CreditDecision> {
    const checked = this.#check(request, source, amount);
    if (checked.kind === 'refuse') return refused(CreditOutcome.CREDIT_OUTCOME_REJECTED, checked.detail);
    const { transfer, merchantId, walletMaxMinor } = checked;
    const [from, to] = transfer.postings.map((p) => p.accountId) as [string, string];
    // An account that exists in another currency: the credit cannot be booked (apply_transfers would throw).
    const other = (await client.query<{ id: string; currency: string }>(
      'SELECT id, currency FROM billing.accounts WHERE id = ANY ($1::text[]) AND currency <> $2', [[from, to], transfer.currency],
    )).rows[0];
    if (other) {
      // The wallet's account id names the subscriber's number: the detail is logged and carried on DEBITS.
      const which = other.id === to ? "the subscriber's wallet" : other.id;
      return refused(CreditOutcome.CREDIT_OUTCOME_REJECTED, `${which} is in ${other.currency}, not ${transfer.currency}`);
    }
    if (merchantId !== null) {
      await lockPayable(client, merchantId, transfer.currency, 'exclusive');
      const balance = await availableBalance(client, merchantId, transfer.currency);
      if (balance.availableMinor < transfer.amountMinor) {
        return refused(CreditOutcome.CREDIT_OUTCOME_INSUFFICIENT_FUNDS,
          `available ${balance.availableMinor} (payable ${balance.payableMinor}, refunds owed ${balance.refundsOwedMinor})`);
      }
    }
    await this.#o.ledger.ensureAccountsIn(client, [
      { id: from, kind: merchantId !== null ? 'merchant_payable' : 'operator_funding', currency: transfer.currency },
      { id: to, kind: 'subscriber', currency: transfer.currency },
    ]);
    if (walletMaxMinor !== null) {
      // Under the wallet row's lock, held until COMMIT: nothing else credits it between the check and the booking.
      const { rows } = await client.query<{ balance_minor: string }>(
        'SELECT balance_minor::text FROM billing.accounts WHERE id = $1 FOR UPDATE', [to],
      );
      const after = BigInt(rows[0]?.balance_minor ?? '0') + transfer.amountMinor;
      if (after > walletMaxMinor) {
        const detail = `the wallet would hold ${after}, more than ${walletMaxMinor}`;
        return refused(CreditOutcome.CREDIT_OUTCOME_WALLET_BALANCE_MAX, detail);
      }
    }
    const [booked] = await this.#o.ledger.applyIn(client, [transfer]);
    // Neither debited account is balance-checked, so 'applied' (or 'duplicate': never, with the credit's row absent)
    // is all it answers.
    if (booked?.outcome !== 'applied' && booked?.outcome !== 'duplicate') {
      throw new Error(`credit ${transfer.id} could not be booked: ${booked?.outcome}`);
    }
    const credited = { amountMinor: transfer.amountMinor, currency: transfer.currency };
    return { outcome: CreditOutcome.CREDIT_OUTCOME_OK, detail: '', credited, transferId: transfer.id };
  }

  #check(request: dialpay.v1.ICreditRequested, source: Source, amount: MoneyMinor | null): Checked {
    const refuse = (detail: string): Checked => ({ kind: 'refuse', detail });
    if (source === 'unknown') return refuse('unknown credit source');
    if (!amount) return refuse('the amount is unreadable');
    if (amount.amountMinor <= 0n) return refuse('the amount must be positive');
    const msisdn = request.msisdn ?? '';
    if (!isE164(msisdn)) return refuse(`the msisdn (${msisdn.length} characters) is not E.164`);
    const operator = this.#o.operators.get(request.operatorId ?? '');
    if (!operator) return refuse(`unknown operator ${JSON.stringify(request.operatorId ?? '')}`);
    if (operator.currency !== amount.currency) {
      return refuse(`operator ${operator.id}'s wallets are in ${operator.currency}, not ${amount.currency}`);
    }
    let walletMaxMinor: bigint | null = null;
    if (request.walletMax) {
      const cap = moneyFromProtoOrNull(request.walletMax);
      if (!cap || cap.amountMinor < 0n || (cap.amountMinor > 0n && cap.currency !== amount.currency)) {
        return refuse('the wallet cap is unreadable or in another currency');
      }
      walletMaxMinor = cap.amountMinor === 0n ? null : cap.amountMinor; // zero: no cap
    }
    const creditId = request.creditId as string;
    if (source === 'operator-deposit') {
      const transfer = operatorDepositTransfer({
        creditId, operatorId: operator.id, msisdn, currency: amount.currency, amountMinor: amount.amountMinor,
      });
      return { kind: 'book', transfer, merchantId: null, walletMaxMinor };
    }
    const merchant = this.#o.merchants.get(request.merchantId ?? '');
    if (!merchant) return refuse(`unknown merchant ${JSON.stringify(request.merchantId ?? '')}`);
    // The merchant's payable in this currency exists only if one of its operators bills in it.
    const currencies = new Set(merchant.operatorIds.map((id) => this.#o.operators.get(id)?.currency));
    if (!currencies.has(amount.currency)) return refuse(`merchant ${merchant.id} is not paid in ${amount.currency}`);
    const transfer = payoutTransfer({
      creditId, merchantId: merchant.id, msisdn, currency: amount.currency, amountMinor: amount.amountMinor,
    });
    return { kind: 'book', transfer, merchantId: merchant.id, walletMaxMinor };
  }

  /** Who the subscriber's statement says the money came from: the operator's or the merchant's name, else its id. */
  #counterpartyName(source: Source, request: dialpay.v1.ICreditRequested): string {
    if (source === 'merchant-payout') return this.#o.merchants.get(request.merchantId ?? '')?.name ?? (request.merchantId ?? '');
    return this.#o.operators.get(request.operatorId ?? '')?.name ?? (request.operatorId ?? '');
  }

  /** The result through billing's outbox; its event id names the credit and the outcome, so a repeat is the same event. */
  async #answer(
    client: pg.ClientBase, creditId: string, outcome: CreditOutcomeValue, detail: string, amount: MoneyMinor | null,
  ): Promise<void> {
    const ok = outcome === CreditOutcome.CREDIT_OUTCOME_OK;
    const eventId = `credit-result:${creditId}:${outcome}`;
    await emitEvent(client, OUTBOX, Events.creditResult, { eventId, correlationId: creditId }, {
      creditId, outcome, detail, credited: ok && amount ? moneyToProto(amount) : null,
    });
  }
}

function sourceOf(value: dialpay.v1.CreditSource | null | undefined): Source {
  if (value === CreditSource.CREDIT_SOURCE_OPERATOR_DEPOSIT) return 'operator-deposit';
  if (value === CreditSource.CREDIT_SOURCE_MERCHANT_PAYOUT) return 'merchant-payout';
  if (value === CreditSource.CREDIT_SOURCE_REVERSAL) return 'reversal';
  return 'unknown';
}
