// Cross-operator transfers end to end: two Kenyan operators in KES, each with
// its own simulated SMSC that the gateway binds to and the `simulator` billing
// adapter. A SEND from one's subscriber to the other's: the payer's challenge
// and receipt come over the payer's link, the payee's receipt over the
// payee's link, the payee's wallet is credited, billing books the position,
// and the UTC day's operator-to-operator settlement shows the net. Transfers
// that cannot be made (no operator, oneself, another currency) are refused
// before anything is reserved, by SMS and on the USSD menu.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { InteropSettlement } from '../../../services/settlement/index.js';
import { SmscSimulator } from '../../../operator-sim/index.js';
import { connectNats, type NatsHandle } from '../../../runtime/nats/index.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { quietLogger, waitFor } from '../../support/stack.js';
import { UssdPhone } from '../../support/ussd-phone.js';
import { runTs } from '../../support/child.js';
import { day, noonOf } from '../../support/days.js';

let p: PaymentsStack;
let airtelSmsc: SmscSimulator;
let nats: NatsHandle;
let rawConfig: Record<string, any>;
let ussdPort = 0;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n });
let phoneNo = 0;
/** Safari Mobile holds +2547 and +2541, Airtel Kenya the longer +25473 and +25410. */
const safaricomPhone = () => `2547110${String(++phoneNo).padStart(5, '0')}`;
const airtelPhone = () => `2547330${String(++phoneNo).padStart(5, '0')}`;

const onSafaricom = (phone: string) => p.sim.submitted.filter((m) => m.destination === phone);
const onAirtel = (phone: string) => airtelSmsc.submitted.filter((m) => m.destination === phone);

/** Texts `text` from an Airtel phone to Airtel's short code and returns the next SMS it gets over Airtel's link. */
async function askAirtel(phone: string, text: string): Promise<string> {
  const seen = onAirtel(phone).length;
  const statuses = await airtelSmsc.sendFromPhone(phone, '385', text);
  if (statuses.some((s) => s !== 0)) throw new Error(`the gateway answered ${statuses.join(',')} to "${text}"`);
  return (await waitFor(`SMS #${seen + 1} to ${phone} over Airtel`, async () => onAirtel(phone)[seen])).text;
}

const codeIn = (challenge: string) => {
  const code = /(?:YES|OUI) (\d{4})/.exec(challenge)?.[1];
  if (!code) throw new Error(`no code in: ${challenge}`);
  return code;
};

/** What a refused payer has in payments and billing: no payment, no debit (so nothing reserved at the carrier). */
async function reservedFor(phone: string): Promise<{ payments: number; debits: number }> {
  const count = async (sql: string) => (await p.pool.query<{ n: number }>(sql, [phone])).rows[0]?.n as number;
  return {
    payments: await count('SELECT count(*)::int AS n FROM payments.payments WHERE payer_msisdn = $1'),
    debits: await count('SELECT count(*)::int AS n FROM billing.debits WHERE msisdn = $1'),
  };
}

