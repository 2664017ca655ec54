// The simulated carrier under two billing replicas (issue 17: its holds were in
// process memory, so a capture landing on the other replica failed with
// carrier-error). Billing as `dialpay` starts it keeps the simulator's state in
// its schema (migration 0016): a hold made by one replica is captured or
// voided by another, and with both running, every payment's reserve and
// capture succeed wherever each lands, the line charged exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialpay, moneyFromProto, moneyToProto } from '../../../proto/index.js';
import { validateConfig } from '../../../cli/config.js';
import { freePort } from '../../../runtime/engines/index.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { connectNats, Events, newEnvelope, publishEvent, type EventDef, type EventMessage, type NatsHandle } from '../../../runtime/nats/index.js';
import { createPool, type Pool } from '../../../runtime/pg/index.js';
import { billingComponent } from '../../../services/billing/index.js';
import { quietLogger, setupStack, waitFor, type Stack } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';

const { DebitOutcome } = dialpay.v1;
const OPENING_MINOR = 1_000_000n; // billing's simulator: 10,000.00 for a line it has not seen
const KES = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: 'KES' });
let stack: Stack;
let nats: NatsHandle;
let pool: Pool;
const hosts: Host[] = [];

/** A billing replica of its own (its own pool, NATS connection and ops port), with the simulator billing makes itself. */
async function replica(): Promise<Host> {
  const raw = structuredClone(stack.rawConfig) as { http: { opsPorts: Record<string, number> } };
  raw.http.opsPorts.billing = await freePort();
  const host = await startHost(validateConfig(raw), [billingComponent()], { log: quietLogger() });
  hosts.push(host);
  return host;
}

async function stop(host: Host): Promise<void> {
  hosts.splice(hosts.indexOf(host), 1);
  await host.stop();
}

const result = <M extends EventMessage & { debitId?: string | null }>(def: EventDef<M>, debitId: string) =>
  waitFor(`${def.subject} for ${debitId}`, async () => (await readEvents(nats, 'DEBITS', def)).find((r) => r.debitId === debitId), 30_000);

const reserve = (debitId: string, msisdn: string, amountMinor: bigint) => publishEvent(nats.js, Events.debitReserveRequested, {
  envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, operatorId: 'safaricom-ke', msisdn, amount: KES(amountMinor), description: 'test',
}, { timeoutMs: 5_000 });

const capture = (debitId: string, amountMinor: bigint) => publishEvent(nats.js, Events.debitCaptureRequested, {
  envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, amount: KES(amountMinor), merchantId: 'SHOP42', payeeAmount: KES(amountMinor),
}, { timeoutMs: 5_000 });

const lineBalance = async (msisdn: string) =>
  (await pool.query<{ balance_minor: bigint }>('SELECT balance_minor FROM billing.simulator_lines WHERE msisdn = $1', [msisdn])).rows[0]?.balance_minor;

beforeAll(async () => {
  stack = await setupStack();
  nats = await connectNats({ ...stack.config.nats, name: 'simulator-replicas-test' }, quietLogger());
  pool = createPool({ url: stack.databaseUrl, poolSizeMax: 2, connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, applicationName: 'test' }, quietLogger());
}, 60_000);
afterAll(async () => {
  for (const host of [...hosts]) await host.stop();
  await pool?.end();
  await nats?.close();
  await stack?.cleanup();
});

describe('the simulator billing adapter under two billing replicas', () => {
  it('a hold made by one replica is captured by another, and another is voided there', async () => {
    const first = await replica();
    await reserve('held-on-a', '254711200001', 50_000n);
    await reserve('voided-on-b', '254711200002', 20_000n);
    expect((await result(Events.debitReserveResult, 'held-on-a')).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect((await result(Events.debitReserveResult, 'voided-on-b')).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(await lineBalance('254711200001')).toBe(OPENING_MINOR - 50_000n);
    // The replica that holds them goes; only the other is left to take the capture and the void.
    await stop(first);
    await replica();
    await capture('held-on-a', 40_000n);
    const captured = await result(Events.debitCaptureResult, 'held-on-a');
    expect(captured.outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(moneyFromProto(captured.captured).amountMinor).toBe(40_000n);
    expect(await lineBalance('254711200001')).toBe(OPENING_MINOR - 40_000n); // the 100.00 not captured went back
    await publishEvent(nats.js, Events.debitVoidRequested, { envelope: newEnvelope({ producer: 'test' }), debitId: 'voided-on-b', paymentId: 'p-voided-on-b', reason: 'challenge expired' }, { timeoutMs: 5_000 });
    expect((await result(Events.debitVoidResult, 'voided-on-b')).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(await lineBalance('254711200002')).toBe(OPENING_MINOR);
    const holds = await pool.query<{ debit_id: string; state: string }>(`SELECT debit_id, state FROM billing.simulator_holds WHERE debit_id = ANY($1) ORDER BY debit_id`, [['held-on-a', 'voided-on-b']]);
    expect(holds.rows).toEqual([{ debit_id: 'held-on-a', state: 'captured' }, { debit_id: 'voided-on-b', state: 'released' }]);
  }, 90_000);

  it('with both replicas running, every reserve and capture succeeds wherever it lands, the line charged once each', async () => {
    await replica(); // two now
    const msisdn = '254711200003';
    const ids = Array.from({ length: 30 }, (_, i) => `both-${i}`);
    await Promise.all(ids.map((id) => reserve(id, msisdn, 1_000n)));
    for (const id of ids) expect((await result(Events.debitReserveResult, id)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    await Promise.all(ids.map((id) => capture(id, 1_000n)));
    for (const id of ids) expect((await result(Events.debitCaptureResult, id)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(await lineBalance(msisdn)).toBe(OPENING_MINOR - 30_000n);
    const captured = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM billing.simulator_holds WHERE debit_id LIKE 'both-%' AND state = 'captured'`);
    expect(captured.rows[0]?.n).toBe('30');
  }, 90_000);
});
