// Agents in billing (issue 16) against real PostgreSQL: the operator tops a float up once per
// reference (fundAgentFloat), a cash-in is a debit the float pays (reserved from agent:<id>,
// balance-checked in the statement, captured to the depositor's wallet under its cap, voided
// back to the float) and a cash-out a wallet-funded debit captured into the float. Driven
// through the batch runners billing's consumers call (batches.ts); the carrier is never asked
// about an agent-float debit.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrateSchemas, type Pool } from '../../../runtime/pg/index.js';
import { dialpay, moneyFromProto, moneyToProto } from '../../../proto/index.js';
import { DebitService, SimulatedCarrier, fundAgentFloat, readAgentFloat, returnAgentFloat } from '../../../services/billing/index.js';
import { runCaptureBatch, runReserveBatch, runVoidBatch } from '../../../services/billing/batches.js';
import { Ledger } from '../../../services/billing/ledger/store.js';
import { walletAdapter } from '../../../services/billing/adapters/wallet.js';
import type { CarrierAdapter } from '../../../services/billing/adapters/types.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { checkAccounts, checkAgentFloats } from '../../../load-tests/harness/invariants.js';
import { setupStack, quietLogger, type Stack } from '../../support/stack.js';

const { DebitOutcome, FundingSource, DebitReserveResult, DebitCaptureResult, DebitVoidResult } = dialpay.v1;
const log = quietLogger();
let stack: Stack;
let pool: Pool;
let ledger: Ledger;
let debits: DebitService;
/** Debit ids the simulated carrier was asked about (reserve, capture, release). */
const carrierCalls: string[] = [];
const simulator = new SimulatedCarrier({ openingBalanceMinor: 100_000n });
const XOF = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: 'XOF' });
const KES = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: 'KES' });
let n = 0;
const nextId = (prefix: string) => `${prefix}-${++n}`;
const items = <M>(messages: readonly M[]) => messages.map((message) => ({ message }));
const AGENT_LINE = '221770001000';

function watched(adapter: CarrierAdapter): CarrierAdapter {
  return {
    ...adapter, name: adapter.name, fundsCheckedInLedger: adapter.fundsCheckedInLedger,
    payerAccountId: (o, m) => adapter.payerAccountId(o, m),
    reserve: (r) => (carrierCalls.push(r.debitId), adapter.reserve(r)),
    capture: (id, a, ref) => (carrierCalls.push(id), adapter.capture(id, a, ref)),
    release: (id, ref, at) => (carrierCalls.push(id), adapter.release(id, ref, at)),
    refund: (r, id, a, ref) => adapter.refund(r, id, a, ref),
    balance: (o, m, c) => adapter.balance(o, m, c),
  };
}

beforeAll(async () => {
  stack = await setupStack();
  await migrateSchemas(stack.databaseUrl, [{ schema: 'billing', dir: fileURLToPath(new URL('../../../services/billing/migrations/', import.meta.url)) }], log);
  pool = createPool({ url: stack.databaseUrl, poolSizeMax: 6, connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, applicationName: 'test' }, log);
  ledger = new Ledger(pool);
  const wallet = watched(walletAdapter(ledger));
  const carrier = watched(simulator);
  debits = new DebitService({ pool, ledger, operators: new Map(stack.config.operators.map((o) => [o.id, o])), adapterFor: (o) => (o.billingAdapter === 'wallet' ? wallet : carrier), log });
});
afterAll(async () => {
  await pool?.end();
  await stack?.cleanup();
});

/** A cash-in's reserve on orange-sn (wallet model, XOF): the agent's line pays from its float. */
const cashInReserve = (debitId: string, agentId: string, amountMinor: bigint): dialpay.v1.IDebitReserveRequested => ({
  debitId, paymentId: `p-${debitId}`, operatorId: 'orange-sn', msisdn: AGENT_LINE, amount: XOF(amountMinor), description: 'cash-in',
  funding: FundingSource.FUNDING_SOURCE_AGENT_FLOAT, agentId,
});
const cashInCapture = (
  debitId: string, payeeMsisdn: string, amountMinor: bigint, capMinor?: bigint,
): dialpay.v1.IDebitCaptureRequested => ({
  debitId, paymentId: `p-${debitId}`, amount: XOF(amountMinor), payeeMsisdn, payeeAmount: XOF(amountMinor), fee: XOF(0n), operatorShare: XOF(0n),
  ...(capMinor === undefined ? {} : { payeeWalletMax: XOF(capMinor) }),
});

