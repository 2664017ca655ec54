// Settlement end to end: payments through the simulator, a refund through the
// merchant API, the window closed from the ledger (through billing), booked
// from payable to settled, told to merchants, and idempotent when closed again.
// Airtime bought in a window is settled to the operator (a refused top-up nets
// out), and a wallet-funded payment is not money the carrier collected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { SettlementService, WindowStillOpenError, writeReports } from '../../../services/settlement/index.js';
import { bigIntToInt64, moneyToProto } from '../../../proto/index.js';
import { newApiKey } from '../../../runtime/api-keys.js';
import { Events, Requests, requestReply, type NatsHandle } from '../../../runtime/nats/index.js';
import { startMerchantApiStack, type PaymentsStack } from '../../support/payments-stack.js';
import { quietLogger, waitFor } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';
import { runTs } from '../../support/child.js';
import { day, noonOf } from '../../support/days.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

let p: PaymentsStack;
let nats: NatsHandle;
let api: string;
let service: SettlementService;
const key = newApiKey();
const evKey = newApiKey();
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n });

const pay = (phone: string, merchant: string, amount: string) => p.payBySms(phone, merchant, amount);

beforeAll(async () => {
  ({ p, api, nats } = await startMerchantApiStack(carrier, [key.stored, evKey.stored], 'settlement-test'));
  service = new SettlementService({ pool: p.pool, nc: nats.nc, config: p.stack.config, log: quietLogger() });
});
afterAll(async () => {
  await nats?.close();
  await p?.cleanup();
});

