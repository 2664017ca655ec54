// The ledger's rules, pure: which postings each kind of transfer makes. A
// payment's debit is two-phase:
//
//   reserve   payer -> holds                       (when the challenge is sent)
//   capture   holds -> payee, fee, operator share  (on confirmation; what is not
//             holds -> payer                        captured goes back to the payer)
//   void      holds -> payer                       (on expiry or cancel)
//
// Airtime is captured like any payment, with the airtime account of the target line's operator
// as the payee (what we owe that operator for the airtime it credits). If the operator then
// refuses the top-up, a refund moves it on to the payer's dialpay wallet:
//
//   capture         holds -> airtime:<operator>:<currency>
//   airtime refund  airtime:<operator>:<currency> -> subscriber:<payer>   (top-up refused)
//   settlement      airtime:<operator>:<currency> -> settled:operator:<operator>   (each window)
//
// Agents (cash-in, cash-out): the operator funds an agent's float, a cash-in is a debit the float
// pays, a cash-out a capture into the float:
//
//   float top-up    funding:<operator> -> agent:<agent>          (float:<operator>:<reference>)
//   cash-in         agent:<agent> -> holds -> subscriber:<payee>  (reserve, capture)
//   cash-out        subscriber:<payer> -> holds -> agent:<agent>, fee, operator share
//
// Credits (credit.proto): money into a wallet that no payer confirms, one transfer each, id
// credit:<credit_id> (credits.ts checks the merchant's available balance and the wallet's cap first):
//
//   operator deposit  funding:<operator> -> subscriber:<msisdn>
//   merchant payout   merchant:<merchant>:<currency> -> subscriber:<msisdn>
//   reversal          subscriber:<payee> -> subscriber:<payer>   (id reversal:<payment_id>; reversals.ts
//                     takes at most what the payee's wallet holds, under its row lock)
//
// Every transfer's postings sum to zero; a transfer that does not is a bug
// and the builder throws before anything is written.

export type AccountKind = 'subscriber' | 'merchant_payable' | 'fee_revenue' | 'operator_share' | 'holds' | 'carrier_clearing' | 'suspense'
  | 'merchant_settled' | 'operator_settled' | 'airtime_payable' | 'agent_float' | 'operator_funding';

/**
 * No stranded money: the flow that reads or spends each kind of account. Money may rest only in
 * a kind some flow moves on; `readBy: null` means none does, so such an account must stay at zero,
 * and `endsAtZero` kinds are transit accounts that every completed flow empties. The load and
 * chaos harness checks the ledger against this table (load-tests/harness/invariants.ts); a new
 * kind of account needs its row here.
 */
export const ACCOUNT_READERS: Readonly<Record<AccountKind, { readonly readBy: string | null; readonly endsAtZero?: boolean }>> = {
  subscriber: {
    readBy: 'its subscriber: BAL and the USSD balance show it, PAY, SEND and USSD payments reserve from it first (billing funding.ts);'
      + " customer care's reversals take a mistaken transfer back from it (reversals.ts)",
  },
  merchant_payable: {
    readBy: 'settlement closes it into merchant_settled each window (settlement-ledger.ts); merchant payouts to wallets (credits.ts);'
      + " the merchant API's balance",
  },
  fee_revenue: { readBy: "dialpay's revenue, reported per settlement window (settlement-ledger.ts)" },
  operator_share: { readBy: 'settlement books it to operator_settled each window (settlement-ledger.ts)' },
  holds: { readBy: 'the capture or void of the debit that reserved it', endsAtZero: true },
  carrier_clearing: {
    readBy: 'what the carrier collected for us (negative: it owes us), matched by reconciliation against its charging records',
  },
  suspense: { readBy: null },
  merchant_settled: { readBy: 'merchant payouts, from the settlement reports' },
  operator_settled: { readBy: 'operator payouts, from the settlement reports' },
  airtime_payable: {
    readBy: 'what dialpay owes the operator for airtime it credited: settlement books it to operator_settled each window with the operator'
      + ' share, up to what it held at the window end (settlement-ledger.ts)',
  },
  agent_float: {
    readBy: 'its agent: cash-ins (DEP) reserve from it, cash-outs (WITHDRAW) credit it;'
      + ' the operator reads it with readAgentFloat (agent-floats.ts)',
  },
  operator_funding: {
    readBy: "what the operator put into its agents' floats and subscribers' wallets (negative: the cash it holds for them), read by float"
      + " top-ups (agent-floats.ts) and operator deposits (credits.ts), and matched against the operator's own funding records",
  },
};

