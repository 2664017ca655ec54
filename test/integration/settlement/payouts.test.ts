// A merchant's payout to a wallet in a settlement window (issue 16), end to end: a payment by SMS
// credits the merchant's payable, a payout (CreditRequested to billing's consumer) takes part of it
// to a subscriber's wallet, and the window's close shows the payout on the merchant's line (the CSV,
// the settlement.closed webhook, GET /v1/settlements), nets it off, and settles only what is left, once.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { SettlementService, writeReports } from '../../../services/settlement/index.js';
import { dialpay, moneyFromProto, moneyToProto } from '../../../proto/index.js';
import { webhookBody } from '../../../services/webhooks/delivery.js';
import { newApiKey } from '../../../runtime/api-keys.js';
import { Events, newEnvelope, publishEvent, type NatsHandle } from '../../../runtime/nats/index.js';
import { startMerchantApiStack, type PaymentsStack } from '../../support/payments-stack.js';
import { quietLogger, waitFor } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';
import { day, noonOf } from '../../support/days.js';

const { CreditOutcome, CreditSource } = dialpay.v1;
let p: PaymentsStack;
let nats: NatsHandle;
let api: string;
let service: SettlementService;
const key = newApiKey();
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n });

beforeAll(async () => {
  ({ p, nats, api } = await startMerchantApiStack(carrier, [key.stored], 'settlement-payouts-test'));
  service = new SettlementService({ pool: p.pool, nc: nats.nc, config: p.stack.config, log: quietLogger() });
});
afterAll(async () => {
  await nats?.close();
  await p?.cleanup();
});

describe('a settlement window with a payout', () => {
  it('shows the payout on the merchant line, nets it off and settles only what is left', async () => {
    await p.payBySms('254777100001', 'SHOP42', '500'); // fee 7.60, share 50.00, payee 442.40
    const creditId = randomUUID();
    await publishEvent(nats.js, Events.creditRequested, {
      envelope: newEnvelope({ producer: 'test' }), creditId, source: CreditSource.CREDIT_SOURCE_MERCHANT_PAYOUT, operatorId: 'safaricom-ke', merchantId: 'SHOP42',
      msisdn: '254777100002', amount: moneyToProto({ amountMinor: 10_000n, currency: 'KES' }), reference: 'CASHBACK-1',
    }, { timeoutMs: 5_000 });
    const result = await waitFor('credit result', async () => (await readEvents(nats, 'DEBITS', Events.creditResult)).find((r) => r.creditId === creditId));
    expect(result.outcome).toBe(CreditOutcome.CREDIT_OUTCOME_OK);
    expect(await p.ledger.balance(AccountIds.merchant('SHOP42', 'KES'))).toBe(34_240n);
    // Into a window that has ended and is closable.
    await p.pool.query(`UPDATE billing.transfers SET created_at = $1 WHERE kind IN ('capture', 'refund', 'credit')`, [noonOf(-2)]);
    await p.pool.query(`UPDATE billing.credits SET created_at = $1`, [noonOf(-2)]);

    const closed = await service.close('safaricom-ke', day(-2));
    expect(closed.batch.merchants).toEqual([
      { merchantId: 'SHOP42', currency: 'KES', payments: 1, refunds: 0, grossMinor: 50_000n, refundsMinor: 0n, feesMinor: 760n, operatorShareMinor: 5_000n, netPayableMinor: 34_240n, payouts: 1, payoutsMinor: 10_000n },
    ]);
    expect(closed.paidOutMinor).toEqual({ SHOP42: 34_240n });
    expect(await p.ledger.balance(AccountIds.merchant('SHOP42', 'KES'))).toBe(0n);
    expect(await p.ledger.balance(AccountIds.merchantSettled('SHOP42', 'KES'))).toBe(34_240n);
    // The payout is no business of the carrier's: it owes what it collected, 500.00.
    expect(closed.batch.operator).toMatchObject({ owesMinor: 50_000n, owedMinor: 5_000n });

    const again = await service.close('safaricom-ke', day(-2));
    expect(again.closedNow).toBe(false);
    expect(again.batch).toEqual(closed.batch);
    expect(await p.ledger.balance(AccountIds.merchantSettled('SHOP42', 'KES'))).toBe(34_240n);

    const base = writeReports(mkdtempSync(join(tmpdir(), 'dialpay-settle-payouts-')), closed);
    expect(readFileSync(`${base}.csv`, 'utf8').trim().split('\n')).toEqual([
      'window,merchant_id,currency,payments,refunds,gross_minor,refunds_minor,fees_minor,operator_share_minor,net_payable_minor,payouts,payouts_minor,paid_out_minor',
      `safaricom-ke/${day(-2)},SHOP42,KES,1,0,50000,0,760,5000,34240,1,10000,34240`,
    ]);
    expect(await p.ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });

    // The merchant sees its payouts on its line: in the settlement.closed webhook and in GET /v1/settlements.
    const closedEvents = await waitFor('settlement.closed', async () => {
      const events = (await readEvents(nats, 'MERCHANT_EVENTS', Events.merchantEvent)).filter((e) => e.type === 'settlement.closed' && e.merchantId === 'SHOP42');
      return events.length > 0 ? events : null;
    });
    expect(closedEvents).toHaveLength(1);
    const event = closedEvents[0] as dialpay.v1.IMerchantEvent;
    expect(event.settlement?.payouts).toBe(1);
    expect(moneyFromProto(event.settlement?.payoutsTotal)).toEqual({ amountMinor: 10_000n, currency: 'KES' });
    const line = { windowId: `safaricom-ke/${day(-2)}`, currency: 'KES', payments: 1, grossMinor: 50_000, netPayableMinor: 34_240, paidOutMinor: 34_240, payouts: 1, payoutsMinor: 10_000 };
    expect(JSON.parse(webhookBody(event))).toMatchObject({ type: 'settlement.closed', data: { settlement: { ...line, status: 'closed' } } });
    const listed = await fetch(`${api}/v1/settlements`, { headers: { authorization: `Bearer ${key.key}` } });
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { data: unknown[] }).data).toEqual([expect.objectContaining(line)]);
  });
});
