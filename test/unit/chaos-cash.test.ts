// The cash drill's bookkeeping (issue 16): the phones book the four receipts
// of a deposit and a withdrawal as payments words them, in either language,
// and cashVerdict flags a deposit or withdrawal booked twice, half booked,
// told twice, told not at all, or told without being booked.
import { describe, expect, it } from 'vitest';
import { CashBook, cashAtRate, newCashTally } from '../../load-tests/harness/cash.js';
import { cashVerdict, creditVerdict, type CashPaymentRow, type CreditRow } from '../../load-tests/harness/invariants.js';
import { reply } from '../../services/payments/replies.js';
import { cashInFailedReply } from '../../services/payments/refusals.js';
import { FailureReason } from '../../services/payments/state.js';

const AGENT_LINE = '221779000001';
const SUBSCRIBER = '221781000007';
const DEPOSIT_ID = 'A1B2C3D4-0000-4000-8000-000000000001';
const WITHDRAWAL_ID = 'E5F6A7B8-0000-4000-8000-000000000002';

const deposit = (over: Partial<CashPaymentRow> = {}): CashPaymentRow => ({
  payment_id: DEPOSIT_ID, state: 'completed', agent_id: 'CASH-001', payer_msisdn: AGENT_LINE, payee_id: SUBSCRIBER, agent_msisdn: AGENT_LINE,
  payee_minor: '5000', reserves: 1, captures: 1, voids: 0, credited_minor: '5000', ...over,
});
const withdrawal = (over: Partial<CashPaymentRow> = {}): CashPaymentRow => ({
  payment_id: WITHDRAWAL_ID, state: 'completed', agent_id: null, payer_msisdn: SUBSCRIBER, payee_id: 'CASH-001', agent_msisdn: AGENT_LINE,
  payee_minor: '1000', reserves: 1, captures: 1, voids: 0, credited_minor: '1000', ...over,
});

/** The four receipts of one deposit and one withdrawal, as payments sends them, delivered `times` times. */
function bookOf(language: 'en' | 'fr', times = 1): CashBook {
  const book = new CashBook();
  const agent = 'Kiosque 1 (CASH-001)';
  for (let i = 0; i < times; i++) {
    book.note(reply('receiptCashInAgent', language, { amount: '5 000 XOF', payee: '+2217******07', paymentRef: 'A1B2C3D4' }), AGENT_LINE);
    book.note(reply('receiptCashInPayee', language, { amount: '5 000 XOF', agent, paymentRef: 'A1B2C3D4' }), SUBSCRIBER);
    book.note(reply('receiptCashOutPayer', language, { amount: '1 000 XOF', agent, fee: '1 010 XOF', paymentRef: 'E5F6A7B8' }), SUBSCRIBER);
    book.note(reply('receiptCashOutAgent', language, { amount: '1 000 XOF', payer: '+2217******07', paymentRef: 'E5F6A7B8' }), AGENT_LINE);
  }
  return book;
}

describe('CashBook', () => {
  it.each(['en', 'fr'] as const)('books each of the four receipts once under its phone and reference (%s)', (language) => {
    const book = bookOf(language);
    expect([...book.depositAgent]).toEqual([[`${AGENT_LINE}:A1B2C3D4`, 1]]);
    expect([...book.depositPayee]).toEqual([[`${SUBSCRIBER}:A1B2C3D4`, 1]]);
    expect([...book.withdrawPayer]).toEqual([[`${SUBSCRIBER}:E5F6A7B8`, 1]]);
    expect([...book.withdrawAgent]).toEqual([[`${AGENT_LINE}:E5F6A7B8`, 1]]);
  });

  it('books no challenge, failure or payment receipt as a cash receipt', () => {
    const book = new CashBook();
    for (const language of ['en', 'fr'] as const) {
      expect(book.note(reply('challengeCashIn', language, { amount: '5 000 XOF', payee: `+${SUBSCRIBER}`, minutes: '1' }), AGENT_LINE)).toBeNull();
      expect(book.note(reply('challengeCashOutCode', language, { amount: '1 000 XOF', agent: 'K', fee: '1 010 XOF', total: '2 010 XOF', code: '1234', minutes: '1' }), SUBSCRIBER)).toBeNull();
      expect(book.note(cashInFailedReply(FailureReason.INSUFFICIENT_FUNDS, 5_000n, 'XOF', `+${SUBSCRIBER}`, language), AGENT_LINE)).toBeNull();
      expect(book.note(reply('receiptPayer', language, { amount: '1 XOF', payee: 'x', fee: '0 XOF', paymentRef: 'A1B2C3D4' }), SUBSCRIBER)).toBeNull();
    }
    expect(book.depositAgent.size + book.depositPayee.size + book.withdrawPayer.size + book.withdrawAgent.size).toBe(0);
  });
});

