// USSD end to end, the same scripted sessions through both edges: the HTTP
// edge (the Africa's Talking contract) and the SMPP link (ussd_service_op and
// its_session_info from the simulated SMSC). Behind them: the ussd service's
// menus (sessions in NATS KV), payments' rules and billing against the
// simulated carrier; results also come by SMS. Every menu path, invalid input
// at each screen, wrong PINs, an abandoned session and two sessions at once
// for one phone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { quietLogger, waitFor } from '../../support/stack.js';
import { ussd } from '../../../services/ussd/index.js';
import { startHost } from '../../../runtime/host.js';
import { validateConfig } from '../../../cli/config.js';
import { freePort } from '../../../runtime/engines/index.js';
import { UssdPhone, USSD_TEST_SECRET, postUssd } from '../../support/ussd-phone.js';

interface Screen {
  readonly text: string;
  readonly end: boolean;
}

/** A phone in one USSD session, whichever edge carries it. */
interface Phone {
  dial(): Promise<Screen>;
  /** Answers the current screen; further answers answer the screens after it. Returns the last screen. */
  answer(input: string, ...more: string[]): Promise<Screen>;
}

type Edge = 'http' | 'smpp';

function httpPhone(msisdn: string): Phone {
  const phone = new UssdPhone(port, msisdn);
  const plain = async (screen: Promise<{ text: string; end: boolean; status: number }>) => {
    const { text, end, status } = await screen;
    if (status !== 200) throw new Error(`HTTP ${status}: ${text}`);
    return { text, end };
  };
  return { dial: () => plain(phone.dial()), answer: (input, ...more) => plain(phone.answer(input, ...more)) };
}

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
        const status = await p.sim.ussdAnswer(msisdn, session, text);
        if (status !== 0) throw new Error(`answer answered ${status}`);
        last = await screen();
      }
      return last;
    },
  };
}

const phoneOn = (edge: Edge, msisdn: string): Phone => (edge === 'http' ? httpPhone(msisdn) : smppPhone(msisdn));

let p: PaymentsStack;
let port: number;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n });
let phoneNo = 0;
const newPhone = () => `2547330${String(++phoneNo).padStart(5, '0')}`;
const MAIN = 'dialpay\n1 Pay merchant\n2 Send money\n3 Buy airtime\n4 My account\n5 Withdraw cash';
const smsTo = (phone: string) => p.sim.submitted.filter((m) => m.destination === phone).map((m) => m.text);

/** A phone whose PIN is already set (through the menu), and a way to open sessions on it. */
async function phoneWithPin(edge: Edge, pin = '2468'): Promise<{ msisdn: string; session: () => Phone }> {
  const msisdn = newPhone();
  const first = phoneOn(edge, msisdn);
  await first.dial();
  expect(await first.answer(pin, pin)).toEqual({ text: `PIN saved.\n${MAIN}`, end: false });
  return { msisdn, session: () => phoneOn(edge, msisdn) };
}

beforeAll(async () => {
  p = await startPaymentsStack(carrier, (raw) => {
    raw.limits.challengeTtlMs = 3_000;
    port = raw.ussd.http.port;
  });
});
afterAll(async () => {
  await p?.cleanup();
});

