// The SIM-swap check before a reserve (services/billing/sim-swap.ts), billing against the operator
// simulator's CAMARA SIM Swap API over HTTP: swapped within the request's maxAge -> RISK_HOLD
// "sim-swap", nothing claimed, reserved or booked; not swapped -> reserved as usual; the API
// erroring or hanging -> the operator's onUnavailable (hold / allow), in bounded time; a redelivered request gets the
// same answer without asking again; a batch's checks side by side. Every exchange billing had with
// the API is validated against the official definition (test/contracts/camara/sim-swap.yaml).
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEnvelope, publishEvent, Events } from '../../../runtime/nats/index.js';
import { validateConfig } from '../../../cli/config.js';
import { dialpay, moneyToProto } from '../../../proto/index.js';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { BILLING_DEBIT_RESERVE } from '../../../services/billing/consumers.js';
import { SimSwapApiSimulator } from '../../../operator-sim/index.js';
import { startBillingStack, type BillingStack } from '../../support/billing-stack.js';
import { readEvents } from '../../support/streams.js';
import { waitFor } from '../../support/stack.js';
import { loadSimSwapDefinition, simSwapViolations, type SimSwapDefinition } from '../../support/sim-swap-schema.js';

const { DebitOutcome } = dialpay.v1;
const SECRET = 'sim-swap-secret';
const HOUR_MS = 3_600_000;
const api = new SimSwapApiSimulator({ clientId: 'dialpay-billing', clientSecret: SECRET, record: true });
const carrier = new SimulatedCarrier({ openingBalanceMinor: 100_000n });
let billing: BillingStack;
let doc: SimSwapDefinition;
let n = 0;

const SWAPPED_HOUR_AGO = '254733100001';
const SWAPPED_LONG_AGO = '254733100002';
const NEVER_SWAPPED = '254733100003';
/** A line the operator does not have: 404 IDENTIFIER_NOT_FOUND, an answer that is not one (unavailable). */
const UNKNOWN_LINE = '254733100099';
const ORANGE_PAYER = '221770000042';

/** A server that takes connections and never answers: the API hanging. */
const hung = new Set<Socket>();
const hanging = createServer((socket) => hung.add(socket));

async function hangingPort(): Promise<number> {
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', () => resolve()));
  return (hanging.address() as { port: number }).port;
}

function request(
  msisdn: string, amountMinor: bigint, maxAgeHours: number, operatorId = 'safaricom-ke', debitId = `ss-${++n}`,
): dialpay.v1.IDebitReserveRequested & { debitId: string } {
  const currency = operatorId === 'safaricom-ke' ? 'KES' : 'XOF';
  return {
    envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, operatorId, msisdn,
    amount: moneyToProto({ amountMinor, currency }), description: 'test', simSwapMaxAgeHours: maxAgeHours,
  };
}

async function send(req: ReturnType<typeof request>): Promise<string> {
  await publishEvent(billing.nats.js, Events.debitReserveRequested, { ...req, envelope: newEnvelope({ producer: 'test' }) }, { timeoutMs: 5_000 });
  return req.debitId;
}

async function resultsFor(debitId: string, count: number): Promise<dialpay.v1.IDebitReserveResult[]> {
  return waitFor(`${count} reserve results for ${debitId}`, async () => {
    const found = (await readEvents(billing.nats, 'DEBITS', Events.debitReserveResult)).filter((r) => r.debitId === debitId);
    return found.length >= count ? found : null;
  });
}

/** The checks billing made for this debit (its id starts the x-correlator). */
const checksOf = (debitId: string) =>
  api.exchanges.filter((x) => x.path.endsWith('/check') && String(x.requestHeaders['x-correlator']).startsWith(`${debitId}:`));

async function nothingReserved(debitId: string): Promise<void> {
  const { rows } = await billing.pool.query<{ state: string }>('SELECT state FROM billing.debits WHERE debit_id = $1', [debitId]);
  expect(rows.map((r) => r.state)).toEqual(['refused']);
  expect(await billing.ledger.transferAmount(`reserve:${debitId}`)).toBeNull();
}

