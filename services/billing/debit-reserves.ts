// A debit's reserve, when the challenge is sent: the request checked, the debit claimed
// ('reserving', its funding decided: funding.ts) in a commit of its own before the carrier is
// called (so a void arriving meanwhile finds it), the carrier's reserve for a carrier-funded
// debit, then one transaction that books the ledger hold, settles the claim and enqueues the
// result. Claims a reserve never completed are released and refused by a sweep.
import type pg from 'pg';
import { fundingToProto, moneyToProto, type dialpay, type MoneyMinor } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { Events } from '../../runtime/nats/index.js';
import { withTransaction } from '../../runtime/pg/index.js';
import { named, query } from '../../runtime/pg/named.js';
import { claimedAt, lockDebit, updateDebitAtCommit, type DebitRow } from './debit-rows.js';
import { AccountIds, AGENT_ID, reserveTransfer, voidTransfer } from './ledger/rules.js';
import { CarrierOutcome, type CarrierAdapter, type CarrierResult } from './adapters/types.js';
import {
  CLAIMS_SQL, claimFunding, fundingWanted, ledgerFunded, ledgerPayerAccount, mayFallBackToCarrier, stepsFor,
  type Funding, type FundingWanted,
} from './funding.js';
import {
  CarrierUnavailableError, DebitOutcome, money, OUTCOME_BY_CARRIER, required, reserveOf,
  type DebitContext, type DebitOutcomeValue,
} from './debit-context.js';
import { enqueueResult } from './debit-results.js';
import { screenSimSwaps } from './debit-screens.js';

const CLAIMS = named('billing.claimReserves', CLAIMS_SQL);

/** A reserve request read: refused at once (unknown operator, another currency), or to be claimed. */
export type ReserveCheck = ReserveRefusal | ClaimCheck;

export interface ReserveRefusal {
  readonly kind: 'refuse';
  readonly request: dialpay.v1.IDebitReserveRequested;
  readonly debitId: string;
  readonly paymentId: string;
  readonly amount: MoneyMinor;
  readonly outcome: DebitOutcomeValue;
  readonly detail: string;
}

export interface ClaimCheck {
  readonly kind: 'claim';
  readonly request: dialpay.v1.IDebitReserveRequested;
  readonly debitId: string;
  readonly paymentId: string;
  readonly amount: MoneyMinor;
  readonly operator: OperatorConfig;
  readonly adapter: CarrierAdapter;
  readonly msisdn: string;
  readonly wanted: FundingWanted;
  /** A cash-in's agent, whose float pays ('agent-float'); '' otherwise. */
  readonly agentId: string;
}

/** A reserve after its claim: the claimed row (new, or as an earlier delivery left it). */
export type ReserveClaim = ReserveRefusal | { readonly kind: 'claimed'; readonly check: ClaimCheck; readonly debit: DebitRow };

/** A reserve ready to book: what the carrier answered, null when it was not asked (wallet-funded, already settled). */
export type ReserveBooking = (ReserveRefusal & { readonly carrier: null })
  | { readonly kind: 'claimed'; readonly check: ClaimCheck; readonly debit: DebitRow; readonly carrier: CarrierResult | null };

/** What the transaction of a carrier-funded reserve decided; 'release-…': release at the carrier, then refuse. */
type ReserveDecision = 'done' | 'again' | 'release-insufficient' | 'release-relapse';

/**
 * One reserve on its own: the claim (committed before the carrier is called, so a void that
 * arrives meanwhile finds it), the carrier for a carrier-funded debit, then one transaction
 * that books the ledger, settles the claim and enqueues the result (bookReserve).
 */
export async function reserveOne(ctx: DebitContext, request: dialpay.v1.IDebitReserveRequested): Promise<void> {
  // Twice at most: a wallet that fell short switches the debit to the carrier once.
  for (let round = 0; round < 2; round++) {
    const [check] = await screenSimSwaps(ctx, [checkReserve(ctx, request)]);
    if (!check) throw new Error('screenSimSwaps lost a check');
    const claim = check.kind === 'refuse' ? check : await claimOne(ctx, check);
    if ((await bookReserve(ctx, await reserveAtCarrier(ctx, claim))) === 'done') return;
  }
  throw new Error(`reserve of ${request.debitId ?? ''}: the wallet fell short after the debit switched to the carrier`);
}