describe.each(['http', 'smpp'] as const)('over %s', (edge) => {
  describe('first use and the account menu', () => {
    it('first use sets a PIN: too easy, then not matching, then saved', async () => {
      const phone = phoneOn(edge, newPhone());
      expect((await phone.dial()).text).toBe('Welcome to dialpay. Choose a 4-digit PIN to protect your payments:');
      expect((await phone.answer('12')).text).toBe('A PIN is 4 digits.\nWelcome to dialpay. Choose a 4-digit PIN to protect your payments:');
      expect((await phone.answer('1111')).text).toBe('Enter the same PIN again:');
      expect((await phone.answer('ab')).text).toBe('A PIN is 4 digits.\nEnter the same PIN again:');
      expect((await phone.answer('1111')).text).toBe('That PIN is too easy to guess. Choose another 4-digit PIN:');
      expect((await phone.answer('2468', '2460')).text).toBe('The PINs did not match. Choose a 4-digit PIN:');
      expect(await phone.answer('2468', '2468')).toEqual({ text: `PIN saved.\n${MAIN}`, end: false });
      // The menu goes on from the same screen.
      expect((await phone.answer('4', '1')).text).toBe('Balance:\ndialpay wallet 0.00 KES\nSafari Mobile 10,000.00 KES');
    });

    it('balance, mini statement, language, and invalid choices re-show the screen', async () => {
      const { session } = await phoneWithPin(edge);
      let s = session();
      await s.dial();
      expect((await s.answer('7')).text).toBe(`Invalid choice.\n${MAIN}`);
      expect((await s.answer('4')).text).toBe('My account\n1 Balance\n2 Mini statement\n3 Change PIN\n4 Language');
      expect((await s.answer('9')).text).toMatch(/^Invalid choice\.\nMy account/);
      expect(await s.answer('2')).toEqual({ text: 'No payments yet.', end: true });
      s = session();
      await s.dial();
      expect((await s.answer('4', '4')).text).toBe('Language\n1 English\n2 Francais');
      expect(await s.answer('2')).toEqual({ text: 'Langue: francais.', end: true });
      s = session();
      expect((await s.dial()).text).toBe('dialpay\n1 Payer un marchand\n2 Envoyer de l argent\n3 Acheter du credit\n4 Mon compte\n5 Retirer de l argent');
      expect((await s.answer('4', '4', '1')).text).toBe('Language set to English.');
    });

    it('an answer a screen cannot take re-shows that screen with an error line, at every input screen', async () => {
      const { session } = await phoneWithPin(edge, '2468');
      const payee = `0${newPhone().slice(3)}`;
      const rows: [path: string[], invalid: string, errorLine: string][] = [
        [['1'], 'NOPE', 'Unknown merchant code.'],
        [['1', 'SHOP42'], 'abc', 'Enter an amount like 150 or 5.50.'],
        [['1', 'SHOP42', '5'], 'a b!', 'Use up to 20 letters or digits.'],
        [['1', 'SHOP42', '5', '0'], '12', 'A PIN is 4 digits.'],
        [['2'], 'abc', 'Enter a number like 0712345678.'],
        [['2', payee], '-5', 'Enter an amount like 150 or 5.50.'],
        [['2', payee, '5'], 'abcd', 'A PIN is 4 digits.'],
        [['3'], '9', 'Invalid choice.'],
        [['3', '2'], 'x', 'Enter a number like 0712345678.'],
        [['3', '1'], '0', 'Enter an amount like 150 or 5.50.'],
        [['3', '1', '5'], '1', 'A PIN is 4 digits.'],
        [['4'], '9', 'Invalid choice.'],
        [['4', '3'], 'a', 'A PIN is 4 digits.'],
        [['4', '3', '2468'], '123', 'A PIN is 4 digits.'],
        [['4', '3', '2468', '1357'], 'x', 'A PIN is 4 digits.'],
        [['4', '4'], '3', 'Invalid choice.'],
      ];
      for (const [path, invalid, errorLine] of rows) {
        const s = session();
        await s.dial();
        const [first, ...rest] = path as [string, ...string[]];
        const screen = await s.answer(first, ...rest);
        expect(screen.end).toBe(false);
        expect({ path, shown: await s.answer(invalid) }).toEqual({ path, shown: { text: `${errorLine}\n${screen.text}`, end: false } });
        // A second wrong answer gets the same screen: error lines do not pile up.
        expect((await s.answer(invalid)).text).toBe(`${errorLine}\n${screen.text}`);
      }
    });

    it('change PIN: a wrong current PIN counts, different new PINs change nothing, then it changes', async () => {
      const { session } = await phoneWithPin(edge, '2468');
      let s = session();
      await s.dial();
      expect((await s.answer('4', '3')).text).toBe('Enter your current PIN:');
      expect(await s.answer('1357', '1357', '1357')).toEqual({ text: 'Wrong PIN. 2 tries left.', end: true });
      s = session();
      await s.dial();
      expect((await s.answer('4', '3', '2468', '1357', '1358')).text).toBe('The new PINs did not match. Nothing changed.');
      s = session();
      await s.dial();
      expect((await s.answer('4', '3', '2468', '1357', '1357')).text).toBe('PIN changed.');
      s = session();
      await s.dial();
      expect((await s.answer('1', 'SHOP42', '5', '0', '2468')).text).toBe('Wrong PIN, 2 tries left.\nEnter your PIN:');
      expect((await s.answer('1357')).text).toMatch(/^Pay 5\.00 KES to Duka Ya Mama/);
    });
  });

  describe('payments from the menu', () => {
    it('pay a merchant, with invalid input at every screen, and the receipt comes by SMS', async () => {
      const { msisdn, session } = await phoneWithPin(edge);
      const s = session();
      await s.dial();
      expect((await s.answer('1')).text).toBe('Enter the merchant code:');
      expect((await s.answer('NOPE')).text).toBe('Unknown merchant code.\nEnter the merchant code:');
      expect((await s.answer('shop42')).text).toBe('Enter the amount (KES):');
      expect((await s.answer('1.234')).text).toBe('Enter an amount like 150 or 5.50.\nEnter the amount (KES):');
      expect((await s.answer('100')).text).toBe('Enter a reference, or 0 for none:');
      expect((await s.answer('no way!')).text).toBe('Use up to 20 letters or digits.\nEnter a reference, or 0 for none:');
      expect((await s.answer('inv9')).text).toBe('Enter your PIN:');
      expect((await s.answer('24')).text).toBe('A PIN is 4 digits.\nEnter your PIN:');
      expect((await s.answer('2468')).text).toBe('Pay 100.00 KES to Duka Ya Mama (SHOP42)\nFee 1.60 KES\nRef inv9\nCharged to your Safari Mobile account\n1 Confirm\n2 Cancel');
      expect((await s.answer('3')).text).toBe('Invalid choice.\nPay 100.00 KES to Duka Ya Mama (SHOP42)\nFee 1.60 KES\nRef inv9\nCharged to your Safari Mobile account\n1 Confirm\n2 Cancel');
      expect(await s.answer('1')).toEqual({ text: 'Payment submitted. You will get an SMS with the result.', end: true });
      await waitFor('receipt SMS', async () => smsTo(msisdn).some((t) => /^Paid 100\.00 KES to Duka Ya Mama \(SHOP42\)\. Fee 1\.60 KES/.test(t)));
      expect(carrier.balanceOf(msisdn)).toBe(1_000_000n - 10_000n);
      // No one-time code went out: the PIN and the confirm screen were the consent.
      expect(smsTo(msisdn).filter((t) => /YES \d{4}/.test(t))).toEqual([]);
    });

    it('send money: both parties get an SMS receipt', async () => {
      const { msisdn, session } = await phoneWithPin(edge);
      const payee = newPhone();
      const s = session();
      await s.dial();
      expect((await s.answer('2')).text).toBe('Enter the phone number:');
      expect((await s.answer('12ab')).text).toBe('Enter a number like 0712345678.\nEnter the phone number:');
      expect((await s.answer(`0${payee.slice(3)}`, '250', '2468')).text).toBe(`Send 250.00 KES to +${payee}\nFee 0.00 KES\nCharged to your Safari Mobile account\n1 Confirm\n2 Cancel`);
      expect((await s.answer('1')).end).toBe(true);
      await waitFor('payee receipt', async () => smsTo(payee).some((t) => t.startsWith(`Received 250.00 KES from +${msisdn}`)));
      expect(smsTo(msisdn).some((t) => t.startsWith('Paid 250.00 KES'))).toBe(true);
    });

    it('buy airtime for oneself and for another number: the lines are topped up', async () => {
      const { msisdn, session } = await phoneWithPin(edge);
      let s = session();
      await s.dial();
      expect((await s.answer('3')).text).toBe('Buy airtime for:\n1 My number\n2 Another number');
      expect((await s.answer('1', '50', '2468')).text).toBe(`Airtime 50.00 KES to +${msisdn}\nFee 0.00 KES\nCharged to your Safari Mobile account\n1 Confirm\n2 Cancel`);
      expect((await s.answer('1')).end).toBe(true);
      const other = newPhone();
      s = session();
      await s.dial();
      expect((await s.answer('3', '2', other, '20', '2468')).text).toBe(`Airtime 20.00 KES to +${other}\nFee 0.00 KES\nCharged to your Safari Mobile account\n1 Confirm\n2 Cancel`);
      expect((await s.answer('1')).end).toBe(true);
      await waitFor('both completed', async () => (await p.pool.query(`SELECT 1 FROM payments.payments WHERE payer_msisdn = $1 AND state = 'completed'`, [msisdn])).rowCount === 2).catch(async (e) => {
        console.log((await p.pool.query(`SELECT state, consented, challenge_method, failure_reason, created_at, updated_at FROM payments.payments WHERE payer_msisdn = $1`, [msisdn])).rows);
        throw e;
      });
      const { rows } = await p.pool.query<{ payee_kind: string; payee_id: string }>(`SELECT payee_kind, payee_id FROM payments.payments WHERE payer_msisdn = $1 AND channel = 'ussd' ORDER BY created_at`, [msisdn]);
      expect(rows).toEqual([{ payee_kind: 'airtime', payee_id: msisdn }, { payee_kind: 'airtime', payee_id: other }]);
      // Own line: charged 50.00 and topped up 50.00; then charged 20.00 for the other line, which is topped up 20.00.
      await waitFor('receipts', async () => smsTo(other).length === 1 && smsTo(msisdn).filter((t) => t.startsWith('Airtime ')).length === 2);
      expect(carrier.balanceOf(msisdn)).toBe(1_000_000n - 2_000n);
      expect(carrier.balanceOf(other)).toBe(1_000_000n + 2_000n);
      expect(smsTo(other)[0]).toMatch(new RegExp(`^You received 20\\.00 KES airtime from \\+${msisdn}\\. Ref `));
    });

    it('three wrong PINs lock the PIN and end the session; nothing is reserved', async () => {
      const { msisdn, session } = await phoneWithPin(edge);
      const s = session();
      await s.dial();
      expect((await s.answer('1', 'SHOP42', '300', '0', '1111')).text).toBe('Wrong PIN, 2 tries left.\nEnter your PIN:');
      expect((await s.answer('x')).text).toBe('A PIN is 4 digits.\nWrong PIN, 2 tries left.\nEnter your PIN:');
      expect((await s.answer('2222')).text).toBe('Wrong PIN, 1 tries left.\nEnter your PIN:');
      expect(await s.answer('3333')).toEqual({ text: 'Your PIN is locked after too many wrong tries. Please contact customer care.', end: true });
      expect(carrier.balanceOf(msisdn)).toBe(1_000_000n);
      // Locked everywhere: the right PIN no longer works, on USSD or by SMS above the PIN threshold.
      const again = session();
      await again.dial();
      expect((await again.answer('1', 'SHOP42', '300', '0', '2468')).text).toBe('Your PIN is locked after too many wrong tries. Please contact customer care.');
      expect(await p.ask(msisdn, 'PAY SHOP42 2000')).toBe('Payment of 2,000.00 KES failed: PIN locked. Nothing was charged.');
    });

    it('cancel at the confirmation screen releases the reservation', async () => {
      const { msisdn, session } = await phoneWithPin(edge);
      const s = session();
      await s.dial();
      await s.answer('1', 'SHOP42', '400', '0', '2468');
      await waitFor('reserved', async () => carrier.balanceOf(msisdn) === 1_000_000n - 40_000n);
      expect(await s.answer('2')).toEqual({ text: 'Cancelled. Nothing was charged.', end: true });
      await waitFor('released', async () => carrier.balanceOf(msisdn) === 1_000_000n);
    });

    it('a session abandoned at the confirmation screen moves no money: the reservation is voided', async () => {
      const { msisdn, session } = await phoneWithPin(edge);
      const s = session();
      await s.dial();
      await s.answer('1', 'SHOP42', '700', '0', '2468');
      await waitFor('reserved', async () => carrier.balanceOf(msisdn) === 1_000_000n - 70_000n);
      // The subscriber walks away; the challenge (3 s here) expires.
      await waitFor('failure SMS', async () => smsTo(msisdn).includes('Payment of 700.00 KES failed: not confirmed in time. Nothing was charged.'), 15_000);
      await waitFor('released', async () => carrier.balanceOf(msisdn) === 1_000_000n);
      // A late "1" on that session gets the truth, not a capture.
      expect(await s.answer('1')).toEqual({ text: 'Payment of 700.00 KES failed: not confirmed in time. Nothing was charged.', end: true });
      expect(carrier.balanceOf(msisdn)).toBe(1_000_000n);
    });

    it('two sessions at once for one phone with money for one payment: one pays, one fails, no overspend', async () => {
      const { msisdn, session } = await phoneWithPin(edge);
      carrier.setBalance(msisdn, 15_000n);
      const [a, b] = [session(), session()];
      await Promise.all([a.dial(), b.dial()]);
      const confirms = await Promise.all([a.answer('1', 'SHOP42', '100', '0', '2468'), b.answer('1', 'SHOP42', '100', '0', '2468')]);
      for (const c of confirms) expect(c.text).toMatch(/^Pay 100\.00 KES/);
      const results = await Promise.all([a.answer('1'), b.answer('1')]);
      for (const r of results) expect(r.end).toBe(true);
      await waitFor('one receipt and one failure', async () =>
        smsTo(msisdn).filter((t) => t.startsWith('Paid 100.00 KES')).length === 1 && smsTo(msisdn).filter((t) => /failed: insufficient balance/.test(t)).length === 1);
      expect(carrier.balanceOf(msisdn)).toBe(5_000n);
    });
  });

});