/** Ledger transfers booked so far: a refusal books none. */
const ledgerTransfers = async () => (await p.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM billing.transfers')).rows[0]?.n as number;

beforeAll(async () => {
  airtelSmsc = new SmscSimulator({ systemId: 'dialpay', password: 'secret3', receiptDelayMs: 10 });
  const airtelPort = await airtelSmsc.start();
  p = await startPaymentsStack(carrier, (raw) => {
    const safaricom = raw.operators[0];
    raw.operators.push({
      ...structuredClone(safaricom), id: 'airtel-ke', name: 'Airtel Kenya', numberRanges: ['+25473', '+25410'], shortCodes: ['385'], revenueShareBps: 500,
      smpp: { ...structuredClone(safaricom.smpp), port: airtelPort, password: 'secret3' },
    });
    delete raw.operators[2].ussd;
    raw.limits.challengeTtlMs = 5_000;
    ussdPort = raw.ussd.http.port;
    rawConfig = raw;
  });
  await waitFor('gateway bound to Airtel\'s SMSC', async () => airtelSmsc.boundSessions === 1);
  nats = await connectNats({ ...p.stack.config.nats, name: 'interop-test' }, quietLogger());
}, 60_000);
afterAll(async () => {
  await nats?.close();
  await p?.cleanup();
  await airtelSmsc?.stop();
});

describe('a SEND to another operator\'s subscriber', () => {
  it('is confirmed and receipted over the payer\'s link, credits the payee\'s wallet, and tells the payee over the payee\'s link', async () => {
    const payer = safaricomPhone();
    const payee = airtelPhone();
    const challenge = await p.ask(payer, `SEND 0${payee.slice(3)} 150`);
    expect(challenge).toMatch(/^Pay 150\.00 KES to \+254733/);
    expect(carrier.balanceOf(payer)).toBe(985_000n); // reserved on the payer's operator
    const receipt = await p.ask(payer, `YES ${codeIn(challenge)}`);
    expect(receipt).toMatch(/^Paid 150\.00 KES to \+254733\d+\. Fee 0\.00 KES\./);

    const received = await waitFor('payee receipt over Airtel', async () => onAirtel(payee)[0]);
    expect(received.text).toMatch(new RegExp(`^Received 150\\.00 KES from \\+${payer}\\. Ref [0-9A-F]{8}\\. It is in your dialpay wallet: send BAL to see it\\.$`));
    expect(received.source).toBe('385'); // Airtel's short code, not the payer's
    // Nothing for the payee over the payer's link; nothing for the payer over the payee's.
    expect(onSafaricom(payee)).toEqual([]);
    expect(onAirtel(payer)).toEqual([]);
    expect(onSafaricom(payer).map((m) => m.source)).toEqual(['384', '384']);

    await waitFor('payee wallet credited', async () => (await p.ledger.balance(AccountIds.subscriber(payee))) === 15_000n);
    expect(carrier.balanceOf(payer)).toBe(985_000n);
    expect(carrier.balanceOf(payee)).toBe(1_000_000n); // the payee's carrier account is not touched: the wallet holds it
    const { rows } = await p.pool.query('SELECT payer_operator_id, payee_operator_id, currency, amount_minor::text AS amount FROM billing.interop_positions');
    expect(rows).toEqual([{ payer_operator_id: 'safaricom-ke', payee_operator_id: 'airtel-ke', currency: 'KES', amount: '15000' }]);
    const payment = (await p.pool.query('SELECT operator_id, payee_operator_id FROM payments.payments WHERE payer_msisdn = $1', [payer])).rows[0];
    expect(payment).toEqual({ operator_id: 'safaricom-ke', payee_operator_id: 'airtel-ke' });
  });

  it('the other way, from Airtel, in French: the payee\'s receipt comes over Safari Mobile\'s link', async () => {
    const payer = airtelPhone();
    const payee = safaricomPhone();
    const challenge = await askAirtel(payer, `ENVOYER 0${payee.slice(3)} 50`);
    expect(challenge).toMatch(/^Payer 50,00 KES a \+254711/);
    expect(await askAirtel(payer, `OUI ${codeIn(challenge)}`)).toMatch(/^Paye 50,00 KES a \+254711/);
    const received = await waitFor('payee receipt over Safari Mobile', async () => onSafaricom(payee)[0]);
    expect(received.text).toMatch(new RegExp(`^Received 50\\.00 KES from \\+${payer}\\.`));
    expect(received.source).toBe('384');
    expect(onAirtel(payee)).toEqual([]);
    await waitFor('position booked', async () => (await p.pool.query(`SELECT 1 FROM billing.interop_positions WHERE payer_operator_id = 'airtel-ke'`)).rowCount === 1);
  });

  it('an on-net SEND books no position', async () => {
    const payer = safaricomPhone();
    const payee = safaricomPhone();
    const challenge = await p.ask(payer, `SEND 0${payee.slice(3)} 10`);
    await p.ask(payer, `YES ${codeIn(challenge)}`);
    await waitFor('payee receipt', async () => onSafaricom(payee)[0]);
    expect((await p.pool.query('SELECT count(*)::int AS n FROM billing.interop_positions')).rows[0]).toEqual({ n: 2 });
  });
});

describe('transfers refused before any reserve', () => {
  it('by SMS: a number in no operator\'s ranges, oneself, and an operator in another currency, in the payer\'s language', async () => {
    const payer = safaricomPhone();
    const transfersBefore = await ledgerTransfers();
    expect(await p.ask(payer, 'SEND 0200000001 10')).toBe('+254200000001 is not on a network dialpay can send to. Check the number. Nothing was charged.');
    expect(await p.ask(payer, `SEND ${payer} 10`)).toBe('You cannot send money to yourself.');
    expect(await p.ask(payer, 'SEND +221770000001 10')).toBe('+221770000001 is on Orange Senegal, which uses XOF: you cannot send KES there. Nothing was charged.');
    expect(await p.ask(payer, 'ENVOYER +221770000001 10')).toBe('+221770000001 est chez Orange Senegal, en XOF: impossible d envoyer des KES. Rien n a ete debite.');
    expect(await p.ask(payer, 'ENVOYER +33612345678 10')).toBe('+33612345678 n est pas sur un reseau joignable par dialpay. Verifiez le numero. Rien n a ete debite.');
    expect(await reservedFor(payer)).toEqual({ payments: 0, debits: 0 });
    expect(await ledgerTransfers()).toBe(transfersBefore);
    expect(carrier.balanceOf(payer)).toBe(1_000_000n);
  });

  it('on the USSD menu: an unreachable number is asked again; another currency ends with the reason; nothing reserved', async () => {
    const payer = safaricomPhone();
    const transfersBefore = await ledgerTransfers();
    const first = new UssdPhone(ussdPort, payer);
    await first.dial();
    expect((await first.answer('2468', '2468')).text).toMatch(/^PIN saved\./);
    const s = new UssdPhone(ussdPort, payer);
    await s.dial();
    expect((await s.answer('2', '0200000001')).text).toBe('dialpay cannot send to that number. Enter another.\nEnter the phone number:');
    expect(await s.answer('+221770000001', '10', '2468')).toMatchObject({ text: '+221770000001 is on Orange Senegal, which uses XOF: you cannot send KES there. Nothing was charged.', end: true });
    expect(await reservedFor(payer)).toEqual({ payments: 0, debits: 0 });
    expect(await ledgerTransfers()).toBe(transfersBefore);
  });

  it('on the USSD menu, a cross-operator send goes through with its receipts on both links', async () => {
    const payer = safaricomPhone();
    const payee = airtelPhone();
    const first = new UssdPhone(ussdPort, payer);
    await first.dial();
    await first.answer('1357', '1357');
    const s = new UssdPhone(ussdPort, payer);
    await s.dial();
    expect((await s.answer('2', `0${payee.slice(3)}`, '20', '1357')).text).toBe(`Send 20.00 KES to +${payee}\nFee 0.00 KES\nCharged to your Safari Mobile account\n1 Confirm\n2 Cancel`);
    expect((await s.answer('1')).end).toBe(true);
    await waitFor('payee receipt over Airtel', async () => onAirtel(payee).some((m) => m.text.startsWith(`Received 20.00 KES from +${payer}`)));
    await waitFor('payer receipt over Safari Mobile', async () => onSafaricom(payer).some((m) => m.text.startsWith('Paid 20.00 KES')));
    await waitFor('position booked', async () => (await p.pool.query('SELECT 1 FROM billing.interop_positions WHERE amount_minor = 2000')).rowCount === 1);
  });
});

describe('operator-to-operator settlement', () => {
  it('closes a UTC day into the net position per pair of operators, the same when closed again, with CSV and JSON reports', async () => {
    // Move the positions into a day (UTC) that has ended and is closable.
    await p.pool.query(`UPDATE billing.interop_positions SET booked_at = $1`, [noonOf(-2)]);
    const service = new InteropSettlement({ pool: p.pool, nc: nats.nc, log: quietLogger() });
    const closed = await service.close(day(-2));
    expect(closed.closedNow).toBe(true);
    // Safari Mobile's subscribers sent 150 + 20, Airtel's 50: Safari Mobile owes Airtel 120.00 KES net.
    expect(closed.lines).toEqual([{
      operatorA: 'airtel-ke', operatorB: 'safaricom-ke', currency: 'KES', transfersAToB: 1, aOwesBMinor: 5_000n, transfersBToA: 2, bOwesAMinor: 17_000n,
      netAOwesBMinor: -12_000n, debtor: 'safaricom-ke', creditor: 'airtel-ke', netMinor: 12_000n,
    }]);
    // A position booked after the close does not change the closed day.
    await p.pool.query(`INSERT INTO billing.interop_positions (debit_id, payment_id, payer_operator_id, payee_operator_id, currency, amount_minor, booked_at) VALUES ('late', 'late', 'airtel-ke', 'safaricom-ke', 'KES', 1, $1)`, [noonOf(-2)]);
    const again = await service.close(day(-2));
    expect(again.closedNow).toBe(false);
    expect(again.lines).toEqual(closed.lines);

    const dir = mkdtempSync(join(tmpdir(), 'dialpay-interop-'));
    const config = join(dir, 'dialpay.yaml');
    writeFileSync(config, stringify({ ...rawConfig, log: { level: 'error' } }));
    const child = runTs('cli/dialpay.ts', ['settle', '--interop', '--window', day(-2), '--out', dir, '--config', config]);
    expect(await child.exited()).toBe(0);
    expect(child.stdout()).toBe(`already closed interop/${day(-2)}: 1 pair(s) of operators; wrote ${dir}/interop-settlement-${day(-2)}.csv and ${dir}/interop-settlement-${day(-2)}.json\n`);
    expect(readFileSync(join(dir, `interop-settlement-${day(-2)}.csv`), 'utf8').trim().split('\n')).toEqual([
      'window,operator_a,operator_b,currency,transfers_a_to_b,a_owes_b_minor,transfers_b_to_a,b_owes_a_minor,net_a_owes_b_minor,debtor,creditor,net_minor',
      `interop/${day(-2)},airtel-ke,safaricom-ke,KES,1,5000,2,17000,-12000,safaricom-ke,airtel-ke,12000`,
    ]);
    // Today has not ended: nothing is closed or written.
    const today = new Date().toISOString().slice(0, 10);
    const early = runTs('cli/dialpay.ts', ['settle', '--interop', '--window', today, '--out', dir, '--config', config]);
    expect(await early.exited()).toBe(1);
    expect(early.stderr()).toMatch(new RegExp(`interop day ${today} runs until .*; nothing written`));
    expect((await p.pool.query('SELECT 1 FROM settlement.interop_days WHERE window_date = $1::date', [today])).rowCount).toBe(0);
    const json = JSON.parse(readFileSync(join(dir, `interop-settlement-${day(-2)}.json`), 'utf8'));
    expect(json).toMatchObject({ windowId: `interop/${day(-2)}`, dayBoundary: 'UTC', pairs: [{ debtor: 'safaricom-ke', creditor: 'airtel-ke', netMinor: '12000', currency: 'KES' }] });
  }, 60_000);

  it('leaves a ledger that adds up, with no reservation left open', async () => {
    expect(await p.ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
    await waitFor('holds empty', async () => (await p.ledger.balance(AccountIds.holds('KES'))) === 0n);
  });
});