async function metric(outcome: string, operator = 'safaricom-ke'): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${billing.stack.config.http.opsPorts.billing}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('dialpay_sim_swap_checks_total{')
    && l.includes(`operator="${operator}"`) && l.includes(`outcome="${outcome}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

beforeAll(async () => {
  doc = await loadSimSwapDefinition();
  await api.start();
  api.addLine(SWAPPED_HOUR_AGO, new Date(Date.now() - 5_000 * HOUR_MS));
  api.simulateSwap(SWAPPED_HOUR_AGO, new Date(Date.now() - HOUR_MS));
  api.addLine(SWAPPED_LONG_AGO, new Date(Date.now() - 5_000 * HOUR_MS));
  api.simulateSwap(SWAPPED_LONG_AGO, new Date(Date.now() - 300 * HOUR_MS));
  api.addLine(NEVER_SWAPPED, new Date(Date.now() - 5_000 * HOUR_MS));
  const downPort = await hangingPort();
  billing = await startBillingStack(carrier, (stack) => {
    const raw = structuredClone(stack.rawConfig) as any;
    const common = { timeoutMs: 300, clientId: 'dialpay-billing', clientSecret: SECRET, retryDelayMs: 20, maxAgeHours: 24 };
    Object.assign(raw.operators[0], { simSwap: { ...common, url: api.url, tokenUrl: api.tokenUrl, onUnavailable: 'hold' } });
    const down = `http://127.0.0.1:${downPort}`;
    Object.assign(raw.operators[1], { simSwap: { ...common, url: `${down}/sim-swap/v2`, tokenUrl: `${down}/oauth2/token`, onUnavailable: 'allow' } });
    return validateConfig(raw);
  });
});

afterAll(async () => {
  await billing?.stop();
  await api.stop();
  for (const socket of hung) socket.destroy();
  await new Promise<void>((resolve) => hanging.close(() => resolve()));
});

