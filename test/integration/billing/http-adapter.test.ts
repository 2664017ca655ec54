// The http charging adapter against the operator simulator's charging API:
// reserve, partial capture, release, refusals, and the two kinds of timeout
// (the carrier never saw it; the carrier did it but the answer was lost),
// which a status query tells apart before anything is retried.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, newEnvelope, publishEvent, requestReply, Events, Requests, type NatsHandle, type EventDef, type EventMessage } from '../../../runtime/nats/index.js';
import { validateConfig } from '../../../runtime/config/index.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { dialpay, moneyToProto, moneyFromProto } from '../../../proto/index.js';
import { billing } from '../../../services/billing/index.js';
import { ChargingApiSimulator } from '../../../load-tests/operator-sim/charging-api.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';

const { DebitOutcome } = dialpay.v1;
const log = quietLogger();
let stack: Stack;
let host: Host;
let nats: NatsHandle;
const api = new ChargingApiSimulator({ openingBalanceMinor: 100_000n, apiKey: 'sim-key' });
const KES = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: 'KES' });
let n = 0;

async function reserve(msisdn: string, amountMinor: bigint): Promise<string> {
  const debitId = `h-${++n}`;
  await publishEvent(nats.js, Events.debitReserveRequested, { envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, operatorId: 'safaricom-ke', msisdn, amount: KES(amountMinor), description: 'test' }, { timeoutMs: 5_000 });
  return debitId;
}

async function result<M extends EventMessage & { debitId?: string | null }>(def: EventDef<M>, debitId: string): Promise<M> {
  return waitFor(`${def.subject} for ${debitId}`, async () => (await readEvents(nats, 'DEBITS', def)).find((r) => r.debitId === debitId));
}

beforeAll(async () => {
  const url = await api.start();
  stack = await setupStack();
  const raw = structuredClone(stack.rawConfig) as any;
  Object.assign(raw.operators[0], { billingAdapter: 'http', charging: { baseUrl: url, timeoutMs: 300, apiKey: 'sim-key' } });
  host = await startHost(validateConfig(raw), [billing], { log });
  nats = await connectNats({ ...stack.config.nats, name: 'test' }, log);
});
afterAll(async () => {
  await host?.stop();
  await nats?.close();
  await stack?.cleanup();
  await api.stop();
});

describe('http charging adapter', () => {
  it('reserves, captures part, and the carrier releases the rest', async () => {
    const msisdn = '254733000001';
    const debitId = await reserve(msisdn, 50_000n);
    expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(api.reservation(debitId)?.status).toBe('RESERVED');
    await publishEvent(nats.js, Events.debitCaptureRequested, {
      envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, amount: KES(30_000n), merchantId: 'SHOP42', payeeAmount: KES(30_000n),
    }, { timeoutMs: 5_000 });
    expect((await result(Events.debitCaptureResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(api.reservation(debitId)?.status).toBe('CAPTURED');
    expect(api.carrier.balanceOf(msisdn)).toBe(70_000n);
    const balance = await requestReply(nats.nc, Requests.billingBalance, { operatorId: 'safaricom-ke', msisdn }, 2_000);
    expect(moneyFromProto(balance.balance).amountMinor).toBe(70_000n);
  });

  it('passes on the carrier refusal for insufficient funds', async () => {
    const msisdn = '254733000002';
    api.carrier.setBalance(msisdn, 10n);
    const debitId = await reserve(msisdn, 5_000n);
    expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS);
  });

  it('a reserve the carrier never answered: the status query finds nothing, so it is unavailable and nothing is held', async () => {
    const msisdn = '254733000003';
    api.hang(msisdn);
    try {
      const debitId = await reserve(msisdn, 5_000n);
      expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_CARRIER_UNAVAILABLE);
      expect(api.reservation(debitId)).toBeUndefined();
      expect(api.carrier.balanceOf(msisdn)).toBe(100_000n);
    } finally {
      api.answer(msisdn);
    }
  });

  it('a reserve the carrier did but answered too late: the status query finds it, and the payment goes on', async () => {
    const msisdn = '254733000004';
    api.answerLate(msisdn, 1_000);
    try {
      const debitId = await reserve(msisdn, 5_000n);
      expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
      expect(api.reservation(debitId)?.status).toBe('RESERVED');
      expect(api.carrier.balanceOf(msisdn)).toBe(95_000n); // held once, not twice
      await publishEvent(nats.js, Events.debitVoidRequested, { envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, reason: 'test' }, { timeoutMs: 5_000 });
      expect((await result(Events.debitVoidResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
      expect(api.carrier.balanceOf(msisdn)).toBe(100_000n);
    } finally {
      api.answer(msisdn);
    }
  });
});
