// The http charging adapter (CAMARA Carrier Billing 0.5 + Refund 0.3) inside billing, against the
// operator simulator's CAMARA API over HTTP: reserve (prepare), partial capture (confirm, then the
// unused part refunded), release (cancel), refunds, refusals, the two kinds of timeout (the
// operator never saw it; the operator did it but the answer was lost), which a status query tells
// apart before anything is concluded, 5xx/429 retried, and a token expired in flight.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, newEnvelope, publishEvent, requestReply, Events, Requests, type NatsHandle, type EventDef, type EventMessage } from '../../../runtime/nats/index.js';
import { validateConfig } from '../../../cli/config.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { createPool } from '../../../runtime/pg/index.js';
import { dialpay, moneyToProto } from '../../../proto/index.js';
import { billing } from '../../../services/billing/index.js';
import { ChargingApiSimulator } from '../../../operator-sim/index.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';

const { DebitOutcome, TopUpOutcome } = dialpay.v1;
const log = quietLogger();
let stack: Stack;
let host: Host;
let nats: NatsHandle;
let pool: ReturnType<typeof createPool>;
const api = new ChargingApiSimulator({ openingBalanceMinor: 100_000n, clientId: 'dialpay-billing', clientSecret: 's3cret/with:odd chars', topUp: { path: '/airtime', apiKey: 'top-up-key' } });
const KES = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: 'KES' });
let n = 0;

async function reserve(msisdn: string, amountMinor: bigint): Promise<string> {
  const debitId = `h-${++n}`;
  await publishEvent(nats.js, Events.debitReserveRequested, { envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, operatorId: 'safaricom-ke', msisdn, amount: KES(amountMinor), description: 'test' }, { timeoutMs: 5_000 });
  return debitId;
}

async function capture(debitId: string, amountMinor: bigint): Promise<void> {
  await publishEvent(nats.js, Events.debitCaptureRequested, {
    envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, amount: KES(amountMinor), merchantId: 'SHOP42', payeeAmount: KES(amountMinor),
  }, { timeoutMs: 5_000 });
}

async function result<M extends EventMessage & { debitId?: string | null }>(def: EventDef<M>, debitId: string): Promise<M> {
  return waitFor(`${def.subject} for ${debitId}`, async () => (await readEvents(nats, 'DEBITS', def)).find((r) => r.debitId === debitId));
}

beforeAll(async () => {
  const url = await api.start();
  stack = await setupStack();
  const raw = structuredClone(stack.rawConfig) as any;
  Object.assign(raw.operators[0], {
    billingAdapter: 'http',
    charging: { baseUrl: url, timeoutMs: 300, tokenUrl: api.tokenUrl, clientId: 'dialpay-billing', clientSecret: 's3cret/with:odd chars', retryDelayMs: 20 },
    topUp: { baseUrl: `${url}/airtime`, timeoutMs: 300, apiKey: 'top-up-key' },
  });
  host = await startHost(validateConfig(raw), [billing], { log });
  nats = await connectNats({ ...stack.config.nats, name: 'test' }, log);
  pool = createPool({ url: stack.databaseUrl, poolSizeMax: 2, connectTimeoutMs: 5_000, statementTimeoutMs: 10_000, applicationName: 'test' }, log);
});
afterAll(async () => {
  await host?.stop();
  await nats?.close();
  await pool?.end();
  await stack?.cleanup();
  await api.stop();
});