describe('released over HTTP (the aggregator\'s end-of-session notification)', () => {
  const notify = async (form: Record<string, string>) => {
    const res = await fetch(`http://127.0.0.1:${port}/ussd/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-dialpay-ussd-secret': USSD_TEST_SECRET }, body: new URLSearchParams(form).toString() });
    return { status: res.status, body: await res.text() };
  };

  it('an Incomplete session left at the confirmation screen cancels its payment at once; Success and junk change nothing', async () => {
    const { msisdn } = await phoneWithPin('http');
    const phone = new UssdPhone(port, msisdn);
    await phone.dial();
    expect((await phone.answer('1', 'SHOP42', '700', '0', '2468')).text).toMatch(/^Pay 700\.00 KES/);
    await waitFor('reserved', async () => carrier.balanceOf(msisdn) === 1_000_000n - 70_000n);
    const base = { sessionId: phone.sessionId, serviceCode: '*384#', phoneNumber: `+${msisdn}`, networkCode: '63902' };
    expect(await notify({ ...base, status: 'Nonsense' })).toEqual({ status: 400, body: 'Not a session notification.' });
    expect(await notify({ ...base, status: 'Success' })).toEqual({ status: 200, body: 'OK' });
    await new Promise((r) => setTimeout(r, 300));
    expect(carrier.balanceOf(msisdn)).toBe(1_000_000n - 70_000n); // still held: Success means it ended on our END
    expect(await notify({ ...base, status: 'Incomplete' })).toEqual({ status: 200, body: 'OK' });
    await waitFor('cancellation SMS', async () => smsTo(msisdn).some((t) => /^Payment of 700\.00 KES failed: cancelled/.test(t)), 15_000);
    await waitFor('released', async () => carrier.balanceOf(msisdn) === 1_000_000n);
  });
});

describe('a session id the edge reuses', () => {
  it('two dialogues under one session id make two payments, not one seen twice', async () => {
    // SMPP edges reuse ids (its_session_info numbers repeat, the msisdn dialect has one per phone);
    // over HTTP the test reuses one on purpose.
    const { msisdn } = await phoneWithPin('http');
    const phone = new UssdPhone(port, msisdn);
    for (const round of [1, 2]) {
      await phone.dial();
      expect((await phone.answer('1', 'SHOP42', '100', '0', '2468')).text).toMatch(/^Pay 100\.00 KES to Duka Ya Mama/);
      expect(await phone.answer('1')).toMatchObject({ text: 'Payment submitted. You will get an SMS with the result.', end: true });
      await waitFor(`receipt ${round}`, async () => smsTo(msisdn).filter((t) => t.startsWith('Paid 100.00 KES')).length === round, 15_000);
    }
    await waitFor('charged twice', async () => carrier.balanceOf(msisdn) === 1_000_000n - 2n * 10_000n);
  });
});

describe('shortcut dials over SMPP', () => {
  const dialScreen = async (msisdn: string, code: string) => {
    const dialled = await p.sim.ussdDial(msisdn, code);
    expect(dialled.status).toBe(0);
    return { session: dialled.sessionNumber, screen: await p.sim.nextUssdScreen(msisdn, dialled.sessionNumber, 10_000) };
  };

  it('*384*4*1# goes straight to the balance; *384*1*SHOP42# to the amount, and the session goes on from there', async () => {
    const { msisdn } = await phoneWithPin('smpp');
    expect((await dialScreen(msisdn, '*384*4*1#')).screen).toMatchObject({ text: 'Balance:\ndialpay wallet 0.00 KES\nSafari Mobile 10,000.00 KES', end: true });
    const { session, screen } = await dialScreen(msisdn, '*384*1*SHOP42#');
    expect(screen).toMatchObject({ text: 'Enter the amount (KES):', end: false });
    for (const answer of ['150', '0']) {
      expect(await p.sim.ussdAnswer(msisdn, session, answer)).toBe(0);
      await p.sim.nextUssdScreen(msisdn, session, 10_000);
    }
    expect(await p.sim.ussdAnswer(msisdn, session, '2468')).toBe(0);
    expect((await p.sim.nextUssdScreen(msisdn, session, 10_000)).text).toMatch(/^Pay 150\.00 KES to Duka Ya Mama/);
    expect(await p.sim.ussdAnswer(msisdn, session, '2')).toBe(0);
    expect((await p.sim.nextUssdScreen(msisdn, session, 10_000)).text).toBe('Cancelled. Nothing was charged.');
  });

  it('a first dial with a shortcut still asks for a PIN first, and a bad shortcut answer gets the screen\'s error line', async () => {
    expect((await dialScreen(newPhone(), '*384*1*SHOP42#')).screen.text).toBe('Welcome to dialpay. Choose a 4-digit PIN to protect your payments:');
    const { msisdn } = await phoneWithPin('smpp');
    expect((await dialScreen(msisdn, '*384*7#')).screen.text).toBe(`Invalid choice.\n${MAIN}`);
  });

  it('never types a PIN from the dial: it stops at the PIN screen, and no payment starts', async () => {
    const { msisdn } = await phoneWithPin('smpp');
    const { session, screen } = await dialScreen(msisdn, '*384*1*SHOP42*150*0*2468#');
    expect(screen).toMatchObject({ text: 'Enter your PIN:', end: false });
    const started = await p.pool.query('SELECT 1 FROM payments.payments WHERE payer_msisdn = $1', [msisdn]);
    expect(started.rowCount).toBe(0);
    // Typed on the phone, it goes on as usual.
    expect(await p.sim.ussdAnswer(msisdn, session, '2468')).toBe(0);
    expect((await p.sim.nextUssdScreen(msisdn, session, 10_000)).text).toMatch(/^Pay 150\.00 KES to Duka Ya Mama/);
  });
});

describe('released by the network (SMPP its_session_info end bit)', () => {
  it('a dialogue released at the confirmation screen cancels its payment at once: cancelled, not expired', async () => {
    const { msisdn } = await phoneWithPin('smpp');
    const dialled = await p.sim.ussdDial(msisdn, '*384#');
    await p.sim.nextUssdScreen(msisdn, dialled.sessionNumber, 10_000);
    for (const answer of ['1', 'SHOP42', '700', '0', '2468']) {
      expect(await p.sim.ussdAnswer(msisdn, dialled.sessionNumber, answer)).toBe(0);
      await p.sim.nextUssdScreen(msisdn, dialled.sessionNumber, 10_000);
    }
    await waitFor('reserved', async () => carrier.balanceOf(msisdn) === 1_000_000n - 70_000n);
    expect(await p.sim.ussdAbort(msisdn, dialled.sessionNumber)).toBe(0);
    // Cancelled on the release: the reason says so (an expiry would say "not confirmed in time").
    await waitFor('cancellation SMS', async () => smsTo(msisdn).some((t) => /^Payment of 700\.00 KES failed: cancelled/.test(t)), 15_000);
    await waitFor('released', async () => carrier.balanceOf(msisdn) === 1_000_000n);
    expect(smsTo(msisdn).some((t) => /not confirmed in time/.test(t))).toBe(false);
  });

  it('a release after the subscriber confirmed leaves the payment alone', async () => {
    const { msisdn } = await phoneWithPin('smpp');
    const dialled = await p.sim.ussdDial(msisdn, '*384#');
    await p.sim.nextUssdScreen(msisdn, dialled.sessionNumber, 10_000);
    for (const answer of ['1', 'SHOP42', '300', '0', '2468', '1']) {
      expect(await p.sim.ussdAnswer(msisdn, dialled.sessionNumber, answer)).toBe(0);
      await p.sim.nextUssdScreen(msisdn, dialled.sessionNumber, 10_000);
    }
    expect(await p.sim.ussdAbort(msisdn, dialled.sessionNumber)).toBe(0);
    await waitFor('receipt', async () => smsTo(msisdn).some((t) => t.startsWith('Paid 300.00 KES')), 15_000);
    await waitFor('captured', async () => carrier.balanceOf(msisdn) === 1_000_000n - 30_000n);
  });
});

describe('two ussd replicas', () => {
  it('any replica answers any hop: sessions go on whichever one the queue group picks', async () => {
    const raw = structuredClone(p.stack.rawConfig) as any;
    raw.http.opsPorts = { ...raw.http.opsPorts, ussd: await freePort() };
    raw.ussd.http.port = port;
    const second = await startHost(validateConfig(raw), [ussd], { log: quietLogger() });
    try {
      for (let i = 0; i < 6; i++) {
        const { msisdn, session } = await phoneWithPin('http');
        const s = session();
        await s.dial();
        expect((await s.answer('1', 'SHOP42', '30', `r${i}`, '2468')).text).toBe(`Pay 30.00 KES to Duka Ya Mama (SHOP42)\nFee 0.55 KES\nRef r${i}\nCharged to your Safari Mobile account\n1 Confirm\n2 Cancel`);
        expect((await s.answer('1')).text).toBe('Payment submitted. You will get an SMS with the result.');
        await waitFor('receipt', async () => smsTo(msisdn).some((t) => t.startsWith('Paid 30.00 KES')));
      }
      // Both replicas took part.
      const hops = async (url: string) => Number(/dialpay_ussd_hops_total\{[^}]*outcome="continue"[^}]*\} (\d+)/.exec(await (await fetch(url)).text())?.[1] ?? 0);
      expect(await hops(`http://127.0.0.1:${second.opsPorts.ussd}/metrics`)).toBeGreaterThan(0);
      expect(await hops(`http://127.0.0.1:${p.host.opsPorts.ussd}/metrics`)).toBeGreaterThan(0);
    } finally {
      await second.stop();
    }
  });
});

