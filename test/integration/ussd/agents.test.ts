// Agents on the USSD menu (issue 16), end to end: the HTTP edge and the SMPP
// link, the ussd service's menus, payments' rules (cash.ts, as DEP and WITHDRAW
// by SMS use them) and billing's ledger with the simulated carrier. A subscriber
// withdraws cash at an agent (the fee on top, from the wallet); an agent's line
// sees the agent menu: a deposit from its float to a wallet, and the float's
// balance. Refusals end the session with the reason, and move nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { fundAgentFloat } from '../../../services/billing/agent-floats.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { addAgent, setAgentState } from '../../../services/payments/index.js';
import { validateConfig } from '../../../cli/config.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { waitFor } from '../../support/stack.js';
import { UssdPhone } from '../../support/ussd-phone.js';

interface Screen {
  readonly text: string;
  readonly end: boolean;
}

interface Phone {
  dial(): Promise<Screen>;
  answer(input: string, ...more: string[]): Promise<Screen>;
}

let p: PaymentsStack;
let port: number;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n });
const PIN = '2580';
const AGENT = 'AG3001';
const AGENT_LINE = '254711900001';
const OTHER_AGENT = 'AG3002';
const OTHER_AGENT_LINE = '254711900002';
let phoneNo = 0;
const newPhone = () => `2547117${String(++phoneNo).padStart(5, '0')}`;
const MAIN = 'dialpay\n1 Pay merchant\n2 Send money\n3 Buy airtime\n4 My account\n5 Withdraw cash';
const MAIN_AGENT = 'dialpay agent\n1 Pay merchant\n2 Send money\n3 Buy airtime\n4 My account\n5 Withdraw cash\n6 Deposit to a wallet\n7 Float balance';
const smsTo = (phone: string) => p.sim.submitted.filter((m) => m.destination === phone).map((m) => m.text);
/** A ledger balance; an account never booked to holds nothing yet. */
const balance = (account: string) => p.ledger.balance(account).catch((err: Error) => (/^no account /.test(err.message) ? 0n : Promise.reject(err)));
const paymentsOf = async (msisdn: string) => (await p.pool.query('SELECT 1 FROM payments.payments WHERE payer_msisdn = $1', [msisdn])).rowCount;

function httpPhone(msisdn: string): Phone {
  const phone = new UssdPhone(port, msisdn);
  const plain = async (screen: Promise<{ text: string; end: boolean; status: number }>) => {
    const { text, end, status } = await screen;
    if (status !== 200) throw new Error(`HTTP ${status}: ${text}`);
    return { text, end };
  };
  return { dial: () => plain(phone.dial()), answer: (input, ...more) => plain(phone.answer(input, ...more)) };
}

/** Over the SMPP link: only the newest answer travels, so the menu keeps the path (PINs masked). */
function smppPhone(msisdn: string): Phone {
  let session = -1;
  const screen = async () => {
    const s = await p.sim.nextUssdScreen(msisdn, session, 10_000);
    return { text: s.text, end: s.end };
  };
  return {
    dial: async () => {
      const dialled = await p.sim.ussdDial(msisdn, '*384#');
      if (dialled.status !== 0) throw new Error(`dial answered ${dialled.status}`);
      session = dialled.sessionNumber;
      return screen();
    },
    answer: async (input, ...more) => {
      let last: Screen = { text: '', end: false };
      for (const text of [input, ...more]) {
        if (last.end) throw new Error(`session ended before "${text}": ${last.text}`);
        if ((await p.sim.ussdAnswer(msisdn, session, text)) !== 0) throw new Error(`answer "${text}" refused`);
        last = await screen();
      }
      return last;
    },
  };
}

/** A line whose PIN is chosen through the menu; returns what the menu showed after. */
async function choosePin(phone: Phone): Promise<Screen> {
  expect((await phone.dial()).text).toBe('Welcome to dialpay. Choose a 4-digit PIN to protect your payments:');
  return phone.answer(PIN, PIN);
}