describe('http charging adapter (CAMARA)', () => {
  it('reserves, captures part, and the unused part goes back; billing keeps the operator paymentId', async () => {
    const msisdn = '254733000001';
    const debitId = await reserve(msisdn, 50_000n);
    expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    const payment = api.payment(debitId);
    expect(payment?.status).toBe('reserved');
    expect(payment?.paymentId).not.toBe(debitId);
    const { rows } = await pool.query<{ carrier_ref: string | null }>('SELECT carrier_ref FROM billing.debits WHERE debit_id = $1', [debitId]);
    expect(rows[0]?.carrier_ref).toBe(payment?.paymentId);
    await capture(debitId, 30_000n);
    expect((await result(Events.debitCaptureResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(api.payment(debitId)?.status).toBe('succeeded');
    expect([...(api.payment(debitId)?.refunds.values() ?? [])].map((r) => r.amountMinor)).toEqual([20_000n]);
    expect(api.carrier.balanceOf(msisdn)).toBe(70_000n);
    // CAMARA says nothing of balances: BAL shows the wallet, and says the carrier's is unknown.
    const balance = await requestReply(nats.nc, Requests.billingBalance, { operatorId: 'safaricom-ke', msisdn }, 2_000);
    expect([balance.available, balance.carrierUnavailable, balance.balance ?? null]).toEqual([true, true, null]);
  });

  it('passes on the operator refusal (403 CARRIER_BILLING.PAYMENT_DENIED) as insufficient funds', async () => {
    const msisdn = '254733000002';
    api.carrier.setBalance(msisdn, 10n);
    const debitId = await reserve(msisdn, 5_000n);
    expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS);
    expect(api.payment(debitId)).toBeUndefined();
  });

  it('a prepare the operator never answered: the lookup by clientCorrelator finds nothing, so it is unavailable and nothing is held', async () => {
    const msisdn = '254733000003';
    api.hang(msisdn);
    try {
      const debitId = await reserve(msisdn, 5_000n);
      expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_CARRIER_UNAVAILABLE);
      expect(api.payment(debitId)).toBeUndefined();
      expect(api.carrier.balanceOf(msisdn)).toBe(100_000n);
    } finally {
      api.answer(msisdn);
    }
  });

  it('a prepare the operator made but answered too late: the lookup finds it by clientCorrelator, and the payment goes on', async () => {
    const msisdn = '254733000004';
    api.answerLate(msisdn, 1_000);
    try {
      const debitId = await reserve(msisdn, 5_000n);
      expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
      expect(api.payment(debitId)?.status).toBe('reserved');
      expect(api.carrier.balanceOf(msisdn)).toBe(95_000n); // held once, not twice
      const { rows } = await pool.query<{ carrier_ref: string | null }>('SELECT carrier_ref FROM billing.debits WHERE debit_id = $1', [debitId]);
      expect(rows[0]?.carrier_ref).toBe(api.payment(debitId)?.paymentId);
      await publishEvent(nats.js, Events.debitVoidRequested, { envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, reason: 'test' }, { timeoutMs: 5_000 });
      expect((await result(Events.debitVoidResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
      expect(api.payment(debitId)?.status).toBe('cancelled');
      expect(api.carrier.balanceOf(msisdn)).toBe(100_000n);
    } finally {
      api.answer(msisdn);
    }
  });

  it('a confirm whose answer was lost: the status shows it succeeded, and it is captured once', async () => {
    const msisdn = '254733000005';
    const debitId = await reserve(msisdn, 4_000n);
    expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    api.answerLate(msisdn, 1_000);
    try {
      await capture(debitId, 4_000n);
      expect((await result(Events.debitCaptureResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    } finally {
      api.answer(msisdn);
    }
    expect(api.payment(debitId)?.status).toBe('succeeded');
    expect(api.carrier.balanceOf(msisdn)).toBe(96_000n);
  });

  it('5xx and 429 are tried again under the same clientCorrelator: one payment, one hold', async () => {
    const msisdn = '254733000006';
    api.failNext(1, 503);
    const first = await reserve(msisdn, 1_000n);
    expect((await result(Events.debitReserveResult, first)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    api.failNext(1, 429);
    const second = await reserve(msisdn, 1_000n);
    expect((await result(Events.debitReserveResult, second)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(api.carrier.balanceOf(msisdn)).toBe(98_000n);
  });

  it('an operator that keeps answering 503 is never concluded: the claim is kept and the reserve delivered again', async () => {
    const msisdn = '254733000007';
    api.failNext(1_000, 503);
    let debitId: string;
    try {
      debitId = await reserve(msisdn, 1_000n);
      await new Promise((r) => setTimeout(r, 1_500));
      // Neither the prepare nor the lookup answered: it may be held there, so it is not refused.
      expect((await readEvents(nats, 'DEBITS', Events.debitReserveResult)).find((r) => r.debitId === debitId)).toBeUndefined();
      expect((await pool.query<{ state: string }>('SELECT state FROM billing.debits WHERE debit_id = $1', [debitId])).rows[0]?.state).toBe('reserving');
      expect(api.payment(debitId)).toBeUndefined();
    } finally {
      api.failNext(0);
    }
    expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(api.carrier.balanceOf(msisdn)).toBe(99_000n);
  });

  it('a prepare the operator made, its answer lost and its status unknown: not refused; delivered again, it is reserved once', async () => {
    const msisdn = '254733000013';
    api.answerLate(msisdn, 1_000);
    api.failLists(3); // every try of the lookup by clientCorrelator answered 503
    let debitId: string;
    try {
      debitId = await reserve(msisdn, 5_000n);
      await waitFor('the lookups to fail', async () => api.listFailuresLeft === 0 && api.payment(debitId));
    } finally {
      api.answer(msisdn);
    }
    const reserved = await result(Events.debitReserveResult, debitId);
    expect([reserved.outcome, reserved.detail]).toEqual([DebitOutcome.DEBIT_OUTCOME_OK, '']);
    expect(api.payment(debitId)?.status).toBe('reserved');
    expect(api.carrier.balanceOf(msisdn)).toBe(95_000n); // held once
    const { rows } = await pool.query<{ state: string; carrier_ref: string | null }>('SELECT state, carrier_ref FROM billing.debits WHERE debit_id = $1', [debitId]);
    expect(rows[0]).toEqual({ state: 'reserved', carrier_ref: api.payment(debitId)?.paymentId });
  });

  it('a refused debit the operator made a payment for: a cancel it refuses is not taken as released, the void is tried again', async () => {
    const msisdn = '254733000014';
    const debitId = await reserve(msisdn, 3_000n);
    expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    // As a reserve ends that the operator answered with a payment it could not use (still processing, say).
    await pool.query(`UPDATE billing.debits SET state = 'refused', detail = $2 WHERE debit_id = $1`, [debitId, `${DebitOutcome.DEBIT_OUTCOME_CARRIER_UNAVAILABLE}:payment still processing`]);
    api.refuseCancels(msisdn);
    try {
      await publishEvent(nats.js, Events.debitVoidRequested, { envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, reason: 'test' }, { timeoutMs: 5_000 });
      await new Promise((r) => setTimeout(r, 1_500));
      expect((await readEvents(nats, 'DEBITS', Events.debitVoidResult)).find((r) => r.debitId === debitId)).toBeUndefined();
      expect(api.payment(debitId)?.status).toBe('reserved');
    } finally {
      api.allowCancels(msisdn);
    }
    expect((await result(Events.debitVoidResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(api.payment(debitId)?.status).toBe('cancelled');
    expect(api.carrier.balanceOf(msisdn)).toBe(100_000n);
  });

  it('a token that expires in flight is renewed once and the call goes through', async () => {
    const msisdn = '254733000008';
    const before = api.tokensIssued;
    api.expireTokens();
    const debitId = await reserve(msisdn, 2_500n);
    expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(api.tokensIssued).toBe(before + 1);
  });

  it('refunds part of a captured payment under the refund id, once however often it is asked', async () => {
    const msisdn = '254733000009';
    const debitId = await reserve(msisdn, 10_000n);
    expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    await capture(debitId, 10_000n);
    expect((await result(Events.debitCaptureResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    const refund = { envelope: newEnvelope({ producer: 'test' }), refundId: `r-${debitId}`, debitId, paymentId: `p-${debitId}`, amount: KES(2_550n), merchantId: 'SHOP42' };
    await publishEvent(nats.js, Events.debitRefundRequested, refund, { timeoutMs: 5_000 });
    await publishEvent(nats.js, Events.debitRefundRequested, { ...refund, envelope: newEnvelope({ producer: 'test' }) }, { timeoutMs: 5_000 });
    expect((await result(Events.debitRefundResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    await new Promise((r) => setTimeout(r, 300));
    const refunds = [...(api.payment(debitId)?.refunds.values() ?? [])];
    expect(refunds.map((r) => [r.clientCorrelator, r.amountMinor])).toEqual([[`r-${debitId}`, 2_550n]]);
    expect(api.carrier.balanceOf(msisdn)).toBe(92_550n);
  });

  it('airtime over http: the capture tops the line up through the operator top-up API, once; a refused top-up goes back to the wallet', async () => {
    const payer = '254733000010';
    const line = '254733000011';
    const airtime = async (debitId: string, target: string) => publishEvent(nats.js, Events.debitCaptureRequested, {
      envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, amount: KES(5_000n), payeeAmount: KES(5_000n), topUpMsisdn: target, topUpOperatorId: 'safaricom-ke',
    }, { timeoutMs: 5_000 });
    const credited = await reserve(payer, 5_000n);
    expect((await result(Events.debitReserveResult, credited)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    await airtime(credited, line);
    const captured = await result(Events.debitCaptureResult, credited);
    expect([captured.outcome, captured.topUp]).toEqual([DebitOutcome.DEBIT_OUTCOME_OK, TopUpOutcome.TOP_UP_OUTCOME_CREDITED]);
    expect(api.topUpOf(`topup:${credited}`)).toMatchObject({ msisdn: line, value: '50.00', currency: 'KES', status: 'succeeded' });
    expect(api.carrier.balanceOf(line)).toBe(105_000n);
    expect(api.carrier.balanceOf(payer)).toBe(95_000n);

    const refused = await reserve(payer, 5_000n);
    expect((await result(Events.debitReserveResult, refused)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    api.refuseTopUps('254733000012');
    await airtime(refused, '254733000012');
    const back = await result(Events.debitCaptureResult, refused);
    expect([back.outcome, back.topUp]).toEqual([DebitOutcome.DEBIT_OUTCOME_OK, TopUpOutcome.TOP_UP_OUTCOME_REFUNDED_TO_WALLET]);
    expect(api.carrier.balanceOf('254733000012')).toBe(100_000n);
  });
});