/** The result billing enqueued for a debit's step (the outbox keeps it: no relay runs here). */
async function outcome<T>(step: 'reserve' | 'capture' | 'void', debitId: string, decode: (b: Uint8Array) => T): Promise<T> {
  const { rows } = await pool.query<{ payload: Buffer }>('SELECT payload FROM billing.outbox WHERE event_id LIKE $1 ORDER BY id DESC LIMIT 1', [`debit-${step}-result:${debitId}:%`]);
  if (!rows[0]) throw new Error(`no ${step} result for ${debitId}`);
  return decode(rows[0].payload);
}
const reserveResult = (id: string) => outcome('reserve', id, (b) => DebitReserveResult.decode(b));
const captureResult = (id: string) => outcome('capture', id, (b) => DebitCaptureResult.decode(b));
const voidResult = (id: string) => outcome('void', id, (b) => DebitVoidResult.decode(b));

async function debitRow(debitId: string): Promise<{ state: string; funding: string; payer_account_id: string } | undefined> {
  return (await pool.query<{ state: string; funding: string; payer_account_id: string }>('SELECT state, funding, payer_account_id FROM billing.debits WHERE debit_id = $1', [debitId])).rows[0];
}
const holds = (currency: string) => ledger.balance(AccountIds.holds(currency)).catch(() => 0n);
const wallet = async (msisdn: string) => ledger.balance(AccountIds.subscriber(msisdn)).catch(() => 0n);
const expectAllSettled = (results: PromiseSettledResult<void>[]) => expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : r.status))).toEqual(results.map(() => 'fulfilled'));