/** Kinds whose balance is checked on every debit and so kept as a row. */
export const BALANCE_CHECKED_KINDS: ReadonlySet<AccountKind> = new Set(['subscriber', 'agent_float']);

export interface Posting {
  readonly accountId: string;
  /** Positive credits, negative debits. */
  readonly amountMinor: bigint;
}

export type TransferKind = 'reserve' | 'capture' | 'void' | 'refund' | 'deposit' | 'transfer' | 'credit' | 'reversal';

export interface Transfer {
  readonly id: string;
  readonly kind: TransferKind;
  readonly reserveId: string | null;
  readonly paymentId: string;
  readonly currency: string;
  readonly amountMinor: bigint;
  readonly postings: readonly Posting[];
}

export const AccountIds = {
  subscriber: (msisdn: string) => `subscriber:${msisdn}`,
  /** One per currency: a merchant served by operators in two countries is paid in both. */
  merchant: (merchantId: string, currency: string) => `merchant:${merchantId}:${currency}`,
  fees: (currency: string) => `fees:${currency}`,
  operatorShare: (operatorId: string) => `operator:${operatorId}`,
  holds: (currency: string) => `holds:${currency}`,
  carrier: (operatorId: string) => `carrier:${operatorId}`,
  /** What we owe an operator for airtime it credited to its lines, per currency. */
  airtime: (operatorId: string, currency: string) => `airtime:${operatorId}:${currency}`,
  /** What settlement windows have closed for payout: a merchant's, per currency, and an operator's share. */
  merchantSettled: (merchantId: string, currency: string) => `settled:merchant:${merchantId}:${currency}`,
  operatorSettled: (operatorId: string) => `settled:operator:${operatorId}`,
  /** An agent's float: what the agent may give out as wallet money (cash-in), balance-checked. */
  agentFloat: (agentId: string) => `agent:${agentId}`,
  /** What an operator put into its agents' floats: append-only, negative by what it funded. */
  operatorFunding: (operatorId: string) => `funding:${operatorId}`,
} as const;

/** An agent id as the registry keeps it (payments.agents): AG1001. */
export const AGENT_ID = /^[A-Z0-9-]{2,32}$/;

export class LedgerInvariantError extends Error {
  override readonly name = 'LedgerInvariantError';
  constructor(readonly transferId: string, message: string) {
    super(`transfer ${transferId}: ${message}`);
  }
}

/** Asserts the double-entry rule: at least two postings, none zero, sum zero. */
export function assertBalanced(transfer: Transfer): void {
  if (transfer.amountMinor <= 0n) throw new LedgerInvariantError(transfer.id, 'amount must be positive');
  if (transfer.postings.length < 2) throw new LedgerInvariantError(transfer.id, 'needs at least two postings');
  let sum = 0n;
  let credits = 0n;
  for (const p of transfer.postings) {
    if (p.amountMinor === 0n) throw new LedgerInvariantError(transfer.id, `zero posting to ${p.accountId}`);
    sum += p.amountMinor;
    if (p.amountMinor > 0n) credits += p.amountMinor;
  }
  if (sum !== 0n) throw new LedgerInvariantError(transfer.id, `postings sum to ${sum}, not zero`);
  if (credits !== transfer.amountMinor) {
    throw new LedgerInvariantError(transfer.id, `credits ${credits} do not equal the amount ${transfer.amountMinor}`);
  }
}

function build(transfer: Transfer): Transfer {
  assertBalanced(transfer);
  return transfer;
}

export interface ReserveInput {
  readonly id: string;
  readonly paymentId: string;
  readonly currency: string;
  readonly payerAccountId: string;
  readonly amountMinor: bigint;
}

export function reserveTransfer(input: ReserveInput): Transfer {
  return build({
    id: input.id,
    kind: 'reserve',
    reserveId: null,
    paymentId: input.paymentId,
    currency: input.currency,
    amountMinor: input.amountMinor,
    postings: [
      { accountId: input.payerAccountId, amountMinor: -input.amountMinor },
      { accountId: AccountIds.holds(input.currency), amountMinor: input.amountMinor },
    ],
  });
}

export interface CaptureInput {
  readonly id: string;
  readonly reserve: {
    readonly id: string; readonly paymentId: string; readonly currency: string; readonly amountMinor: bigint;
    readonly payerAccountId: string;
  };
  /** Where the captured amount goes; the parts sum to the captured amount. */
  readonly payeeAccountId: string;
  readonly payeeMinor: bigint;
  readonly feeMinor: bigint;
  readonly operatorShareMinor: bigint;
  readonly operatorId: string;
}