/** A reserve request read and checked; a refusal needs no claim and no carrier. Throws when a required field is missing. */
export function checkReserve(ctx: DebitContext, request: dialpay.v1.IDebitReserveRequested): ReserveCheck {
  const debitId = required(request.debitId, 'debitId');
  const paymentId = required(request.paymentId, 'paymentId');
  const amount = money(request.amount, 'amount');
  const refuse = (detail: string): ReserveCheck =>
    ({ kind: 'refuse', request, debitId, paymentId, amount, outcome: DebitOutcome.DEBIT_OUTCOME_REJECTED, detail });
  const operator = ctx.operators.get(request.operatorId ?? '');
  if (!operator) return refuse(`unknown operator ${request.operatorId}`);
  if (operator.currency !== amount.currency) return refuse(`operator bills in ${operator.currency}`);
  const adapter = ctx.adapterFor(operator);
  const msisdn = required(request.msisdn, 'msisdn');
  const wanted = fundingWanted(request.funding);
  const agentId = wanted === 'agent-float' ? (request.agentId ?? '') : '';
  if (wanted === 'agent-float' && !AGENT_ID.test(agentId)) {
    return refuse(`agent-float funding needs an agent id, not ${JSON.stringify(agentId)}`);
  }
  return { kind: 'claim', request, debitId, paymentId, amount, operator, adapter, msisdn, wanted, agentId };
}

/**
 * Claims the debits ('reserving') in one statement, each with its funding decided in the
 * statement (the wallet first: funding.ts's CLAIMS_SQL), and answers every claimed row: new or left by an earlier
 * delivery. A row claimed by a concurrent statement that committed meanwhile may be missing.
 */
export async function claimReserves(ctx: DebitContext, checks: readonly ClaimCheck[]): Promise<Map<string, DebitRow>> {
  const unique = [...new Map(checks.map((c) => [c.debitId, c])).values()].sort((a, b) => (a.debitId < b.debitId ? -1 : 1));
  const column = <T>(f: (c: ClaimCheck) => T) => unique.map(f);
  const { rows } = await query<DebitRow>(ctx.pool, CLAIMS, [
    column((c) => c.debitId), column((c) => c.paymentId), column((c) => c.operator.id), column((c) => c.msisdn),
    column((c) => c.amount.currency), column((c) => c.amount.amountMinor.toString()),
    column((c) => c.adapter.payerAccountId(c.operator.id, c.msisdn)), column((c) => c.adapter.name),
    column((c) => claimFunding(c.adapter, c.wanted)), column((c) => ledgerPayerAccount(c.wanted, c.msisdn, c.agentId)),
  ]);
  return new Map(rows.map((r) => [r.debit_id, r]));
}

async function claimOne(ctx: DebitContext, check: ClaimCheck): Promise<ReserveClaim> {
  // A second look finds a row a concurrent claim committed after the first statement's snapshot.
  for (let attempt = 0; attempt < 2; attempt++) {
    const debit = (await claimReserves(ctx, [check])).get(check.debitId);
    if (debit) return { kind: 'claimed', check, debit };
  }
  throw new Error(`debit ${check.debitId} was neither claimed nor found`);
}

/**
 * The carrier's part of a claimed reserve, outside any transaction: a carrier-funded debit still
 * 'reserving' is reserved at the carrier (idempotent on the debit id). Throws while the carrier's
 * answer is unknown: the claim stays and the reserve is delivered again.
 */
export async function reserveAtCarrier(ctx: DebitContext, claim: ReserveClaim): Promise<ReserveBooking> {
  if (claim.kind === 'refuse' || claim.debit.state !== 'reserving' || ledgerFunded(claim.debit.funding)) return { ...claim, carrier: null };
  const { check, debit } = claim;
  const carrier = await check.adapter.reserve({
    debitId: check.debitId, msisdn: check.msisdn, currency: check.amount.currency, amountMinor: check.amount.amountMinor,
    description: check.request.description ?? '', claimedAtMs: claimedAt(debit),
  });
  // The carrier may hold it (an answer lost, its status unknown): not a refusal. The claim stays
  // 'reserving' with the carrier's reference, and the reserve is delivered again (then the stale-claim sweep releases it).
  if (carrier.outcome === CarrierOutcome.UNAVAILABLE && carrier.uncertain) {
    if (carrier.carrierRef) await keepCarrierRef(ctx, check.debitId, carrier.carrierRef);
    throw new CarrierUnavailableError(check.debitId, carrier.detail);
  }
  return { ...claim, carrier };
}