describe('cashVerdict', () => {
  it('passes a deposit and a withdrawal each booked once and told once to each side, and a failed one with nothing', () => {
    const failed = withdrawal({ payment_id: 'C0C0C0C0-0000-4000-8000-000000000003', state: 'failed', captures: 0, voids: 1, credited_minor: '0' });
    const v = cashVerdict([deposit(), withdrawal(), failed], bookOf('fr'));
    expect(v).toEqual({ misbooked: [], misreceipted: [], orphanReceipts: [], completedDeposits: 1, completedWithdrawals: 1, failed: 1 });
  });

  it.each([
    ['captured twice', deposit({ captures: 2, credited_minor: '10000' })],
    ['captured twice, the second crediting another account', deposit({ captures: 2 })],
    ['reserved twice, captured once', withdrawal({ reserves: 2 })],
    ['credited twice under one capture', deposit({ credited_minor: '10000' })],
    ['reserved twice', withdrawal({ reserves: 2, voids: 1 })],
    ['completed but never captured', withdrawal({ captures: 0, credited_minor: '0' })],
    ['failed but captured', withdrawal({ state: 'failed', voids: 0 })],
    ['failed with its hold never voided', deposit({ state: 'failed', captures: 0, voids: 0, credited_minor: '0' })],
  ])('flags a cash payment %s', (_what, row) => {
    const v = cashVerdict([row], bookOf('fr'));
    expect(v.misbooked).toHaveLength(1);
    expect(v.misbooked[0]).toContain(row.payment_id);
  });

  it('flags a doubled receipt, a missing one, a receipt of a failed payment, and one of no payment', () => {
    expect(cashVerdict([deposit(), withdrawal()], bookOf('en', 2)).misreceipted).toHaveLength(2);
    const missing = bookOf('fr');
    missing.withdrawAgent.clear();
    expect(cashVerdict([deposit(), withdrawal()], missing).misreceipted).toEqual([`${WITHDRAWAL_ID} completed: withdrawPayer x1, withdrawAgent x0`]);
    const failedButTold = cashVerdict([deposit({ state: 'failed', captures: 0, voids: 1, credited_minor: '0' }), withdrawal()], bookOf('fr'));
    expect(failedButTold.misreceipted).toEqual([`${DEPOSIT_ID} failed: depositAgent x1, depositPayee x1`]);
    const orphan = cashVerdict([deposit()], bookOf('fr'));
    expect(orphan.orphanReceipts).toEqual([`withdrawPayer ${SUBSCRIBER}:E5F6A7B8`, `withdrawAgent ${AGENT_LINE}:E5F6A7B8`]);
  });
});

describe('cashAtRate', () => {
  it('gives an agent one deposit at a time, though its customer is still withdrawing when the next flow comes', async () => {
    const agents = [0, 1, 2].map((i) => ({ agentId: `CASH-00${i}`, msisdn: `22177900000${i}`, pin: '2468' }));
    const depositing = new Map<string, number>();
    let most = 0;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const flows = {
      agents,
      subscriberCount: 100,
      deposit: async (agent: { agentId: string }) => {
        const n = (depositing.get(agent.agentId) ?? 0) + 1;
        depositing.set(agent.agentId, n);
        most = Math.max(most, n);
        await sleep(20 + Math.random() * 40);
        depositing.set(agent.agentId, n - 1);
        return 'done';
      },
      // A withdrawal outlasts several deposits: the agent must be free for them, and stay one agent's at a time.
      withdraw: async () => {
        await sleep(100 + Math.random() * 200);
        return 'done';
      },
      walletOf: () => 1_000_000n,
      operatorDeposit: async () => 'done',
    };
    const tally = newCashTally();
    await cashAtRate(flows, { perSecond: 100, secondsMax: 1, tally, agentRestMs: 1_000 });
    expect(most).toBe(1);
    expect(tally.deposits.completed).toBeGreaterThan(10);
    expect(tally.withdrawals.completed).toBe(tally.deposits.completed);
    expect(tally.operatorDeposits.completed).toBe(tally.deposits.completed);
  });
});

describe('creditVerdict', () => {
  const CREDIT = 'd00dfeed-0000-4000-8000-000000000009';
  const credit = (over: Partial<CreditRow> = {}): CreditRow => ({ credit_id: CREDIT, state: 'completed', msisdn: SUBSCRIBER, amount_minor: '800', transfers: 1, credited_minor: '800', ...over });
  /** The subscriber's SMS of the credit, as payments words it, delivered `times` times; the API's answer. */
  const told = (times: number, answer: 'completed' | 'failed' | 'unknown' = 'completed') => {
    const book = new CashBook();
    for (let i = 0; i < times; i++) book.note(reply('creditReceived', 'fr', { amount: '800 XOF', from: 'Orange Senegal', ref: 'D00DFEED' }), SUBSCRIBER);
    book.operatorDepositsTold.set(CREDIT, answer);
    return book;
  };
  const problems = (v: ReturnType<typeof creditVerdict>) =>
    [...v.pending, ...v.misbooked, ...v.mistold, ...v.answeredWrong, ...v.orphanSms];

  it('passes a deposit booked once, told once, answered completed; and a failed one with nothing', () => {
    expect(problems(creditVerdict([credit()], told(1)))).toEqual([]);
    expect(problems(creditVerdict([credit({ state: 'failed', transfers: 0, credited_minor: '0' })], told(0, 'failed')))).toEqual([]);
    // The operator's SMS is not taken for an agent's deposit, nor the agent's for the operator's.
    expect(told(1).depositPayee.size).toBe(0);
  });

  it.each([
    ['booked twice', [credit({ transfers: 2, credited_minor: '1600' })], told(1)],
    ['completed, never booked', [credit({ transfers: 0, credited_minor: '0' })], told(1)],
    ['failed, yet booked', [credit({ state: 'failed', credited_minor: '800' })], told(0, 'failed')],
    ['its SMS twice', [credit()], told(2)],
    ['its SMS never', [credit()], told(0)],
    ['answered completed, recorded failed', [credit({ state: 'failed', transfers: 0, credited_minor: '0' })], told(0)],
    ['answered completed, not recorded at all', [], told(0)],
    ['an SMS of a deposit not recorded', [], (() => { const b = told(1); b.operatorDepositsTold.clear(); return b; })()],
    ['still pending', [credit({ state: 'pending', transfers: 0, credited_minor: '0' })], told(0, 'unknown')],
  ] as const)('flags an operator deposit %s', (_what, rows, book) => {
    expect(problems(creditVerdict(rows, book))).toHaveLength(1);
  });
});
