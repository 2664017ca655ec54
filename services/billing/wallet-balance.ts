// BAL, SOLDE and the USSD balance screens: the subscriber's dialpay wallet
// (the ledger account subscriber:<msisdn>, which transfers received and
// refunds of wallet payments credit), the carrier account's balance beside it
// on a carrier-billed operator, and the mini statement: money out (captured
// debits, whichever source paid them, a cash-out to an agent among them) and
// money in (transfers received, cash-ins at an agent, refunds), newest first,
// bounded. An agent's line reads "agent:<id>" as its counterparty
// (runtime/statement.ts shows "Deposit, agent AG1001" or "Withdrawal, ..."); an operator's deposit
// "deposit:<operator name>" and a merchant's payout "payout:<merchant name>" (credits.ts), with the
// caller's reference in the line's paymentId ("Deposit, Safaricom, Ref SAL-NOV"). A reversal of a
// transfer sent to the wrong number (reversals.ts) reads "reversal:" with the transfer's reference, money
// in for its payer and money out for its payee ("Reversal, Ref 1A2B3C4D").
// With agent_id, an agent's float instead (the USSD agent menu's "Float balance").
import type pg from 'pg';
import { moneyToProto, unixMsToProto, type dialpay } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import type { Ledger } from './ledger/store.js';
import { AccountIds, AGENT_ID } from './ledger/rules.js';
import { readAgentFloat } from './agent-floats.js';
import type { CarrierAdapter } from './adapters/types.js';
import { isE164 } from '../../runtime/msisdn.js';

/** The most statement lines a request may ask for. */
export const STATEMENT_LINES_MAX = 10;

export interface BalanceDeps {
  readonly pool: pg.Pool;
  readonly ledger: Ledger;
  readonly adapter: CarrierAdapter;
}

/** The wallet's balance; a wallet never credited is simply empty. */
export async function walletBalance(pool: pg.Pool | pg.ClientBase, msisdn: string): Promise<bigint> {
  const { rows } = await pool.query<{ balance_minor: bigint | null }>(
    'SELECT balance_minor FROM billing.accounts WHERE id = $1', [AccountIds.subscriber(msisdn)],
  );
  return BigInt(rows[0]?.balance_minor ?? 0n);
}

export async function subscriberBalance(
  deps: BalanceDeps, operator: OperatorConfig, request: dialpay.v1.IBalanceRequest,
): Promise<dialpay.v1.IBalanceReply> {
  const msisdn = request.msisdn ?? '';
  if (!isE164(msisdn)) return { available: false };
  const currency = operator.currency;
  if (request.agentId) {
    // The agent menu's float balance (issue 16): the float alone, in the wallet field.
    if (!AGENT_ID.test(request.agentId)) return { available: false };
    return { available: true, wallet: moneyToProto({ amountMinor: await readAgentFloat(deps.pool, request.agentId), currency }) };
  }
  const wallet = moneyToProto({ amountMinor: await walletBalance(deps.pool, msisdn), currency });
  if (request.walletOnly) return { available: true, wallet };
  // A wallet-model operator's account is the wallet: nothing else to ask.
  const carrier = deps.adapter.fundsCheckedInLedger ? null : await deps.adapter.balance(operator.id, msisdn, currency);
  const limit = Math.min(Math.max(request.statementLinesMax ?? 5, 0), STATEMENT_LINES_MAX);
  return {
    // The carrier not answering hides nothing of ours: the wallet and the statement are still shown.
    available: true, wallet, carrierUnavailable: !deps.adapter.fundsCheckedInLedger && carrier === null,
    ...(carrier === null ? {} : { balance: moneyToProto({ amountMinor: carrier, currency }) }),
    lines: limit === 0 ? [] : await statement(deps.pool, msisdn, currency, limit),
  };
}

interface Movement { payment_id: string; amount_minor: string; counterparty: string; at: Date }

/**
 * Money out and money in, newest first: captured debits of this number (negative; a cash-out's
 * counterparty is agent:<id>, its payee), the part of a transfer or cash-in to this number that its
 * wallet received (a cash-in's counterparty is its agent's float, agent:<id>), refunds of its
 * payments and airtime its operator refused to credit, deposits and payouts into its wallet (positive), reversals
 * (positive for the payer, negative for the payee). A cash-in is not money out of
 * the agent's own wallet: its float paid. Each branch reads at most `limit` rows through its own index.
 * Customer care's `subscriber show` reads the same lines (care-lookup.ts), more of them.
 */
export async function statement(
  pool: pg.Pool | pg.ClientBase, msisdn: string, currency: string, limit: number,
): Promise<dialpay.v1.IStatementLine[]> {
  const { rows } = await pool.query<Movement>(
    `SELECT payment_id, amount_minor::text AS amount_minor, counterparty, at FROM (
       (SELECT payment_id, -captured_minor AS amount_minor, payee AS counterparty, updated_at AS at
          FROM billing.debits WHERE msisdn = $1 AND state = 'captured' AND funding <> 'agent-float' ORDER BY updated_at DESC LIMIT $2)
       UNION ALL
       (SELECT d.payment_id, p.amount_minor, CASE WHEN d.funding = 'agent-float' THEN d.payer_account_id ELSE d.msisdn END, d.updated_at
          FROM billing.debits d JOIN billing.postings p ON p.transfer_id = 'capture:' || d.debit_id AND p.account_id = $3
          WHERE d.payee = $1 AND d.state = 'captured' AND (d.msisdn <> $1 OR d.funding = 'agent-float') ORDER BY d.updated_at DESC LIMIT $2)
       UNION ALL
       (SELECT d.payment_id, r.amount_minor, d.payee, r.updated_at
          FROM billing.debits d JOIN billing.refunds r ON r.debit_id = d.debit_id
          WHERE d.msisdn = $1 AND d.state = 'captured' AND r.state = 'refunded' ORDER BY r.updated_at DESC LIMIT $2)
       UNION ALL
       (SELECT d.payment_id, p.amount_minor, d.payee, d.updated_at
          FROM billing.debits d JOIN billing.postings p ON p.transfer_id = 'airtime-refund:' || d.debit_id AND p.account_id = $3
          WHERE d.msisdn = $1 AND d.state = 'captured' ORDER BY d.updated_at DESC LIMIT $2)
       UNION ALL
       (SELECT c.reference, c.amount_minor,
               CASE c.source WHEN 'merchant-payout' THEN 'payout:' || c.counterparty_name WHEN 'reversal' THEN 'reversal:'
                 ELSE 'deposit:' || c.counterparty_name END, c.created_at
          FROM billing.credits c WHERE c.msisdn = $1 AND c.outcome = 'ok' ORDER BY c.created_at DESC LIMIT $2)
       UNION ALL
       (SELECT c.reference, -c.amount_minor, 'reversal:', c.created_at
          FROM billing.credits c WHERE c.debited_msisdn = $1 AND c.outcome = 'ok' AND c.source = 'reversal'
          ORDER BY c.created_at DESC LIMIT $2)
     ) m ORDER BY at DESC LIMIT $2`,
    [msisdn, limit, AccountIds.subscriber(msisdn)],
  );
  return rows.map((r) => ({
    paymentId: r.payment_id,
    amount: moneyToProto({ amountMinor: BigInt(r.amount_minor), currency }),
    atUnixMs: unixMsToProto(r.at),
    counterparty: r.counterparty,
  }));
}