async function expectSoundLedger(): Promise<void> {
  expect(await ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
  expect((await checkAgentFloats(pool)).map((c) => [c.ok, c.detail])).toEqual([[true, expect.stringContaining('0 misnamed, 0 of no registered agent, 0 negative, 0 funding accounts above zero')]]);
  expect((await checkAccounts(pool, stack.config.operators)).every((c) => c.ok)).toBe(true);
}

describe('float top-up (fundAgentFloat)', () => {
  it('books a reference once; the same again is "already"; the reference with another amount or agent is a conflict, nothing booked', async () => {
    const top = { operatorId: 'orange-sn', agentId: 'AG2001', currency: 'XOF', amountMinor: 50_000n, reference: 'WIRE-1' };
    expect(await fundAgentFloat(pool, top)).toEqual({ outcome: 'funded', transferId: 'float:orange-sn:WIRE-1', balanceMinor: 50_000n });
    expect(await fundAgentFloat(pool, top)).toEqual({ outcome: 'already', transferId: 'float:orange-sn:WIRE-1', balanceMinor: 50_000n });
    expect(await fundAgentFloat(pool, { ...top, amountMinor: 60_000n })).toMatchObject({ outcome: 'conflict', transferId: 'float:orange-sn:WIRE-1' });
    expect(await fundAgentFloat(pool, { ...top, agentId: 'AG2002' })).toMatchObject({ outcome: 'conflict', detail: expect.stringContaining('agent:AG2001') });
    expect(await fundAgentFloat(pool, { ...top, currency: 'KES' })).toMatchObject({ outcome: 'conflict' });
    // Two at once with one reference: one books, the other is told it was already.
    const both = await Promise.all([fundAgentFloat(pool, { ...top, reference: 'WIRE-2' }), fundAgentFloat(pool, { ...top, reference: 'WIRE-2' })]);
    expect(both.map((r) => r.outcome).sort()).toEqual(['already', 'funded']);
    expect(await readAgentFloat(pool, 'AG2001')).toBe(100_000n);
    expect(await readAgentFloat(pool, 'AG2002')).toBe(0n); // never created by the refused call
    expect((await pool.query('SELECT 1 FROM billing.accounts WHERE id = $1', ['agent:AG2002'])).rowCount).toBe(0);
    expect(await ledger.balance(AccountIds.operatorFunding('orange-sn'))).toBe(-100_000n);
    const transfers = await pool.query<{ id: string }>("SELECT id FROM billing.transfers WHERE id LIKE 'float:orange-sn:%' ORDER BY id");
    expect(transfers.rows.map((r) => r.id)).toEqual(['float:orange-sn:WIRE-1', 'float:orange-sn:WIRE-2']);
    // Another operator's reference of the same name is its own.
    expect(await fundAgentFloat(pool, { ...top, operatorId: 'safaricom-ke', agentId: 'AG2003', currency: 'KES' })).toMatchObject({ outcome: 'funded', transferId: 'float:safaricom-ke:WIRE-1' });
    await expectSoundLedger();
  });

  it('refuses what it cannot book: a bad amount, agent or reference, or a float in another currency', async () => {
    const top = { operatorId: 'orange-sn', agentId: 'AG2011', currency: 'XOF', amountMinor: 1_000n, reference: 'R-1' };
    expect(await fundAgentFloat(pool, { ...top, amountMinor: 0n })).toMatchObject({ outcome: 'invalid' });
    expect(await fundAgentFloat(pool, { ...top, agentId: 'not an agent' })).toMatchObject({ outcome: 'invalid' });
    expect(await fundAgentFloat(pool, { ...top, reference: '' })).toMatchObject({ outcome: 'invalid' });
    expect(await fundAgentFloat(pool, top)).toMatchObject({ outcome: 'funded' });
    expect(await fundAgentFloat(pool, { ...top, currency: 'KES', reference: 'R-2' })).toMatchObject({ outcome: 'invalid', detail: expect.stringContaining('XOF') });
    expect(await readAgentFloat(pool, 'AG2011')).toBe(1_000n);
  });
});

describe('float return (returnAgentFloat)', () => {
  it('takes float back to the funding account once per reference; more than the float is short and moves nothing', async () => {
    const top = { operatorId: 'orange-sn', agentId: 'AG2021', currency: 'XOF', amountMinor: 30_000n, reference: 'RET-FUND-1' };
    expect(await fundAgentFloat(pool, top)).toMatchObject({ outcome: 'funded', balanceMinor: 30_000n });
    const fundingBefore = await ledger.balance(AccountIds.operatorFunding('orange-sn'));
    const back = { ...top, amountMinor: 12_000n, reference: 'RETIRE-1' };
    expect(await returnAgentFloat(pool, back)).toEqual({ outcome: 'funded', transferId: 'float-return:orange-sn:RETIRE-1', balanceMinor: 18_000n });
    expect(await returnAgentFloat(pool, back)).toEqual({ outcome: 'already', transferId: 'float-return:orange-sn:RETIRE-1', balanceMinor: 18_000n });
    expect(await returnAgentFloat(pool, { ...back, amountMinor: 1n })).toMatchObject({ outcome: 'conflict' });
    expect(await returnAgentFloat(pool, { ...back, amountMinor: 18_001n, reference: 'RETIRE-2' })).toMatchObject({ outcome: 'short', detail: expect.stringContaining('18000') });
    expect((await pool.query("SELECT 1 FROM billing.transfers WHERE id = 'float-return:orange-sn:RETIRE-2'")).rowCount).toBe(0);
    // The rest, to zero: the float can be emptied, never passed.
    expect(await returnAgentFloat(pool, { ...back, amountMinor: 18_000n, reference: 'RETIRE-3' })).toMatchObject({ outcome: 'funded', balanceMinor: 0n });
    expect(await ledger.balance(AccountIds.operatorFunding('orange-sn'))).toBe(fundingBefore + 30_000n);
    // A top-up's reference is not a return's: each direction keeps its own.
    expect(await returnAgentFloat(pool, { ...top, reference: 'RET-FUND-1' })).toMatchObject({ outcome: 'short' });
    await expectSoundLedger();
  });
});

describe('agent-float debits through the batch runners', () => {
  it('cash-in: the float pays, batched with an ordinary carrier debit; the depositor\'s wallet gets it; the carrier is never asked', async () => {
    await fundAgentFloat(pool, { operatorId: 'orange-sn', agentId: 'AG1001', currency: 'XOF', amountMinor: 10_000n, reference: 'CI-1' });
    const depositor = '221770001001';
    const cashIn = nextId('cash-in');
    const carrierDebit = nextId('carrier');
    const holdsBefore = await holds('XOF');
    expectAllSettled(await runReserveBatch(debits, items([
      cashInReserve(cashIn, 'AG1001', 3_000n),
      { debitId: carrierDebit, paymentId: `p-${carrierDebit}`, operatorId: 'safaricom-ke', msisdn: '254770001002', amount: KES(500n), description: 'pay' },
    ])));
    expect(await reserveResult(cashIn))
      .toMatchObject({ outcome: DebitOutcome.DEBIT_OUTCOME_OK, funding: FundingSource.FUNDING_SOURCE_AGENT_FLOAT });
    expect(await debitRow(cashIn)).toEqual({ state: 'reserved', funding: 'agent-float', payer_account_id: 'agent:AG1001' });
    expect((await debitRow(carrierDebit))?.state).toBe('reserved');
    expect(await readAgentFloat(pool, 'AG1001')).toBe(7_000n);
    expect(await holds('XOF')).toBe(holdsBefore + 3_000n);

    expectAllSettled(await runCaptureBatch(debits, items([
      cashInCapture(cashIn, depositor, 3_000n, 200_000n),
      { debitId: carrierDebit, paymentId: `p-${carrierDebit}`, amount: KES(500n), merchantId: 'SHOP42', payeeAmount: KES(500n) },
    ])));
    expect(await captureResult(cashIn)).toMatchObject({ outcome: DebitOutcome.DEBIT_OUTCOME_OK });
    expect(await wallet(depositor)).toBe(3_000n);
    expect(await readAgentFloat(pool, 'AG1001')).toBe(7_000n);
    expect(await holds('XOF')).toBe(holdsBefore);
    expect(carrierCalls.filter((id) => id === cashIn)).toEqual([]);
    expect(carrierCalls.filter((id) => id === carrierDebit)).toHaveLength(2); // reserved and captured at the carrier as ever

    // BAL: money in for the depositor, named by the agent; nothing out of the agent's own wallet.
    const mine = await debits.balance({ operatorId: 'orange-sn', msisdn: depositor, statementLinesMax: 5 });
    expect((mine.lines ?? []).map((l) => [moneyFromProto(l.amount).amountMinor, l.counterparty, l.paymentId])).toEqual([[3_000n, 'agent:AG1001', `p-${cashIn}`]]);
    const agents = await debits.balance({ operatorId: 'orange-sn', msisdn: AGENT_LINE, statementLinesMax: 5 });
    expect(agents.lines ?? []).toEqual([]);
    await expectSoundLedger();
  });

  it('refuses a cash-in the float does not cover, moving nothing; refuses one without an agent', async () => {
    await fundAgentFloat(pool, { operatorId: 'orange-sn', agentId: 'AG1002', currency: 'XOF', amountMinor: 1_000n, reference: 'CI-2' });
    const short = nextId('short');
    const noAgent = nextId('no-agent');
    const holdsBefore = await holds('XOF');
    expectAllSettled(await runReserveBatch(debits, items([cashInReserve(short, 'AG1002', 1_001n), cashInReserve(noAgent, '', 10n)])));
    expect(await reserveResult(short)).toMatchObject({ outcome: DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS });
    expect((await debitRow(short))?.state).toBe('refused');
    expect(await reserveResult(noAgent)).toMatchObject({ outcome: DebitOutcome.DEBIT_OUTCOME_REJECTED, detail: expect.stringContaining('agent id') });
    expect(await readAgentFloat(pool, 'AG1002')).toBe(1_000n);
    expect(await holds('XOF')).toBe(holdsBefore);
    expect((await pool.query('SELECT 1 FROM billing.transfers WHERE id = $1', [`reserve:${short}`])).rowCount).toBe(0);
    // An agent never funded has an empty float: refused too, on a carrier-billed operator as well.
    const unfunded = nextId('unfunded');
    await debits.reserve({ ...cashInReserve(unfunded, 'AG1999', 100n), operatorId: 'safaricom-ke', msisdn: '254770001999', amount: KES(100n) });
    expect(await reserveResult(unfunded)).toMatchObject({ outcome: DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS });
    expect(carrierCalls).not.toContain(unfunded);
    await expectSoundLedger();
  });

  it('voids a cash-in back into the float', async () => {
    await fundAgentFloat(pool, { operatorId: 'orange-sn', agentId: 'AG1003', currency: 'XOF', amountMinor: 5_000n, reference: 'CI-3' });
    const held = nextId('held');
    expectAllSettled(await runReserveBatch(debits, items([cashInReserve(held, 'AG1003', 2_000n)])));
    expect(await readAgentFloat(pool, 'AG1003')).toBe(3_000n);
    expectAllSettled(await runVoidBatch(debits, items([{ debitId: held, paymentId: `p-${held}`, reason: 'cancelled' }])));
    expect(await voidResult(held)).toMatchObject({ outcome: DebitOutcome.DEBIT_OUTCOME_OK });
    expect(await readAgentFloat(pool, 'AG1003')).toBe(5_000n);
    expect((await debitRow(held))?.state).toBe('voided');
    expect(carrierCalls).not.toContain(held);
    await expectSoundLedger();
  });

  it('refuses a cash-in capture over the payee\'s wallet cap, crediting nothing; the hold stays for the void', async () => {
    await fundAgentFloat(pool, { operatorId: 'orange-sn', agentId: 'AG1004', currency: 'XOF', amountMinor: 10_000n, reference: 'CI-4' });
    const payee = '221770001004';
    const first = nextId('under-cap');
    const over = nextId('over-cap');
    expectAllSettled(await runReserveBatch(debits, items([cashInReserve(first, 'AG1004', 1_000n), cashInReserve(over, 'AG1004', 3_000n)])));
    // Exactly at the cap is allowed; one more is not.
    expectAllSettled(await runCaptureBatch(debits, items([cashInCapture(first, payee, 1_000n, 1_000n)])));
    expect(await captureResult(first)).toMatchObject({ outcome: DebitOutcome.DEBIT_OUTCOME_OK });
    const holdsBefore = await holds('XOF');
    expectAllSettled(await runCaptureBatch(debits, items([cashInCapture(over, payee, 3_000n, 3_999n)])));
    expect(await captureResult(over)).toMatchObject({ outcome: DebitOutcome.DEBIT_OUTCOME_REJECTED, detail: 'wallet-balance-max' });
    expect(await wallet(payee)).toBe(1_000n);
    expect((await debitRow(over))?.state).toBe('reserved');
    expect(await holds('XOF')).toBe(holdsBefore);
    expect(await readAgentFloat(pool, 'AG1004')).toBe(6_000n);
    expectAllSettled(await runVoidBatch(debits, items([{ debitId: over, paymentId: `p-${over}`, reason: 'over cap' }])));
    expect(await readAgentFloat(pool, 'AG1004')).toBe(9_000n);
    expect((await debitRow(over))?.state).toBe('voided');
    await expectSoundLedger();
  });

  it('a credit to the wallet in flight when a cash-in checks its cap is waited for (the row lock), then counted', async () => {
    await fundAgentFloat(pool, { operatorId: 'orange-sn', agentId: 'AG1006', currency: 'XOF', amountMinor: 10_000n, reference: 'CI-6' });
    const payee = '221770001006';
    const earlier = nextId('earlier'); // the wallet exists, with 500
    await debits.reserve(cashInReserve(earlier, 'AG1006', 500n));
    await debits.capture(cashInCapture(earlier, payee, 500n));
    const cashIn = nextId('cash-in');
    await debits.reserve(cashInReserve(cashIn, 'AG1006', 2_000n));
    await ledger.ensureAccount(AccountIds.carrier('orange-sn'), 'carrier_clearing', 'XOF');
    // Another transaction credits the wallet 2,000 and holds its row until it commits.
    const other = await pool.connect();
    try {
      await other.query('BEGIN');
      const credit = nextId('credit');
      await other.query(
        'SELECT billing.apply_transfers($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::int[], $8::int[], $9::text[], $10::bigint[])',
        [[credit], ['deposit'], [null], [credit], ['XOF'], ['2000'], [1], [2], [AccountIds.carrier('orange-sn'), AccountIds.subscriber(payee)], ['-2000', '2000']],
      );
      const capture = runCaptureBatch(debits, items([cashInCapture(cashIn, payee, 2_000n, 3_500n)]));
      await new Promise((r) => setTimeout(r, 300)); // the capture reads the wallet meanwhile: it must wait, not read 500
      await other.query('COMMIT');
      expectAllSettled(await capture);
    } finally {
      other.release();
    }
    expect(await captureResult(cashIn)).toMatchObject({ outcome: DebitOutcome.DEBIT_OUTCOME_REJECTED, detail: 'wallet-balance-max' });
    expect(await wallet(payee)).toBe(2_500n);
    expectAllSettled(await runVoidBatch(debits, items([{ debitId: cashIn, paymentId: `p-${cashIn}`, reason: 'over cap' }])));
    expect(await readAgentFloat(pool, 'AG1006')).toBe(9_500n);
    await expectSoundLedger();
  });

  it('cash-out: the subscriber\'s wallet pays amount and fee, the agent\'s float gets the amount; the statement says so', async () => {
    await fundAgentFloat(pool, { operatorId: 'orange-sn', agentId: 'AG1005', currency: 'XOF', amountMinor: 5_000n, reference: 'CI-5' });
    const subscriber = '221770001005';
    const cashIn = nextId('cash-in');
    await debits.reserve(cashInReserve(cashIn, 'AG1005', 4_000n));
    await debits.capture(cashInCapture(cashIn, subscriber, 4_000n));
    expect(await readAgentFloat(pool, 'AG1005')).toBe(1_000n);
    const feesBefore = await ledger.balance(AccountIds.fees('XOF')).catch(() => 0n);
    const shareBefore = await ledger.balance(AccountIds.operatorShare('orange-sn')).catch(() => 0n);

    const cashOut = nextId('cash-out');
    expectAllSettled(await runReserveBatch(debits, items([{
      debitId: cashOut, paymentId: `p-${cashOut}`, operatorId: 'orange-sn', msisdn: subscriber, amount: XOF(2_100n), description: 'cash-out', funding: FundingSource.FUNDING_SOURCE_WALLET,
    }])));
    expect(await wallet(subscriber)).toBe(1_900n);
    expectAllSettled(await runCaptureBatch(debits, items([{
      debitId: cashOut, paymentId: `p-${cashOut}`, amount: XOF(2_100n), payeeAgentId: 'AG1005', payeeAmount: XOF(2_000n), fee: XOF(60n), operatorShare: XOF(40n),
    }])));
    expect(await captureResult(cashOut)).toMatchObject({ outcome: DebitOutcome.DEBIT_OUTCOME_OK });
    expect(await readAgentFloat(pool, 'AG1005')).toBe(3_000n);
    expect(await wallet(subscriber)).toBe(1_900n);
    expect(await ledger.balance(AccountIds.fees('XOF'))).toBe(feesBefore + 60n);
    expect(await ledger.balance(AccountIds.operatorShare('orange-sn'))).toBe(shareBefore + 40n);

    const reply = await debits.balance({ operatorId: 'orange-sn', msisdn: subscriber, statementLinesMax: 5 });
    expect((reply.lines ?? []).map((l) => [moneyFromProto(l.amount).amountMinor, l.counterparty, l.paymentId])).toEqual([
      [-2_100n, 'agent:AG1005', `p-${cashOut}`], [4_000n, 'agent:AG1005', `p-${cashIn}`],
    ]);
    await expectSoundLedger();
  });
});

describe('the harness invariant on floats (checkAgentFloats)', () => {
  it('fails on a float of no registered agent once payments keeps a registry, and on a misnamed float; passes when all are registered', async () => {
    // The registry as payments keeps it (its own migration makes the real one): only what the check reads.
    await pool.query('CREATE SCHEMA IF NOT EXISTS payments');
    await pool.query('CREATE TABLE payments.agents (agent_id TEXT PRIMARY KEY)');
    const floats = (await pool.query<{ id: string }>("SELECT id FROM billing.accounts WHERE kind = 'agent_float' ORDER BY id")).rows.map((r) => r.id.slice('agent:'.length));
    expect(floats).toContain('AG1001');
    await pool.query('INSERT INTO payments.agents SELECT unnest($1::text[])', [floats.filter((id) => id !== 'AG1001')]);
    const [missing] = await checkAgentFloats(pool);
    expect(missing).toMatchObject({ ok: false, detail: expect.stringContaining('1 of no registered agent') });
    expect(missing?.detail).toContain('agent:AG1001');
    await pool.query("INSERT INTO payments.agents VALUES ('AG1001')");
    expect((await checkAgentFloats(pool))[0]?.ok).toBe(true);
    // The database keeps a float's id agent:<...>; the check wants the registry's form of id too.
    await ledger.ensureAccount('agent:lower-case', 'agent_float', 'XOF');
    expect((await checkAgentFloats(pool))[0]).toMatchObject({ ok: false, detail: expect.stringContaining('1 misnamed') });
    await expect(ledger.ensureAccount('float:AG1', 'agent_float', 'XOF')).rejects.toThrow(/accounts_agent_float_row/);
    await pool.query("DELETE FROM billing.accounts WHERE id = 'agent:lower-case'");
    expect((await checkAgentFloats(pool))[0]?.ok).toBe(true);
  });
});