describe('a settlement window', () => {
  it('closes from the ledger: per-merchant lines, refunds, operator totals, booked to settled accounts, once', async () => {
    const a = await pay('254777000001', 'SHOP42', '500');   // fee 7.60, share 50.00, payee 442.40
    await pay('254777000002', 'SHOP42', '100');             // fee 1.60, share 10.00, payee 88.40
    await pay('254777000003', 'EVCHARGE', '20');            // fee 0.40, share 2.00, payee 17.60
    const refund = await fetch(`${api}/v1/payments/${a}/refunds`, {
      method: 'POST', headers: { authorization: `Bearer ${key.key}`, 'idempotency-key': 'st-1', 'content-type': 'application/json' }, body: JSON.stringify({ amountMinor: 10_000 }),
    });
    expect(refund.status).toBe(201);
    await waitFor('refunded', async () => (await p.pool.query(`SELECT 1 FROM payments.refunds WHERE payment_id = $1 AND state = 'completed'`, [a])).rowCount === 1);
    // Move today's ledger into a window that has ended and is closable (UTC, cut-off 00:00): ten days back, before the others here.
    await p.pool.query(`UPDATE billing.transfers SET created_at = $1 WHERE kind IN ('capture', 'refund')`, [noonOf(-10)]);
    const payableBefore = await p.ledger.balance(AccountIds.merchant('SHOP42', 'KES'));

    const closed = await service.close('safaricom-ke', day(-10));
    expect(closed.closedNow).toBe(true);
    expect(closed.batch.merchants).toEqual([
      { merchantId: 'EVCHARGE', currency: 'KES', payments: 1, refunds: 0, grossMinor: 2_000n, refundsMinor: 0n, feesMinor: 40n, operatorShareMinor: 200n, netPayableMinor: 1_760n },
      { merchantId: 'SHOP42', currency: 'KES', payments: 2, refunds: 1, grossMinor: 60_000n, refundsMinor: 10_000n, feesMinor: 920n, operatorShareMinor: 6_000n, netPayableMinor: 43_080n },
    ]);
    expect(closed.batch.operator).toEqual({ currency: 'KES', owesMinor: 52_000n, owedMinor: 6_200n, airtimeOwedMinor: 0n });
    expect(closed.airtimeSettledMinor).toBe(0n);
    expect(await p.ledger.balance(AccountIds.merchantSettled('SHOP42', 'KES'))).toBe(43_080n);
    expect(await p.ledger.balance(AccountIds.merchant('SHOP42', 'KES'))).toBe(payableBefore - 43_080n);
    expect(await p.ledger.balance(AccountIds.operatorSettled('safaricom-ke'))).toBe(6_200n);
    expect(await p.ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });

    // Closing again is the same batch, and books nothing more.
    const again = await service.close('safaricom-ke', day(-10));
    expect(again.closedNow).toBe(false);
    expect(again.batch).toEqual(closed.batch);
    expect(await p.ledger.balance(AccountIds.merchantSettled('SHOP42', 'KES'))).toBe(43_080n);

    // Merchants are told, and see their lines through the API.
    await waitFor('settlement.closed events', async () => (await readEvents(nats, 'MERCHANT_EVENTS', Events.merchantEvent)).filter((e) => e.type === 'settlement.closed').length === 2);
    const lines = await (await fetch(`${api}/v1/settlements`, { headers: { authorization: `Bearer ${key.key}` } })).json() as { data: Record<string, unknown>[] };
    expect(lines.data).toEqual([expect.objectContaining({ windowId: `safaricom-ke/${day(-10)}`, status: 'closed', currency: 'KES', payments: 2, refunds: 1, grossMinor: 60_000, netPayableMinor: 43_080 })]);
  });

  it('dialpay settle writes the window\'s CSV and JSON reports, and says it was closed already', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dialpay-settle-'));
    const config = join(dir, 'dialpay.yaml');
    writeFileSync(config, stringify({ ...p.stack.rawConfig, log: { level: 'error' } }));
    const child = runTs('cli/dialpay.ts', ['settle', '--operator', 'safaricom-ke', '--window', day(-10), '--out', dir, '--config', config]);
    expect(await child.exited()).toBe(0);
    expect(child.stdout()).toMatch(new RegExp(`^already closed safaricom-ke/${day(-10)}: 2 merchant\\(s\\)`));
    const csv = readFileSync(join(dir, `settlement-safaricom-ke-${day(-10)}.csv`), 'utf8').trim().split('\n');
    expect(csv).toEqual([
      'window,merchant_id,currency,payments,refunds,gross_minor,refunds_minor,fees_minor,operator_share_minor,net_payable_minor,paid_out_minor',
      `safaricom-ke/${day(-10)},EVCHARGE,KES,1,0,2000,0,40,200,1760,1760`,
      `safaricom-ke/${day(-10)},SHOP42,KES,2,1,60000,10000,920,6000,43080,43080`,
    ]);
    const json = JSON.parse(readFileSync(join(dir, `settlement-safaricom-ke-${day(-10)}.json`), 'utf8'));
    expect(json.operator).toEqual({ currency: 'KES', owesMinor: '52000', owedMinor: '6200', airtimeOwedMinor: '0' });
    expect(json.airtimeSettledMinor).toBe('0');
    expect(readFileSync(join(dir, `settlement-safaricom-ke-${day(-10)}-operator.csv`), 'utf8')).toBe(
      `window,operator_id,currency,owes_minor,owed_minor,airtime_owed_minor,airtime_settled_minor\nsafaricom-ke/${day(-10)},safaricom-ke,KES,52000,6200,0,0\n`);
  });

  it('a closed window is marked paid out once (CLOSED -> SETTLED); an open one cannot be', async () => {
    expect(await service.markSettled(`safaricom-ke/${day(-10)}`)).toBe('settled');
    expect(await service.markSettled(`safaricom-ke/${day(-10)}`)).toBe('already-settled');
    const lines = await (await fetch(`${api}/v1/settlements`, { headers: { authorization: `Bearer ${key.key}` } })).json() as { data: { status: string }[] };
    expect(lines.data[0]?.status).toBe('settled');
    await expect(service.markSettled(`safaricom-ke/${day(5)}`)).rejects.toThrow(/only a closed window/);
  });

  it('a window whose refunds outweigh its payments pays nothing, and its debt comes off the next payouts', async () => {
    const moveTo = (paymentId: string, offsetDays: number, kind: 'capture' | 'refund' = 'capture') =>
      p.pool.query(`UPDATE billing.transfers SET created_at = $2 WHERE payment_id = $1 AND kind = $3`, [paymentId, noonOf(offsetDays), kind]);
    const first = await pay('254777000011', 'EVCHARGE', '100');            // payee 88.40
    await moveTo(first, -6);
    expect((await service.close('safaricom-ke', day(-6))).paidOutMinor).toEqual({ EVCHARGE: 8_840n });
    const refunded = await fetch(`${api}/v1/payments/${first}/refunds`, {
      method: 'POST', headers: { authorization: `Bearer ${evKey.key}`, 'idempotency-key': 'carry-1', 'content-type': 'application/json' }, body: JSON.stringify({ amountMinor: 10_000 }),
    });
    expect(refunded.status).toBe(201);
    await waitFor('refunded', async () => (await p.pool.query(`SELECT 1 FROM payments.refunds WHERE payment_id = $1 AND state = 'completed'`, [first])).rowCount === 1);
    await moveTo(first, -5, 'refund'); // the refund's day
    const refundDay = await service.close('safaricom-ke', day(-5));
    expect(refundDay.batch.merchants[0]).toMatchObject({ merchantId: 'EVCHARGE', netPayableMinor: -10_000n });
    expect(refundDay.paidOutMinor).toEqual({ EVCHARGE: 0n });
    const second = await pay('254777000012', 'EVCHARGE', '50');             // payee 44.15, still in debt
    await moveTo(second, -4);
    expect((await service.close('safaricom-ke', day(-4))).paidOutMinor).toEqual({ EVCHARGE: 0n });
    const third = await pay('254777000013', 'EVCHARGE', '200');             // payee 176.90: 121.05 left after the debt
    await moveTo(third, -2);
    expect((await service.close('safaricom-ke', day(-2))).paidOutMinor).toEqual({ EVCHARGE: 12_105n });
    // Over the four days: 88.40 + 44.15 + 176.90 earned, 100.00 refunded, 209.45 paid out. Nothing is forgotten.
    expect(await p.ledger.balance(AccountIds.merchantSettled('EVCHARGE', 'KES'))).toBe(1_760n + 8_840n + 12_105n);
    expect(await p.ledger.balance(AccountIds.merchant('EVCHARGE', 'KES'))).toBe(0n);
  });

  // Before the next test: a window closed later than another settles what the account held at its end, so the
  // airtime of these earlier days must be in the ledger before any later window settles airtime (as time ensures).
  it('two windows closed at once settle each airtime once: none is paid twice, none left behind', async () => {
    const buy = async (phone: string, amount: string) => {
      const challenge = await p.ask(phone, `AIRTIME ${amount}`);
      expect(await p.ask(phone, `YES ${/YES (\d{4})/.exec(challenge)?.[1]}`)).toMatch(/ bought\./);
      return (await p.pool.query<{ payment_id: string }>('SELECT payment_id FROM payments.payments WHERE payer_msisdn = $1 ORDER BY created_at DESC LIMIT 1', [phone])).rows[0]?.payment_id as string;
    };
    const earlier = await buy('254777000031', '20');
    const later = await buy('254777000032', '40');
    await p.pool.query(`UPDATE billing.transfers SET created_at = $2 WHERE payment_id = $1`, [earlier, noonOf(-9)]);
    await p.pool.query(`UPDATE billing.transfers SET created_at = $2 WHERE payment_id = $1`, [later, noonOf(-8)]);
    const airtime = AccountIds.airtime('safaricom-ke', 'KES');
    expect(await p.ledger.balance(airtime)).toBe(6_000n);
    const settledBefore = await p.ledger.balance(AccountIds.operatorSettled('safaricom-ke')).catch(() => 0n); // none yet when run alone

    const [nine, eight] = await Promise.all([service.close('safaricom-ke', day(-9)), service.close('safaricom-ke', day(-8))]);
    expect([nine.batch.operator.airtimeOwedMinor, eight.batch.operator.airtimeOwedMinor]).toEqual([2_000n, 4_000n]);
    // Whichever booked first, the later window's end saw both: together they moved exactly what was bought.
    expect(nine.airtimeSettledMinor + eight.airtimeSettledMinor).toBe(6_000n);
    expect(await p.ledger.balance(airtime)).toBe(0n);
    expect(await p.ledger.balance(AccountIds.operatorSettled('safaricom-ke'))).toBe(settledBefore + 6_000n);
  });

  it('settles the window\'s airtime to the operator, a refused top-up netted out, and counts no wallet-funded payment as carrier-collected', async () => {
    const buyer = '254777000021';
    const refusedBuyer = '254777000022';
    const refusedLine = '254777000023';
    const buyAirtime = async (phone: string, text: string) => {
      const challenge = await p.ask(phone, text);
      return p.ask(phone, `YES ${/YES (\d{4})/.exec(challenge)?.[1]}`);
    };
    const paymentOf = async (phone: string) => (await p.pool.query<{ payment_id: string }>('SELECT payment_id FROM payments.payments WHERE payer_msisdn = $1 ORDER BY created_at DESC LIMIT 1', [phone])).rows[0]?.payment_id as string;
    const completed = (id: string) => waitFor(`payment ${id} completed`, async () => (await p.pool.query(`SELECT 1 FROM payments.payments WHERE payment_id = $1 AND state = 'completed'`, [id])).rowCount === 1);

    expect(await buyAirtime(buyer, 'AIRTIME 50')).toMatch(/^Airtime 50\.00 KES for \+254777000021 bought\./);
    const bought = await paymentOf(buyer);
    carrier.refuseTopUps(refusedLine);
    expect(await buyAirtime(refusedBuyer, `AIRTIME 30 0${refusedLine.slice(3)}`)).toMatch(/failed: the operator refused the top-up\. The 30\.00 KES is in your dialpay wallet\./);
    const refused = await paymentOf(refusedBuyer);
    await completed(bought);
    await completed(refused);
    expect(await p.ledger.balance(AccountIds.subscriber(refusedBuyer))).toBe(3_000n);
    // The refunded 30.00 pays a merchant from the wallet; the carrier collects nothing for it. Another pays through the carrier.
    const fromWallet = await pay(refusedBuyer, 'EVCHARGE', '20');           // fee 0.40, share 2.00
    expect(await p.ledger.balance(AccountIds.subscriber(refusedBuyer))).toBe(1_000n);
    const fromCarrier = await pay(buyer, 'EVCHARGE', '10');                 // fee 0.25, share 1.00
    expect((await p.pool.query<{ funding: string }>('SELECT funding FROM billing.debits WHERE payment_id = ANY($1) ORDER BY funding', [[fromWallet, fromCarrier]])).rows.map((r) => r.funding)).toEqual(['carrier', 'wallet']);
    const ids = [bought, refused, fromWallet, fromCarrier];
    await p.pool.query(`UPDATE billing.transfers SET created_at = $2 WHERE payment_id = ANY($1)`, [ids, noonOf(-7)]);
    const airtime = AccountIds.airtime('safaricom-ke', 'KES');
    expect(await p.ledger.balance(airtime)).toBe(5_000n);                   // 50.00 + 30.00 captured, 30.00 refunded
    const settledBefore = await p.ledger.balance(AccountIds.operatorSettled('safaricom-ke')).catch(() => 0n); // none yet when run alone

    const closed = await service.close('safaricom-ke', day(-7));
    expect(closed.batch.merchants).toEqual([
      { merchantId: 'EVCHARGE', currency: 'KES', payments: 2, refunds: 0, grossMinor: 3_000n, refundsMinor: 0n, feesMinor: 65n, operatorShareMinor: 300n, netPayableMinor: 2_635n },
    ]);
    // The carrier collected what it charged (10.00 to EVCHARGE, 50.00 and 30.00 of airtime), not the 20.00 paid from the
    // wallet (the refused top-up's refund went to the wallet, not back through the carrier); it is owed its share and the
    // airtime it credited.
    expect(closed.batch.operator).toEqual({ currency: 'KES', owesMinor: 1_000n + 5_000n + 3_000n, owedMinor: 300n, airtimeOwedMinor: 5_000n });
    expect(closed.airtimeSettledMinor).toBe(5_000n);
    expect(await p.ledger.balance(airtime)).toBe(0n);
    expect(await p.ledger.balance(AccountIds.operatorSettled('safaricom-ke'))).toBe(settledBefore + 300n + 5_000n);
    const booked = await p.pool.query<{ amount_minor: string }>('SELECT amount_minor::text FROM billing.transfers WHERE id = $1', [`settle:safaricom-ke/${day(-7)}:operator:airtime`]);
    expect(booked.rows).toEqual([{ amount_minor: '5000' }]);
    expect(await p.ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });

    // The reports say it.
    const dir = mkdtempSync(join(tmpdir(), 'dialpay-settle-airtime-'));
    const base = writeReports(dir, closed);
    expect(readFileSync(`${base}-operator.csv`, 'utf8').trim().split('\n')[1]).toBe(`safaricom-ke/${day(-7)},safaricom-ke,KES,9000,300,5000,5000`);
    const json = JSON.parse(readFileSync(`${base}.json`, 'utf8'));
    expect(json.operator).toEqual({ currency: 'KES', owesMinor: '9000', owedMinor: '300', airtimeOwedMinor: '5000' });
    expect(json.airtimeSettledMinor).toBe('5000');

    // Closing again is the same report and books nothing twice; nor does billing, asked again directly.
    const again = await service.close('safaricom-ke', day(-7));
    expect(again.closedNow).toBe(false);
    expect(again.batch).toEqual(closed.batch);
    expect(again.airtimeSettledMinor).toBe(5_000n);
    const rebooked = await requestReply(nats.nc, Requests.billingBookSettlement, {
      windowId: `safaricom-ke/${day(-7)}`, operatorId: 'safaricom-ke', lines: [],
      airtimeOwed: moneyToProto({ amountMinor: 5_000n, currency: 'KES' }), toUnixMs: bigIntToInt64(BigInt(closed.toAt.getTime())),
    }, 10_000);
    expect(rebooked.ok).toBe(true);
    expect(rebooked.airtimeSettled?.amountMinor?.toString()).toBe('5000');
    expect(await p.ledger.balance(airtime)).toBe(0n);
    expect(await p.ledger.balance(AccountIds.operatorSettled('safaricom-ke'))).toBe(settledBefore + 300n + 5_000n);
  });

  it('a window with no activity closes to an empty batch', async () => {
    const closed = await service.close('safaricom-ke', day(-3));
    expect(closed.batch).toEqual({ merchants: [], operator: { currency: 'KES', owesMinor: 0n, owedMinor: 0n, airtimeOwedMinor: 0n } });
  });

  it('a window that has not ended cannot close', async () => {
    await expect(service.close('safaricom-ke', day(0))).rejects.toBeInstanceOf(WindowStillOpenError);
  });
});
