// The SIM-swap check end to end: SMS PAY through the gateway, payments, billing and the simulated
// operator's CAMARA SIM Swap API over HTTP. A payer whose SIM was swapped an hour ago pays above the
// operator's threshold: the payment is held (an SMS says so, a care case is opened), nothing is
// reserved, no challenge is sent. Below the threshold: a normal payment. An operator without the API:
// the payment proceeds and payments counts the skipped check.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { SimSwapApiSimulator } from '../../../operator-sim/index.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { waitFor } from '../../support/stack.js';
import { loadSimSwapDefinition, simSwapViolations } from '../../support/sim-swap-schema.js';

const HOUR_MS = 3_600_000;
const SWAPPED = '254700000711';
const NOT_SWAPPED = '254700000712';
const carrier = new SimulatedCarrier({ openingBalanceMinor: 100_000_000n });

async function metric(port: number, outcome: string, operator = 'safaricom-ke'): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('dialpay_sim_swap_checks_total{')
    && l.includes(`operator="${operator}"`) && l.includes(`outcome="${outcome}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

const paymentOf = async (s: PaymentsStack, phone: string) => (await s.pool.query<{ payment_id: string; state: string }>(
  'SELECT payment_id, state FROM payments.payments WHERE payer_msisdn = $1 ORDER BY created_at DESC LIMIT 1', [phone])).rows[0];

describe('an operator with the SIM Swap API (threshold 500.00 KES, 24 h)', () => {
  const api = new SimSwapApiSimulator({ clientId: 'dialpay', clientSecret: 'e2e-secret', record: true });
  let s: PaymentsStack;

  beforeAll(async () => {
    await api.start();
    api.addLine(SWAPPED, new Date(Date.now() - 5_000 * HOUR_MS));
    api.simulateSwap(SWAPPED, new Date(Date.now() - HOUR_MS));
    api.addLine(NOT_SWAPPED, new Date(Date.now() - 5_000 * HOUR_MS));
    s = await startPaymentsStack(carrier, (raw) => {
      raw.operators[0].simSwap = {
        url: api.url, tokenUrl: api.tokenUrl, clientId: 'dialpay', clientSecret: 'e2e-secret', timeoutMs: 1_000,
        maxAgeHours: 24, checkAboveMinor: 50_000,
      };
    });
  }, 120_000);

  afterAll(async () => {
    await s?.cleanup();
    await api.stop();
  }, 60_000);

  it('a payer swapped an hour ago pays above the threshold: held with an SMS and a care case, nothing reserved, no challenge', async () => {
    const text = await s.ask(SWAPPED, 'PAY SHOP42 600');
    expect(text).toMatch(/^Your payment of .*600.* is on hold for your protection \(a recent SIM change on your line\)\. Nothing was charged\./);
    expect(text).not.toMatch(/YES \d{4}/);
    const payment = await waitFor('payment held', async () => {
      const p = await paymentOf(s, SWAPPED);
      return p?.state === 'held' ? p : null;
    });
    const cases = await s.pool.query<{ rule: string; msisdn: string }>('SELECT rule, msisdn FROM payments.care_cases WHERE payment_id = $1',
      [payment.payment_id]);
    expect(cases.rows).toEqual([{ rule: 'sim-swap', msisdn: SWAPPED }]);
    expect(text).toContain(`case ${(await s.pool.query('SELECT case_id FROM payments.care_cases WHERE payment_id = $1', [payment.payment_id])).rows[0]?.case_id}`);
    const debits = await s.pool.query<{ state: string }>('SELECT state FROM billing.debits WHERE debit_id = $1', [payment.payment_id]);
    expect(debits.rows.map((r) => r.state)).toEqual(['refused']);
    expect(await s.ledger.transferAmount(`reserve:${payment.payment_id}`)).toBeNull();
    expect(carrier.balanceOf(SWAPPED)).toBe(100_000_000n);
    // No second SMS (a challenge) follows.
    await new Promise((r) => setTimeout(r, 500));
    expect(s.sim.submitted.filter((m) => m.destination === SWAPPED)).toHaveLength(1);
    expect(await metric(s.stack.config.http.opsPorts.billing, 'swapped')).toBe(1);
  }, 60_000);

  it('the same payer below the threshold: a normal payment, not checked', async () => {
    const checksBefore = api.exchanges.filter((x) => x.path.endsWith('/check')).length;
    await s.payBySms(SWAPPED, 'SHOP42', '100');
    expect(api.exchanges.filter((x) => x.path.endsWith('/check')).length).toBe(checksBefore);
  }, 60_000);

  it('a payer never swapped pays above the threshold: checked, then the usual challenge and payment', async () => {
    await s.payBySms(NOT_SWAPPED, 'SHOP42', '700');
    expect(await metric(s.stack.config.http.opsPorts.billing, 'not-swapped')).toBe(1);
    const doc = await loadSimSwapDefinition();
    expect(api.exchanges.filter((x) => x.path.endsWith('/check'))).toHaveLength(2);
    expect(api.exchanges.flatMap((x) => simSwapViolations(doc, x))).toEqual([]);
  }, 60_000);
});

describe('an operator without the SIM Swap API', () => {
  let s: PaymentsStack;

  beforeAll(async () => {
    s = await startPaymentsStack(carrier);
  }, 120_000);

  afterAll(async () => {
    await s?.cleanup();
  }, 60_000);

  it('the payment proceeds, and payments counts the check as skipped', async () => {
    expect(s.stack.config.operators[0]?.simSwap).toBeUndefined();
    await s.payBySms(SWAPPED, 'SHOP42', '600');
    expect(await metric(s.stack.config.http.opsPorts.payments, 'skipped')).toBe(1);
  }, 60_000);
});