/** Captures all or part of a reserve; the rest goes back to the payer in the same transfer. */
export function captureTransfer(input: CaptureInput): Transfer {
  const { reserve } = input;
  const captured = input.payeeMinor + input.feeMinor + input.operatorShareMinor;
  if (captured <= 0n || captured > reserve.amountMinor) {
    throw new LedgerInvariantError(input.id, `capture of ${captured} outside the reserve of ${reserve.amountMinor}`);
  }
  const released = reserve.amountMinor - captured;
  const postings: Posting[] = [{ accountId: AccountIds.holds(reserve.currency), amountMinor: -reserve.amountMinor }];
  postings.push({ accountId: input.payeeAccountId, amountMinor: input.payeeMinor });
  if (input.feeMinor > 0n) postings.push({ accountId: AccountIds.fees(reserve.currency), amountMinor: input.feeMinor });
  if (input.operatorShareMinor > 0n) {
    postings.push({ accountId: AccountIds.operatorShare(input.operatorId), amountMinor: input.operatorShareMinor });
  }
  if (released > 0n) postings.push({ accountId: reserve.payerAccountId, amountMinor: released });
  return build({
    id: input.id, kind: 'capture', reserveId: reserve.id, paymentId: reserve.paymentId, currency: reserve.currency,
    amountMinor: reserve.amountMinor, postings,
  });
}

export function voidTransfer(id: string, reserve: CaptureInput['reserve']): Transfer {
  return build({
    id,
    kind: 'void',
    reserveId: reserve.id,
    paymentId: reserve.paymentId,
    currency: reserve.currency,
    amountMinor: reserve.amountMinor,
    postings: [
      { accountId: AccountIds.holds(reserve.currency), amountMinor: -reserve.amountMinor },
      { accountId: reserve.payerAccountId, amountMinor: reserve.amountMinor },
    ],
  });
}

/** A plain move of `amountMinor` from one account to another: one debit, one credit. */
function move(
  input: {
    id: string; kind: TransferKind; paymentId: string; currency: string; amountMinor: bigint; fromAccountId: string; toAccountId: string;
  },
): Transfer {
  return build({
    id: input.id,
    kind: input.kind,
    reserveId: null,
    paymentId: input.paymentId,
    currency: input.currency,
    amountMinor: input.amountMinor,
    postings: [
      { accountId: input.fromAccountId, amountMinor: -input.amountMinor },
      { accountId: input.toAccountId, amountMinor: input.amountMinor },
    ],
  });
}

/** Part of a captured payment back to the payer: out of the payee's account (the merchant keeps no fee back). */
export function refundTransfer(
  input: { id: string; paymentId: string; currency: string; amountMinor: bigint; payeeAccountId: string; payerAccountId: string },
): Transfer {
  return move({ ...input, kind: 'refund', fromAccountId: input.payeeAccountId, toAccountId: input.payerAccountId });
}

/** A top-up the operator refused after the capture: its amount leaves the airtime account for the payer's wallet. */
export function airtimeRefundTransfer(
  input: { id: string; paymentId: string; currency: string; amountMinor: bigint; airtimeAccountId: string; walletAccountId: string },
): Transfer {
  return move({ ...input, kind: 'refund', fromAccountId: input.airtimeAccountId, toAccountId: input.walletAccountId });
}

/** A settlement window's move of `amountMinor` from a payable account to its settled one. */
export function settlementTransfer(
  input: { id: string; windowId: string; currency: string; amountMinor: bigint; fromAccountId: string; toAccountId: string },
): Transfer {
  return move({ ...input, kind: 'transfer', paymentId: input.windowId });
}

/** Money entering the wallet model from outside (airtime top-up, cash-in): carrier clearing -> subscriber. */
export function depositTransfer(
  id: string, operatorId: string, subscriberAccountId: string, currency: string, amountMinor: bigint,
): Transfer {
  return build({
    id,
    kind: 'deposit',
    reserveId: null,
    paymentId: id,
    currency,
    amountMinor,
    postings: [
      { accountId: AccountIds.carrier(operatorId), amountMinor: -amountMinor },
      { accountId: subscriberAccountId, amountMinor: amountMinor },
    ],
  });
}

/** The transfer id of an operator's float top-up: one per reference, so a repeated command books nothing twice. */
export function floatTopUpId(operatorId: string, reference: string): string {
  return `float:${operatorId}:${reference}`;
}

