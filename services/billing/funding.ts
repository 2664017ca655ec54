// Where a debit's money comes from. Every subscriber has a dialpay wallet in
// our ledger (subscriber:<msisdn>), whatever the operator's billing model:
// what dialpay credits to a subscriber (a transfer received, a refund of a
// wallet payment) lands there. A carrier-billed operator's debit draws on the
// wallet first: a ledger reserve from the wallet to holds, balance-checked in
// the same statement; only when the wallet does not cover the amount (and the
// payer was not promised the wallet) does the carrier reserve it, as before.
// A wallet-funded debit never calls the carrier: capture, release and refund
// are ledger-only, and a refund lands back in the wallet. A cash-in is funded by
// an agent's float (agent:<agent>, 'agent-float'): ledger-only like the wallet.
import { fundingFromProto, type dialpay, type Funding } from '../../proto/index.js';
import { CarrierOutcome, type CarrierAdapter, type CarrierResult } from './adapters/types.js';
import { AccountIds } from './ledger/rules.js';

export type { Funding };
/** What the payer was promised: a source, or whichever covers it (wallet first). */
export type FundingWanted = Funding | 'auto';

export function fundingWanted(value: dialpay.v1.FundingSource | null | undefined): FundingWanted {
  return fundingFromProto(value) ?? 'auto';
}

/**
 * The source a new debit's claim asks for: the wallet adapter's operators are always
 * wallet-funded; on a carrier-billed operator, what the payer was promised, or 'auto' (the claim
 * then takes the wallet if its balance covers the amount, in the same statement: CLAIMS_SQL).
 */
export function claimFunding(adapter: CarrierAdapter, wanted: FundingWanted): FundingWanted {
  if (wanted === 'agent-float') return wanted; // the agent's float, whatever the operator's billing model
  return adapter.fundsCheckedInLedger ? 'wallet' : wanted;
}

/** Funded in our ledger (the wallet, an agent's float): no step of the debit calls the carrier. */
export function ledgerFunded(funding: string): boolean {
  return funding === 'wallet' || funding === 'agent-float';
}

/** The ledger account a ledger-funded claim draws on: the agent's float for a cash-in, else the payer's wallet. */
export function ledgerPayerAccount(wanted: FundingWanted, msisdn: string, agentId: string): string {
  return wanted === 'agent-float' ? AccountIds.agentFloat(agentId) : AccountIds.subscriber(msisdn);
}

/**
 * Claims debits ('reserving'), many in one statement, each with its funding decided in the same
 * statement (so the common carrier-billed payment costs no extra statement and a redelivery takes
 * the same path). Answers every claimed row: those it inserted, and those an earlier delivery
 * left (read in the statement's snapshot). Parameters: arrays of the debit ids, payment ids,
 * operators, msisdns, currencies, amounts, carrier payer accounts, adapters, wanted fundings
 * (claimFunding) and ledger payer accounts (ledgerPayerAccount: the wallet, or an agent's float).
 */
export const CLAIMS_SQL = `WITH wanted AS (
    SELECT r.*, CASE WHEN r.want <> 'auto' THEN r.want
                     WHEN EXISTS (SELECT 1 FROM billing.accounts a WHERE a.id = r.wallet AND a.balance_minor >= r.amount_minor)
                       THEN 'wallet'
                     ELSE 'carrier' END AS funding
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[])
      AS r(debit_id, payment_id, operator_id, msisdn, currency, amount_minor, carrier_payer, adapter, want, wallet)
  ), inserted AS (
    INSERT INTO billing.debits (debit_id, payment_id, operator_id, msisdn, currency, amount_minor, payer_account_id, adapter, state,
      funding)
    SELECT debit_id, payment_id, operator_id, msisdn, currency, amount_minor,
      CASE WHEN funding = 'carrier' THEN carrier_payer ELSE wallet END, adapter, 'reserving', funding
    FROM wanted ORDER BY debit_id
    ON CONFLICT (debit_id) DO NOTHING
    RETURNING *
  )
  SELECT * FROM inserted
  UNION ALL
  SELECT d.* FROM billing.debits d WHERE d.debit_id = ANY ($1::text[]) AND d.debit_id NOT IN (SELECT debit_id FROM inserted)`;

/** The wallet did not cover the amount after all (spent meanwhile): fall back to the carrier unless the wallet was promised. */
export function mayFallBackToCarrier(adapter: CarrierAdapter, wanted: FundingWanted): boolean {
  return !adapter.fundsCheckedInLedger && wanted === 'auto';
}

const OK: CarrierResult = { outcome: CarrierOutcome.OK, detail: '' };

/**
 * The carrier side of a wallet-funded debit: nothing to do there (the ledger
 * holds, captures and gives back the money). Used in place of the operator's
 * adapter for every step after the reserve.
 */
export const WALLET_FUNDED: Pick<CarrierAdapter, 'capture' | 'release' | 'refund'> = {
  capture: async () => OK,
  release: async () => OK,
  refund: async () => OK,
};

/** The adapter a debit's later steps (capture, release, refund) go through. */
export function stepsFor(funding: string, adapter: CarrierAdapter): Pick<CarrierAdapter, 'capture' | 'release' | 'refund'> {
  return ledgerFunded(funding) ? WALLET_FUNDED : adapter;
}