describe('SIM-swap check before a reserve', () => {
  it('a SIM swapped within maxAge holds the payment: RISK_HOLD "sim-swap", nothing claimed, reserved or booked', async () => {
    const debitId = await send(request(SWAPPED_HOUR_AGO, 60_000n, 24));
    const [result] = await resultsFor(debitId, 1);
    expect([result?.outcome, result?.detail, result?.reserved ?? null]).toEqual([DebitOutcome.DEBIT_OUTCOME_RISK_HOLD, 'sim-swap', null]);
    await nothingReserved(debitId);
    expect(carrier.balanceOf(SWAPPED_HOUR_AGO)).toBe(100_000n);
    expect(checksOf(debitId).map((x) => [x.status, JSON.parse(x.responseText)])).toEqual([[200, { swapped: true }]]);
    expect(JSON.parse(checksOf(debitId)[0]?.requestText ?? '{}')).toEqual({ phoneNumber: `+${SWAPPED_HOUR_AGO}`, maxAge: 24 });
    expect(await metric('swapped')).toBeGreaterThanOrEqual(1);
  });

  it('a swap older than maxAge, or none: reserved as usual', async () => {
    const older = await send(request(SWAPPED_LONG_AGO, 5_000n, 24));
    const never = await send(request(NEVER_SWAPPED, 5_000n, 24));
    for (const debitId of [older, never]) expect((await resultsFor(debitId, 1))[0]?.outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(carrier.balanceOf(NEVER_SWAPPED)).toBe(95_000n);
    // A 400-hour window sees the 300-hour-old swap.
    const wider = await send(request(SWAPPED_LONG_AGO, 5_000n, 400));
    expect((await resultsFor(wider, 1))[0]?.outcome).toBe(DebitOutcome.DEBIT_OUTCOME_RISK_HOLD);
    expect(await metric('not-swapped')).toBeGreaterThanOrEqual(2);
  });

  it('a request that does not ask (sim_swap_max_age_hours 0) is not checked', async () => {
    const debitId = await send(request(SWAPPED_HOUR_AGO, 5_000n, 0));
    expect((await resultsFor(debitId, 1))[0]?.outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(checksOf(debitId)).toEqual([]);
  });

  it('a redelivered request gets the same answer, without asking the operator again', async () => {
    const heldRequest = request(SWAPPED_HOUR_AGO, 60_000n, 24);
    const okRequest = request(NEVER_SWAPPED, 5_000n, 24);
    for (const r of [heldRequest, okRequest]) await resultsFor(await send(r), 1);
    // The second line is swapped now: the reserve that went through stays reserved, the held one stays held.
    api.simulateSwap(NEVER_SWAPPED);
    try {
      const delivered = (await billing.nats.jsm.consumers.info('DEBITS', BILLING_DEBIT_RESERVE.durableName)).delivered.consumer_seq;
      for (const r of [heldRequest, okRequest]) await send(r);
      await waitFor('both redeliveries handled', async () => {
        const info = await billing.nats.jsm.consumers.info('DEBITS', BILLING_DEBIT_RESERVE.durableName);
        return info.delivered.consumer_seq >= delivered + 2 && info.num_ack_pending === 0 && info.num_pending === 0;
      });
      // A result with another outcome would be another event (debit-results.ts): give the outbox time to send one.
      await new Promise((r) => setTimeout(r, 1_000));
      const held = await resultsFor(heldRequest.debitId, 1);
      const ok = await resultsFor(okRequest.debitId, 1);
      expect(held.map((r) => [r.outcome, r.detail])).toEqual([[DebitOutcome.DEBIT_OUTCOME_RISK_HOLD, 'sim-swap']]);
      expect(ok.map((r) => r.outcome)).toEqual([DebitOutcome.DEBIT_OUTCOME_OK]);
      const { rows } = await billing.pool.query<{ debit_id: string; state: string }>(
        'SELECT debit_id, state FROM billing.debits WHERE debit_id = ANY ($1::text[]) ORDER BY debit_id', [[heldRequest.debitId, okRequest.debitId]]);
      expect(rows.map((r) => r.state)).toEqual(['refused', 'reserved']);
      expect([checksOf(heldRequest.debitId).length, checksOf(okRequest.debitId).length]).toEqual([1, 1]);
      await nothingReserved(heldRequest.debitId);
    } finally {
      api.addLine(NEVER_SWAPPED, new Date(Date.now() - 5_000 * HOUR_MS));
    }
  });

  it('care releasing the held payment (risk_cleared, same debit) reserves it without asking again', async () => {
    const held = request(SWAPPED_HOUR_AGO, 7_000n, 24);
    await resultsFor(await send(held), 1);
    await send({ ...held, simSwapMaxAgeHours: 0, riskCleared: true });
    const results = await resultsFor(held.debitId, 2);
    expect(results.map((r) => r.outcome)).toEqual([DebitOutcome.DEBIT_OUTCOME_RISK_HOLD, DebitOutcome.DEBIT_OUTCOME_OK]);
    expect(await billing.ledger.transferAmount(`reserve:${held.debitId}`)).toBe(7_000n);
    expect(checksOf(held.debitId)).toHaveLength(1);
  });

  it('the API erroring (404 for a line it lacks) holds for an operator on onUnavailable hold; counted unavailable', async () => {
    const before = await metric('unavailable');
    const debitId = await send(request(UNKNOWN_LINE, 5_000n, 24));
    const [result] = await resultsFor(debitId, 1);
    expect([result?.outcome, result?.detail]).toEqual([DebitOutcome.DEBIT_OUTCOME_RISK_HOLD, 'sim-swap-unavailable']);
    await nothingReserved(debitId);
    expect(await metric('unavailable')).toBe(before + 1);
  });

  it('the API hanging lets the payment go on, in bounded time, for an operator on onUnavailable allow: reserved as today', async () => {
    const startedAt = Date.now();
    const debitId = await send(request(ORANGE_PAYER, 5_000n, 24, 'orange-sn'));
    const [result] = await resultsFor(debitId, 1);
    // The token request unanswered in its 300 ms; at most 2 x 2 x 300 ms + 20 ms of checking, whatever hangs.
    expect(Date.now() - startedAt).toBeLessThan(4_000);
    // Reserved as today: orange-sn pays from the wallet, empty here.
    expect(result?.outcome).toBe(DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS);
    expect(await metric('unavailable', 'orange-sn')).toBe(1);
  });

  it('a batch: every check side by side before the claims, each debit its own answer', async () => {
    const lines = [SWAPPED_HOUR_AGO, NEVER_SWAPPED, SWAPPED_LONG_AGO, UNKNOWN_LINE];
    const requests = Array.from({ length: 12 }, (_, i) => request(lines[i % lines.length] as string, 1_000n, 24));
    await Promise.all(requests.map(send));
    const expected = [DebitOutcome.DEBIT_OUTCOME_RISK_HOLD, DebitOutcome.DEBIT_OUTCOME_OK, DebitOutcome.DEBIT_OUTCOME_OK,
      DebitOutcome.DEBIT_OUTCOME_RISK_HOLD];
    for (const [i, r] of requests.entries()) {
      expect((await resultsFor(r.debitId, 1))[0]?.outcome).toBe(expected[i % expected.length]);
      expect(checksOf(r.debitId)).toHaveLength(1);
    }
  });

  it('every exchange billing had with the SIM Swap API conforms to the official definition', () => {
    const checks = api.exchanges.filter((x) => x.path.endsWith('/check'));
    expect(checks.length).toBeGreaterThanOrEqual(15);
    expect(api.exchanges.flatMap((x) => simSwapViolations(doc, x))).toEqual([]);
  });
});
