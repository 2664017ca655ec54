// Airtime's pure parts and the simulated carrier's top-up: credited once per top-up id, whatever
// the retries; the same weather as its other calls; refusals a test can ask for.
import { describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/adapters/simulator.js';
import { CarrierOutcome } from '../../../services/billing/adapters/types.js';
import { AccountIds, airtimeRefundTransfer, assertBalanced } from '../../../services/billing/ledger/rules.js';
import { offersAirtime } from '../../../runtime/airtime.js';

const line = '254700000123';
const request = (topUpId: string, amountMinor = 5_000n) => ({ topUpId, msisdn: line, currency: 'KES', amountMinor });

describe('SimulatedCarrier.topUp', () => {
  it('credits the line once per top-up id, however often it is asked', async () => {
    const carrier = new SimulatedCarrier({ openingBalanceMinor: 100n });
    expect(await carrier.topUp(request('topup:a'))).toEqual({ outcome: CarrierOutcome.OK, detail: '' });
    expect(carrier.balanceOf(line)).toBe(5_100n);
    for (let i = 0; i < 3; i++) expect((await carrier.topUp(request('topup:a'))).outcome).toBe(CarrierOutcome.OK);
    expect(carrier.balanceOf(line)).toBe(5_100n);
    expect(carrier.topUpsCredited).toBe(1);
    // Another id is another top-up.
    await carrier.topUp(request('topup:b', 1n));
    expect(carrier.balanceOf(line)).toBe(5_101n);
    expect(carrier.topUpsCredited).toBe(2);
  });

  it('answers unavailable while the line is down, and credits once it is up', async () => {
    const carrier = new SimulatedCarrier({ openingBalanceMinor: 0n });
    carrier.down(line);
    expect((await carrier.topUp(request('topup:c'))).outcome).toBe(CarrierOutcome.UNAVAILABLE);
    expect(carrier.balanceOf(line)).toBe(0n);
    carrier.up(line);
    expect((await carrier.topUp(request('topup:c'))).outcome).toBe(CarrierOutcome.OK);
    expect(carrier.balanceOf(line)).toBe(5_000n);
  });

  it('refuses a barred line and a line set to refuse top-ups, crediting nothing', async () => {
    const carrier = new SimulatedCarrier({ openingBalanceMinor: 0n, barred: new Set(['254700000999']) });
    expect((await carrier.topUp({ ...request('topup:d'), msisdn: '254700000999' })).outcome).toBe(CarrierOutcome.REJECTED);
    carrier.refuseTopUps(line);
    expect(await carrier.topUp(request('topup:e'))).toEqual({ outcome: CarrierOutcome.REJECTED, detail: 'top-up refused for this line' });
    expect(carrier.balanceOf(line)).toBe(0n);
    expect(carrier.topUpsCredited).toBe(0);
  });

  it('has the weather of its other calls: a simulated outage credits nothing', async () => {
    const carrier = new SimulatedCarrier({ openingBalanceMinor: 0n, unavailableRate: 1 });
    expect((await carrier.topUp(request('topup:f'))).outcome).toBe(CarrierOutcome.UNAVAILABLE);
    expect(carrier.balanceOf(line)).toBe(0n);
  });
});

describe('airtime rules', () => {
  it('an operator offers airtime with the simulated carrier or a configured top-up interface, else not', () => {
    expect(offersAirtime({ billingAdapter: 'simulator', topUp: undefined })).toBe(true);
    expect(offersAirtime({ billingAdapter: 'wallet', topUp: undefined })).toBe(false);
    expect(offersAirtime({ billingAdapter: 'http', topUp: undefined })).toBe(false);
    expect(offersAirtime({ billingAdapter: 'wallet', topUp: { baseUrl: 'https://op.example/topup', timeoutMs: 3_000 } })).toBe(true);
  });

  it('a refused top-up moves its amount from the airtime account to the payer wallet, balanced', () => {
    const t = airtimeRefundTransfer({ id: 'airtime-refund:p1', paymentId: 'p1', currency: 'KES', amountMinor: 5_000n, airtimeAccountId: AccountIds.airtime('safaricom-ke', 'KES'), walletAccountId: AccountIds.subscriber(line) });
    assertBalanced(t);
    expect(t.kind).toBe('refund');
    expect(t.postings).toEqual([{ accountId: 'airtime:safaricom-ke:KES', amountMinor: -5_000n }, { accountId: `subscriber:${line}`, amountMinor: 5_000n }]);
  });
});