describe('what the HTTP edge answers to bad requests', () => {
  it('unknown service code, malformed form, wrong method, and a path with no session', async () => {
    expect(await postUssd(port, { sessionId: 'x1', serviceCode: '*999#', phoneNumber: '+254700000001', text: '' })).toEqual({ text: 'Unknown service code.', end: true, status: 200 });
    expect(await postUssd(port, { serviceCode: '*384#', text: '' })).toEqual({ text: 'Sorry, we could not read this request.', end: true, status: 200 });
    expect(await postUssd(port, { sessionId: 'x2', serviceCode: '*384#', networkCode: '63902', phoneNumber: 'not a number', text: '' })).toEqual({ text: 'Sorry, we could not read this request.', end: true, status: 200 });
    expect(await postUssd(port, { sessionId: 'x3', serviceCode: '*384#', networkCode: '63902', phoneNumber: '+254700000002', text: '1*2*3' })).toEqual({ text: 'Your session has ended. Please dial again.', end: true, status: 200 });
    // *384# is served by two operators here: without a networkCode the edge cannot tell whose subscriber this is.
    expect(await postUssd(port, { sessionId: 'x4', serviceCode: '*384#', phoneNumber: '+254700000003', text: '' })).toEqual({ text: 'Unknown service code.', end: true, status: 200 });
    const get = await fetch(`http://127.0.0.1:${port}/ussd`, { headers: { 'x-dialpay-ussd-secret': USSD_TEST_SECRET } });
    expect([get.status, await get.text()]).toEqual([405, 'END Use POST.']);
    const big = await fetch(`http://127.0.0.1:${port}/ussd`, { method: 'POST', headers: { 'x-dialpay-ussd-secret': USSD_TEST_SECRET }, body: 'text='.padEnd(10_000, 'a') });
    expect(big.status).toBe(413);
  });
});

it('leaves a ledger that adds up, with no reservation left open', async () => {
  expect(await p.ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
  await waitFor('holds empty', async () => (await p.ledger.balance(AccountIds.holds('KES'))) === 0n);
});