async function keepCarrierRef(ctx: DebitContext, debitId: string, carrierRef: string): Promise<void> {
  await withTransaction(ctx.pool, 'READ COMMITTED',
    (client) => client.query('UPDATE billing.debits SET carrier_ref = $2 WHERE debit_id = $1', [debitId, carrierRef]));
}

/**
 * Everything a reserve writes after its claim, in one transaction: the debit locked, the ledger
 * hold (balance-checked in the same statement), the claim settled, the result enqueued.
 * 'again': the wallet fell short and the debit switched to the carrier; reserve it again.
 */
export async function bookReserve(ctx: DebitContext, booking: ReserveBooking): Promise<'done' | 'again'> {
  if (booking.kind === 'refuse') {
    await refuse(ctx, booking.request, booking.amount, booking.outcome, booking.detail);
    return 'done';
  }
  const { check, carrier } = booking;
  const amount = check.amount;
  const decided = await withTransaction(ctx.pool, 'READ COMMITTED', async (client): Promise<ReserveDecision> => {
    const debit = await lockDebit(client, check.debitId);
    if (!debit) throw new Error(`debit ${check.debitId} vanished after its claim`);
    if (debit.state !== 'reserving') {
      // settled by someone else (another delivery, the sweep, a void first): say what they decided
      await enqueueStateResult(client, debit, amount);
      return 'done';
    }
    if (ledgerFunded(debit.funding)) return bookLedgerReserve(ctx, client, debit, check);
    if (!carrier) return 'again'; // the claim was read as wallet-funded and has switched since
    return bookCarrierReserveIn(ctx, client, debit, check, carrier);
  });
  if (decided !== 'release-insufficient' && decided !== 'release-relapse') return decided;
  // Never settle "reserved" over a hold the ledger refused or released: release at the carrier first, then refuse.
  const released = await check.adapter.release(check.debitId, carrier?.carrierRef, claimedAt(booking.debit));
  if (released.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(check.debitId, released.detail);
  const [outcome, detail] = decided === 'release-insufficient'
    ? [DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS, '']
    : [DebitOutcome.DEBIT_OUTCOME_CARRIER_UNAVAILABLE, 'released after an earlier refusal'];
  await settleOrReport(ctx, check.debitId, outcome, amount, detail);
  return 'done';
}

/** A carrier-funded reserve the carrier answered, in bookReserve's transaction: the ledger hold, or the refusal. */
async function bookCarrierReserveIn(
  ctx: DebitContext, client: pg.ClientBase, debit: DebitRow, check: ClaimCheck, carrier: CarrierResult,
): Promise<ReserveDecision> {
  const amount = check.amount;
  const carrierRef = carrier.carrierRef ?? null;
  if (carrier.outcome !== CarrierOutcome.OK) {
    // An earlier delivery may have booked the hold before it died: release it with the refusal.
    await releaseLedgerHoldIn(ctx, client, debit);
    await settleIn(client, debit, 'refused', OUTCOME_BY_CARRIER[carrier.outcome], amount, carrier.detail, carrierRef);
    return 'done';
  }
  await ctx.ledger.ensureAccountsIn(client, [
    { id: debit.payer_account_id, kind: check.adapter.fundsCheckedInLedger ? 'subscriber' : 'carrier_clearing', currency: amount.currency },
    { id: AccountIds.holds(amount.currency), kind: 'holds', currency: amount.currency },
  ]);
  const [booked] = await ctx.ledger.applyIn(client, [reserveTransfer({
    id: `reserve:${debit.debit_id}`, paymentId: debit.payment_id, currency: amount.currency,
    payerAccountId: debit.payer_account_id, amountMinor: amount.amountMinor,
  })]);
  const release = booked?.outcome === 'insufficient-funds' ? 'release-insufficient'
    // An earlier delivery refused this debit and released its ledger hold: the carrier must not keep one either.
    : booked?.outcome === 'duplicate' && (await ctx.ledger.transferAmount(`void:${debit.debit_id}`, client)) !== null ? 'release-relapse'
      : null;
  if (release) {
    if (carrierRef) await client.query('UPDATE billing.debits SET carrier_ref = $2 WHERE debit_id = $1', [debit.debit_id, carrierRef]);
    return release;
  }
  await settleIn(client, debit, 'reserved', DebitOutcome.DEBIT_OUTCOME_OK, amount, '', carrierRef);
  return 'done';
}

/**
 * A ledger-funded reserve (funding.ts): wallet -> holds, or an agent's float -> holds for a
 * cash-in, balance-checked in the ledger's statement (short: refused, nothing moved).
 */
async function bookLedgerReserve(ctx: DebitContext, client: pg.ClientBase, debit: DebitRow, check: ClaimCheck): Promise<'done' | 'again'> {
  const amount = check.amount;
  await ctx.ledger.ensureAccountsIn(client, [
    // A float never funded starts at zero here: the reserve is then refused for funds.
    { id: debit.payer_account_id, kind: debit.funding === 'agent-float' ? 'agent_float' : 'subscriber', currency: amount.currency },
    { id: AccountIds.holds(amount.currency), kind: 'holds', currency: amount.currency },
  ]);
  const [booked] = await ctx.ledger.applyIn(client, [reserveTransfer({
    id: `reserve:${debit.debit_id}`, paymentId: debit.payment_id, currency: amount.currency,
    payerAccountId: debit.payer_account_id, amountMinor: amount.amountMinor,
  })]);
  if (booked?.outcome === 'insufficient-funds') {
    if (!mayFallBackToCarrier(check.adapter, check.wanted)) {
      await settleIn(client, debit, 'refused', DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS, amount, '', null);
      return 'done';
    }
    // Nothing was booked (the check and the debit are one statement): the carrier pays instead.
    await client.query(
      `UPDATE billing.debits SET funding = 'carrier', payer_account_id = $2, updated_at = now()
       WHERE debit_id = $1 AND state = 'reserving' AND funding = 'wallet'`,
      [debit.debit_id, check.adapter.payerAccountId(debit.operator_id, debit.msisdn)],
    );
    return 'again';
  }
  if (booked?.outcome === 'duplicate' && (await ctx.ledger.transferAmount(`void:${debit.debit_id}`, client)) !== null) {
    const detail = 'released after an earlier refusal';
    await settleIn(client, debit, 'refused', DebitOutcome.DEBIT_OUTCOME_CARRIER_UNAVAILABLE, amount, detail, null);
    return 'done';
  }
  await settleIn(client, debit, 'reserved', DebitOutcome.DEBIT_OUTCOME_OK, amount, '', null);
  return 'done';
}

/** Voids the ledger hold of a debit that ended refused, if an earlier delivery booked one; in the caller's transaction. */
export async function releaseLedgerHoldIn(ctx: DebitContext, client: pg.ClientBase, debit: DebitRow): Promise<void> {
  if (debit.amount_minor <= 0n || (await ctx.ledger.transferAmount(`reserve:${debit.debit_id}`, client)) === null) return;
  await ctx.ledger.applyIn(client, [voidTransfer(`void:${debit.debit_id}`, reserveOf(debit))]);
}

/** Ends a claim the caller has locked in 'reserving': its state and result, in the caller's transaction. */
async function settleIn(
  client: pg.ClientBase, debit: DebitRow, state: 'reserved' | 'refused', outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string,
  carrierRef: string | null,
): Promise<void> {
  updateDebitAtCommit(client, { debitId: debit.debit_id, state, detail: state === 'refused' ? `${outcome}:${detail}` : '', carrierRef });
  await enqueueReserveResult(client, debit.debit_id, debit.payment_id, outcome, amount, detail, debit.funding);
}

/** Refuses a claim still 'reserving' (after its hold is released at the carrier), or says what became of it. */
async function settleOrReport(
  ctx: DebitContext, debitId: string, outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string,
): Promise<boolean> {
  return withTransaction(ctx.pool, 'READ COMMITTED', async (client) => {
    const debit = await lockDebit(client, debitId);
    if (!debit) return false;
    if (debit.state !== 'reserving') {
      await enqueueStateResult(client, debit, amount);
      return false;
    }
    await releaseLedgerHoldIn(ctx, client, debit);
    await settleIn(client, debit, 'refused', outcome, amount, detail, null);
    return true;
  });
}

/** The reserve result a debit's settled state stands for. */
function enqueueStateResult(client: pg.ClientBase, debit: DebitRow, amount: MoneyMinor): Promise<void> {
  const { debit_id: debitId, payment_id: paymentId } = debit;
  switch (debit.state) {
    case 'reserved':
    case 'captured':
      return enqueueReserveResult(client, debitId, paymentId, DebitOutcome.DEBIT_OUTCOME_OK, amount, '', debit.funding);
    case 'refused':
      return enqueueReserveResult(client, debitId, paymentId, outcomeOf(debit.detail), amount, debit.detail.replace(/^\d+:/, ''));
    default: // voided (cancelled by STOP or expiry before this reserve arrived): hold nothing
      return enqueueReserveResult(client, debitId, paymentId, DebitOutcome.DEBIT_OUTCOME_REJECTED, amount,
        'cancelled before it was reserved');
  }
}

/**
 * Claims left in 'reserving' (their reserve kept failing and went to the dead-letter stream)
 * would hold money forever: release at the carrier and in the ledger, and refuse them.
 */
export async function resolveStaleClaims(ctx: DebitContext, olderThanMs: number): Promise<number> {
  const { rows } = await ctx.pool.query<DebitRow>(
    `SELECT * FROM billing.debits WHERE state = 'reserving' AND updated_at < now() - ($1::bigint * interval '1 millisecond')
     ORDER BY updated_at LIMIT 100`,
    [olderThanMs],
  );
  let resolved = 0;
  for (const debit of rows) {
    const operator = ctx.operators.get(debit.operator_id);
    if (!operator) continue;
    const released = await stepsFor(debit.funding, ctx.adapterFor(operator))
      .release(debit.debit_id, debit.carrier_ref ?? undefined, claimedAt(debit));
    if (released.outcome === CarrierOutcome.UNAVAILABLE) continue; // next sweep
    const amount = { amountMinor: debit.amount_minor, currency: debit.currency };
    await settleOrReport(ctx, debit.debit_id, DebitOutcome.DEBIT_OUTCOME_CARRIER_UNAVAILABLE, amount, 'reserve never completed');
    resolved++;
  }
  return resolved;
}

async function refuse(
  ctx: DebitContext, request: dialpay.v1.IDebitReserveRequested, amount: MoneyMinor, outcome: DebitOutcomeValue, detail: string,
): Promise<void> {
  const debitId = request.debitId as string;
  await withTransaction(ctx.pool, 'READ COMMITTED', async (client) => {
    const { rowCount } = await client.query(
      `INSERT INTO billing.debits (debit_id, payment_id, operator_id, msisdn, currency, amount_minor, payer_account_id, adapter,
         state, detail)
       VALUES ($1, $2, $3, $4, $5, $6, '', '', 'refused', $7) ON CONFLICT (debit_id) DO NOTHING`,
      [debitId, request.paymentId, request.operatorId ?? '', request.msisdn ?? '', amount.currency, amount.amountMinor.toString(),
        `${outcome}:${detail}`],
    );
    // Another delivery got there first (a SIM-swap hold decided while it claimed): its decision stands.
    const earlier = rowCount === 0 ? await lockDebit(client, debitId) : null;
    if (earlier) return enqueueStateResult(client, earlier, amount);
    await enqueueReserveResult(client, debitId, request.paymentId as string, outcome, amount, detail);
  });
}

function enqueueReserveResult(
  client: pg.ClientBase, debitId: string, paymentId: string, outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string,
  funding?: Funding,
): Promise<void> {
  const ok = outcome === DebitOutcome.DEBIT_OUTCOME_OK;
  return enqueueResult(client, Events.debitReserveResult, 'reserve', debitId, paymentId, outcome, {
    reserved: ok ? moneyToProto(amount) : null, detail, funding: ok && funding ? fundingToProto(funding) : null,
  });
}

/** The outcome a refused debit recorded in its detail ("<outcome>:<text>"). */
function outcomeOf(detail: string): DebitOutcomeValue {
  const code = Number(detail.split(':')[0]);
  return Number.isInteger(code) && code > 0 ? (code as DebitOutcomeValue) : DebitOutcome.DEBIT_OUTCOME_REJECTED;
}