/** The agent's deposit of `amount` to `msisdn` through its menu, confirmed; resolves once the wallet has it. */
async function depositByMenu(msisdn: string, amount: string, creditedMinor: bigint): Promise<void> {
  const agent = httpPhone(AGENT_LINE);
  expect((await agent.dial()).text).toBe(MAIN_AGENT);
  expect((await agent.answer('6', `0${msisdn.slice(3)}`, amount, PIN)).text).toMatch(/^Deposit /);
  expect((await agent.answer('1')).end).toBe(true);
  await waitFor('wallet credited', async () => (await balance(AccountIds.subscriber(msisdn))) === creditedMinor);
}

beforeAll(async () => {
  p = await startPaymentsStack(carrier, (raw) => {
    raw.limits.paymentsPerMinuteMax = 50;
    port = raw.ussd.http.port;
  });
  const config = validateConfig(structuredClone(p.stack.rawConfig));
  for (const [agentId, name, number] of [[AGENT, 'Kiosk One', AGENT_LINE], [OTHER_AGENT, 'Kiosk Two', OTHER_AGENT_LINE]] as const) {
    expect((await addAgent(p.pool, config, { operatorId: 'safaricom-ke', agentId, name, number, actor: 'test' })).kind).toBe('added');
  }
  const funded = await fundAgentFloat(p.pool, { operatorId: 'safaricom-ke', agentId: AGENT, currency: 'KES', amountMinor: 100_000n, reference: 'ussd-F1' });
  expect(funded.outcome).toBe('funded');
}, 120_000);

afterAll(async () => {
  await p?.cleanup();
}, 60_000);

describe('the agent menu', () => {
  it("an agent's line sees the agent menu; a deposit from its float reaches the wallet, both told by SMS; the float balance; a float too low moves nothing", async () => {
    const customer = newPhone();
    // The agent's first dial: it chooses its PIN, and the agent menu follows.
    expect(await choosePin(httpPhone(AGENT_LINE))).toEqual({ text: `PIN saved.\n${MAIN_AGENT}`, end: false });

    let agent = httpPhone(AGENT_LINE);
    expect((await agent.dial()).text).toBe(MAIN_AGENT);
    expect((await agent.answer('6')).text).toBe('Enter the phone number:');
    expect((await agent.answer('12ab')).text).toBe('Enter a number like 0712345678.\nEnter the phone number:');
    expect((await agent.answer(`0${customer.slice(3)}`)).text).toBe('Enter the amount (KES):');
    expect((await agent.answer('800')).text).toBe('Enter your PIN:');
    expect((await agent.answer(PIN)).text).toBe(`Deposit 800.00 KES to +${customer}\nFrom your float\n1 Confirm\n2 Cancel`);
    expect((await agent.answer('9')).text).toBe(`Invalid choice.\nDeposit 800.00 KES to +${customer}\nFrom your float\n1 Confirm\n2 Cancel`);
    expect(await agent.answer('1')).toEqual({ text: 'Payment submitted. You will get an SMS with the result.', end: true });

    await waitFor('wallet credited', async () => (await balance(AccountIds.subscriber(customer))) === 80_000n);
    expect(await balance(AccountIds.agentFloat(AGENT))).toBe(20_000n);
    await waitFor('both receipts', async () => smsTo(customer).length === 1 && smsTo(AGENT_LINE).some((t) => t.startsWith('Deposit of 800.00 KES')));
    expect(smsTo(customer)[0]).toMatch(/^You received 800\.00 KES from agent Kiosk One \(AG3001\)\. Ref [0-9A-F]{8}\./);
    expect(smsTo(AGENT_LINE).find((t) => t.startsWith('Deposit of'))).toMatch(/^Deposit of 800\.00 KES to \+2547\*{6}\d\d done\. Ref [0-9A-F]{8}\./);
    // The agent's own carrier account paid nothing: the float did.
    expect(carrier.balanceOf(AGENT_LINE)).toBe(1_000_000n);

    agent = httpPhone(AGENT_LINE);
    await agent.dial();
    expect(await agent.answer('7')).toEqual({ text: 'Your float: 200.00 KES', end: true });

    // 500.00 from a float of 200.00: refused on the screen, nothing reserved.
    agent = httpPhone(AGENT_LINE);
    await agent.dial();
    const before = await paymentsOf(AGENT_LINE);
    expect(await agent.answer('6', `0${customer.slice(3)}`, '500', PIN)).toEqual({ text: `Deposit of 500.00 KES to +${customer} failed: float too low. Nothing was moved.`, end: true });
    expect(await paymentsOf(AGENT_LINE)).toBe(before);
    expect(await balance(AccountIds.agentFloat(AGENT))).toBe(20_000n);
  }, 60_000);
});