/** The operator puts money into an agent's float: funding:<operator> -> agent:<agent>. */
export function floatTopUpTransfer(
  input: { operatorId: string; agentId: string; reference: string; currency: string; amountMinor: bigint },
): Transfer {
  const id = floatTopUpId(input.operatorId, input.reference);
  if (!AGENT_ID.test(input.agentId)) throw new LedgerInvariantError(id, `agent id ${JSON.stringify(input.agentId)} is not [A-Z0-9-]{2,32}`);
  return move({
    id, kind: 'deposit', paymentId: id, currency: input.currency, amountMinor: input.amountMinor,
    fromAccountId: AccountIds.operatorFunding(input.operatorId), toAccountId: AccountIds.agentFloat(input.agentId),
  });
}

export function floatReturnId(operatorId: string, reference: string): string {
  return `float-return:${operatorId}:${reference}`;
}

/**
 * The operator takes float back from an agent (the agent is paid in cash or by bank, outside the
 * ledger): agent:<agent> -> funding:<operator>. A retired agent's float would otherwise be money no
 * flow can move.
 */
export function floatReturnTransfer(
  input: { operatorId: string; agentId: string; reference: string; currency: string; amountMinor: bigint },
): Transfer {
  const id = floatReturnId(input.operatorId, input.reference);
  if (!AGENT_ID.test(input.agentId)) throw new LedgerInvariantError(id, `agent id ${JSON.stringify(input.agentId)} is not [A-Z0-9-]{2,32}`);
  return move({
    id, kind: 'transfer', paymentId: id, currency: input.currency, amountMinor: input.amountMinor,
    fromAccountId: AccountIds.agentFloat(input.agentId), toAccountId: AccountIds.operatorFunding(input.operatorId),
  });
}

/** A credit's id as payments makes it (a uuid), or any id of this shape: it names the transfer, credit:<id>. */
export const CREDIT_ID = /^[A-Za-z0-9-]{1,64}$/;

/** The transfer id of a credit (an operator's deposit, a merchant's payout): one per credit id. */
export function creditTransferId(creditId: string): string {
  return `credit:${creditId}`;
}

function creditMove(input: { creditId: string; currency: string; amountMinor: bigint; fromAccountId: string; msisdn: string }): Transfer {
  const id = creditTransferId(input.creditId);
  if (!CREDIT_ID.test(input.creditId)) {
    throw new LedgerInvariantError(id, `credit id ${JSON.stringify(input.creditId)} is not [A-Za-z0-9-]{1,64}`);
  }
  return move({
    id, kind: 'credit', paymentId: input.creditId, currency: input.currency, amountMinor: input.amountMinor,
    fromAccountId: input.fromAccountId, toAccountId: AccountIds.subscriber(input.msisdn),
  });
}

/** An operator's deposit into a subscriber's wallet: funding:<operator> -> subscriber:<msisdn>. */
export function operatorDepositTransfer(
  input: { creditId: string; operatorId: string; msisdn: string; currency: string; amountMinor: bigint },
): Transfer {
  return creditMove({ ...input, fromAccountId: AccountIds.operatorFunding(input.operatorId) });
}

/** A merchant's payout to a subscriber's wallet: merchant:<merchant>:<currency> -> subscriber:<msisdn>. */
export function payoutTransfer(
  input: { creditId: string; merchantId: string; msisdn: string; currency: string; amountMinor: bigint },
): Transfer {
  return creditMove({ ...input, fromAccountId: AccountIds.merchant(input.merchantId, input.currency) });
}

/** A payment id as payments makes it (a uuid): a reversal's credit id is reversal-<payment_id>, its transfer reversal:<payment_id>. */
export const REVERSED_PAYMENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The transfer id of the reversal of one payment: one per payment, so a repeated request books nothing twice. */
export function reversalTransferId(paymentId: string): string {
  return `reversal:${paymentId}`;
}

/** A transfer sent to the wrong number, taken back: subscriber:<payee> -> subscriber:<payer>, linked to the payment by its id. */
export function reversalTransfer(
  input: { paymentId: string; payeeMsisdn: string; payerMsisdn: string; currency: string; amountMinor: bigint },
): Transfer {
  const id = reversalTransferId(input.paymentId);
  if (!REVERSED_PAYMENT_ID.test(input.paymentId)) throw new LedgerInvariantError(id, 'the payment id is not a uuid');
  if (input.payeeMsisdn === input.payerMsisdn) throw new LedgerInvariantError(id, 'payer and payee are the same wallet');
  return move({
    id, kind: 'reversal', paymentId: input.paymentId, currency: input.currency, amountMinor: input.amountMinor,
    fromAccountId: AccountIds.subscriber(input.payeeMsisdn), toAccountId: AccountIds.subscriber(input.payerMsisdn),
  });
}