describe('withdraw cash', () => {
  it.each(['http', 'smpp'] as const)('over %s: a withdrawal through the menu, the fee on top from the wallet, the agent told to hand the cash over', async (edge) => {
    const customer = newPhone();
    const phone = edge === 'http' ? httpPhone : smppPhone;
    expect(await choosePin(phone(customer))).toEqual({ text: `PIN saved.\n${MAIN}`, end: false });
    await fundAgentFloat(p.pool, { operatorId: 'safaricom-ke', agentId: AGENT, currency: 'KES', amountMinor: 100_000n, reference: `ussd-${edge}` });
    await depositByMenu(customer, '600', 60_000n);
    const floatBefore = await balance(AccountIds.agentFloat(AGENT));

    const s = phone(customer);
    expect((await s.dial()).text).toBe(MAIN);
    expect((await s.answer('5')).text).toBe('Enter the agent number:');
    expect((await s.answer('AG 1!')).text).toBe('An agent number is like AG1001.\nEnter the agent number:');
    expect((await s.answer('ag3001')).text).toBe('Enter the amount (KES):');
    expect((await s.answer('5x')).text).toBe('Enter an amount like 150 or 5.50.\nEnter the amount (KES):');
    expect((await s.answer('500')).text).toBe('Enter your PIN:');
    // The cash-out fee schedule (10.00 + 1%) on top: 515.00 leaves the wallet.
    const confirm = 'Withdraw 500.00 KES at Kiosk One (AG3001)\nFee 15.00 KES\nTotal from wallet 515.00 KES\n1 Confirm\n2 Cancel';
    expect((await s.answer(PIN)).text).toBe(confirm);
    const agentSeen = smsTo(AGENT_LINE).length;
    expect(await s.answer('1')).toEqual({ text: 'Payment submitted. You will get an SMS with the result.', end: true });

    await waitFor('float credited', async () => (await balance(AccountIds.agentFloat(AGENT))) === floatBefore + 50_000n);
    expect(await balance(AccountIds.subscriber(customer))).toBe(60_000n - 51_500n);
    // From the wallet, never the carrier account.
    expect(carrier.balanceOf(customer)).toBe(1_000_000n);
    await waitFor('receipts', async () => smsTo(customer).some((t) => t.startsWith('Withdrawn ')) && smsTo(AGENT_LINE).length > agentSeen);
    expect(smsTo(customer).find((t) => t.startsWith('Withdrawn '))).toMatch(/^Withdrawn 500\.00 KES at Kiosk One \(AG3001\)\. Fee 15\.00 KES\. Ref [0-9A-F]{8}\./);
    expect(smsTo(AGENT_LINE).slice(agentSeen)).toEqual([expect.stringMatching(/^Cash-out: give 500\.00 KES cash to \+2547\*{6}\d\d\. Ref [0-9A-F]{8}\./)]);
    // No one-time code went out: the PIN and the confirmation screen were the consent.
    expect(smsTo(customer).filter((t) => /YES \d{4}/.test(t))).toEqual([]);
  }, 60_000);

  it('a wallet too short for amount + fee is refused on the screen, nothing reserved', async () => {
    const customer = newPhone();
    await choosePin(httpPhone(customer));
    await depositByMenu(customer, '100', 10_000n);
    const s = httpPhone(customer);
    await s.dial();
    expect(await s.answer('5', AGENT, '95', PIN)).toEqual({ text: 'Your dialpay wallet has 100.00 KES: not enough for 105.95 KES (95.00 KES + fee 10.95 KES). Nothing was charged.', end: true });
    expect(await paymentsOf(customer)).toBe(0);
    expect(await balance(AccountIds.subscriber(customer))).toBe(10_000n);
  }, 60_000);

  it('an unknown agent, and a suspended one, are refused with the reason; nothing moves; a suspended agent loses its menu', async () => {
    const customer = newPhone();
    await choosePin(httpPhone(customer));
    await depositByMenu(customer, '300', 30_000n);
    let s = httpPhone(customer);
    await s.dial();
    // Not an agent's line: 6 and 7 are not on its menu.
    expect((await s.answer('6')).text).toBe(`Invalid choice.\n${MAIN}`);
    expect(await s.answer('5', 'AG9999', '100', PIN)).toEqual({ text: "AG9999 is not an agent we know, or not one you can use. Check the agent's number. Nothing was charged.", end: true });

    expect((await setAgentState(p.pool, OTHER_AGENT, 'suspended', 'test')).kind).toBe('changed');
    s = httpPhone(customer);
    await s.dial();
    expect(await s.answer('5', OTHER_AGENT, '100', PIN)).toEqual({ text: 'Agent Kiosk Two (AG3002) cannot pay out cash right now. Try another agent. Nothing was charged.', end: true });
    expect(await paymentsOf(customer)).toBe(0);
    expect(await balance(AccountIds.subscriber(customer))).toBe(30_000n);

    // The suspended agent's line dials as a subscriber: no deposits, no float.
    expect(await choosePin(httpPhone(OTHER_AGENT_LINE))).toEqual({ text: `PIN saved.\n${MAIN}`, end: false });
  }, 60_000);

  it('cancel at the confirmation screen: the hold goes back to the wallet', async () => {
    const customer = newPhone();
    await choosePin(httpPhone(customer));
    await depositByMenu(customer, '200', 20_000n);
    const s = httpPhone(customer);
    await s.dial();
    expect((await s.answer('5', AGENT, '100', PIN)).text).toMatch(/^Withdraw 100\.00 KES at Kiosk One \(AG3001\)\nFee 11\.00 KES\n/);
    await waitFor('reserved', async () => (await balance(AccountIds.subscriber(customer))) === 20_000n - 11_100n);
    expect(await s.answer('2')).toEqual({ text: 'Cancelled. Nothing was charged.', end: true });
    await waitFor('released', async () => (await balance(AccountIds.subscriber(customer))) === 20_000n);
  }, 60_000);

  it('an agent suspended while the confirmation screen waits: "1" moves nothing, the hold goes back', async () => {
    const customer = newPhone();
    await choosePin(httpPhone(customer));
    await depositByMenu(customer, '200', 20_000n);
    const s = httpPhone(customer);
    await s.dial();
    expect((await s.answer('5', AGENT, '100', PIN)).text).toMatch(/^Withdraw 100\.00 KES at Kiosk One/);
    await waitFor('reserved', async () => (await balance(AccountIds.subscriber(customer))) === 20_000n - 11_100n);
    const floatBefore = await balance(AccountIds.agentFloat(AGENT));
    expect((await setAgentState(p.pool, AGENT, 'suspended', 'test')).kind).toBe('changed');
    try {
      expect(await s.answer('1')).toEqual({ text: 'Payment of 111.00 KES failed: cancelled. Nothing was charged.', end: true });
      await waitFor('released', async () => (await balance(AccountIds.subscriber(customer))) === 20_000n);
      expect(await balance(AccountIds.agentFloat(AGENT))).toBe(floatBefore);
    } finally {
      await setAgentState(p.pool, AGENT, 'active', 'test');
    }
  }, 60_000);
});

it('leaves a ledger that adds up, with no reservation left open', async () => {
  expect(await p.ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
  await waitFor('holds empty', async () => (await p.ledger.balance(AccountIds.holds('KES'))) === 0n);
});
