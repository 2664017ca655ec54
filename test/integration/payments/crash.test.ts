// Crash test: payments and billing run as their own `dialpay` processes and
// are SIGKILLed at random moments and restarted while phones pay. Afterwards
// every payment has ended: each confirmed one captured exactly once at the
// carrier with exactly one receipt, each unconfirmed one released, and the
// ledger sums to zero with nothing left held.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { stringify } from 'yaml';
import { freePort } from '../../../runtime/engines/index.js';
import { ChargingApiSimulator, SmscSimulator } from '../../../operator-sim/index.js';
import { Ledger } from '../../../services/billing/ledger/store.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { createPool, type Pool } from '../../../runtime/pg/index.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../../support/stack.js';
import { runTs, type Child } from '../../support/child.js';

const log = quietLogger();
let stack: Stack;
let sim: SmscSimulator;
let pool: Pool;
let configPath: string;
let opsPorts: Record<string, number>;
const api = new ChargingApiSimulator({ openingBalanceMinor: 10_000_000n, clientId: 'dialpay', clientSecret: 'camara-secret' });
const running: Record<string, Child> = {};
const KILLS_MIN = 6;

async function start(component: 'gateway' | 'payments' | 'billing'): Promise<void> {
  running[component] = runTs('cli/dialpay.ts', [component, '--config', configPath]);
  await waitFor(`${component} ready`, async () => {
    const res = await fetch(`http://127.0.0.1:${opsPorts[component]}/readyz`).catch(() => null);
    return res?.status === 200;
  }, 30_000);
}

beforeAll(async () => {
  stack = await setupStack();
  const chargingUrl = await api.start();
  sim = new SmscSimulator({ systemId: 'dialpay', password: 'secret1', receiptDelayMs: 10 });
  const raw = structuredClone(stack.rawConfig) as any;
  Object.assign(raw.operators[0], { billingAdapter: 'http', charging: { baseUrl: chargingUrl, timeoutMs: 1_000, tokenUrl: api.tokenUrl, clientId: 'dialpay', clientSecret: 'camara-secret' } });
  Object.assign(raw.operators[0].smpp, { port: await sim.start(), bindCount: 1, reconnectDelayMsMin: 100, reconnectDelayMsMax: 500 });
  raw.operators[1].smpp.port = await freePort();
  raw.consumers = { inFlightMax: 32, ackWaitMs: 1_500, deliveriesMax: 100, retryDelaysMs: [200] };
  raw.outbox = { pollIntervalMs: 20, batchSizeMax: 200 };
  raw.limits.challengeTtlMs = 6_000;
  raw.limits.paymentsPerMinuteMax = 1_000;
  raw.log = { level: 'warn' };
  opsPorts = raw.http.opsPorts;
  configPath = join(mkdtempSync(join(tmpdir(), 'dialpay-crash-')), 'crash.yaml');
  writeFileSync(configPath, stringify(raw));
  await start('billing'); // migrates first, alone
  await start('payments');
  await start('gateway');
  pool = createPool({ url: stack.databaseUrl, poolSizeMax: 2, connectTimeoutMs: 5_000, statementTimeoutMs: 10_000, applicationName: 'test' }, log);
  await waitFor('gateway bound', async () => sim.boundSessions === 1, 30_000);
}, 180_000);

afterAll(async () => {
  for (const child of Object.values(running)) await child.kill('SIGKILL');
  await pool?.end();
  await sim?.stop();
  await api.stop();
  await stack?.cleanup();
});

it('SIGKILL of payments and billing at random moments moves money exactly once, or not at all', async () => {
  const phones = Array.from({ length: 12 }, (_, i) => `25474400${String(i).padStart(4, '0')}`);
  let stop = false;
  let kills = 0;
  const chaos = (async () => {
    let turn = 0;
    // Kills go on after the phones are done (captures and voids still settling) until there were enough.
    while (!stop || kills < KILLS_MIN) {
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 400));
      const victim = turn++ % 2 === 0 ? 'payments' : 'billing';
      await running[victim]?.kill('SIGKILL');
      kills++;
      await start(victim);
    }
  })();
  const confirmedCodes = new Map<string, number>();
  // Each phone pays six times; it confirms four of them and leaves two unanswered.
  await Promise.all(phones.map(async (phone, p) => {
    for (let k = 0; k < 6; k++) {
      const seen = sim.submitted.filter((m) => m.destination === phone).length;
      await sim.sendFromPhone(phone, '384', `PAY SHOP42 ${10 + p} crash${k}`).catch(() => undefined);
      const challenge = await waitFor(`challenge for ${phone}`, async () => sim.submitted.filter((m) => m.destination === phone).slice(seen).find((m) => /YES \d{4}/.test(m.text)), 60_000).catch(() => null);
      if (!challenge || k % 3 === 2) continue;
      const code = /YES (\d{4})/.exec(challenge.text)?.[1] as string;
      confirmedCodes.set(`${phone}:${k}`, Date.now());
      await sim.sendFromPhone(phone, '384', `YES ${code}`).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
    }
  }));
  stop = true;
  await chaos;
  expect(kills).toBeGreaterThanOrEqual(KILLS_MIN);
  if (process.env.CRASH_REPORT) process.stdout.write(`CRASH kills=${kills}\n`);

  // Let every payment end: confirmations captured, the rest expired and released.
  await waitFor('every payment terminal', async () => {
    const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM payments.payments WHERE state NOT IN ('completed', 'failed')");
    return rows[0]?.n === 0;
  }, 90_000);
  const ledger = new Ledger(pool);
  await waitFor('nothing left held', async () => (await ledger.balance(AccountIds.holds('KES'))) === 0n, 60_000);

  const { rows: payments } = await pool.query<{ payment_id: string; payer_msisdn: string; state: string }>('SELECT payment_id, payer_msisdn, state FROM payments.payments');
  expect(payments.length).toBeGreaterThanOrEqual(phones.length * 2);
  const completed = payments.filter((p) => p.state === 'completed');
  expect(completed.length).toBeGreaterThan(0);
  for (const payment of payments) {
    const reservation = api.payment(payment.payment_id);
    const ref = payment.payment_id.slice(0, 8).toUpperCase();
    const receipts = sim.submitted.filter((m) => m.destination === payment.payer_msisdn && m.text.startsWith('Paid') && m.text.includes(`Ref ${ref}`));
    if (payment.state === 'completed') {
      expect(reservation?.status, `payment ${payment.payment_id}`).toBe('succeeded');
      expect(receipts, `receipts for ${payment.payment_id}`).toHaveLength(1);
    } else {
      expect(reservation === undefined || reservation.status === 'cancelled', `payment ${payment.payment_id} left ${reservation?.status}`).toBe(true);
      expect(receipts).toHaveLength(0);
    }
  }
  expect(await ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
  const client = new pg.Client({ connectionString: stack.databaseUrl });
  await client.connect();
  const captures = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM billing.transfers WHERE kind = 'capture'");
  await client.end();
  expect(captures.rows[0]?.n).toBe(completed.length); // one capture per completed payment, no more
  if (process.env.CRASH_REPORT) process.stdout.write(`CRASH payments=${payments.length} completed=${completed.length} failed=${payments.length - completed.length}\n`);
}, 300_000);

it('kills at each step of one payment: the payment still ends exactly once', async () => {
  type Step = { name: string; victim: 'payments' | 'billing'; when: (paymentId: string) => Promise<boolean>; confirm: boolean };
  const q = async (sql: string, id: string) => ((await pool.query(sql, [id])).rowCount ?? 0) > 0;
  const steps: Step[] = [
    // Each condition means "at or just past this step": the kill lands while that step's work is in flight.
    { name: 'payment created, reserve requested', victim: 'billing', when: (id) => q('SELECT 1 FROM payments.payments WHERE payment_id = $1', id), confirm: true },
    { name: 'reserved at the carrier, challenge on its way', victim: 'payments', when: (id) => q("SELECT 1 FROM billing.debits WHERE debit_id = $1 AND state = 'reserved'", id), confirm: true },
    { name: 'challenged, not yet confirmed', victim: 'billing', when: (id) => q("SELECT 1 FROM payments.payments WHERE payment_id = $1 AND state = 'challenged'", id), confirm: true },
    { name: 'confirmed, capture requested', victim: 'billing', when: (id) => q("SELECT 1 FROM payments.payments WHERE payment_id = $1 AND state IN ('capturing', 'completed')", id), confirm: true },
    { name: 'captured, receipts not yet sent', victim: 'payments', when: (id) => q("SELECT 1 FROM billing.debits WHERE debit_id = $1 AND state = 'captured'", id), confirm: true },
    { name: 'challenged and never confirmed', victim: 'payments', when: (id) => q("SELECT 1 FROM payments.payments WHERE payment_id = $1 AND state = 'challenged'", id), confirm: false },
  ];
  for (const [i, step] of steps.entries()) {
    const phone = `25474500${String(i).padStart(4, '0')}`;
    const seen = sim.submitted.filter((m) => m.destination === phone).length;
    await sim.sendFromPhone(phone, '384', `PAY SHOP42 ${20 + i} step${i}`);
    const paymentId = await waitFor(`payment for ${step.name}`, async () =>
      (await pool.query<{ payment_id: string }>('SELECT payment_id FROM payments.payments WHERE payer_msisdn = $1', [phone])).rows[0]?.payment_id, 30_000);
    const confirm = async () => {
      const challenge = await waitFor(`challenge (${step.name})`, async () => sim.submitted.filter((m) => m.destination === phone).slice(seen).find((m) => /YES \d{4}/.test(m.text)), 60_000);
      await sim.sendFromPhone(phone, '384', `YES ${/YES (\d{4})/.exec(challenge.text)?.[1]}`);
    };
    // Steps after the confirmation need it sent first; the kill then lands while it is processed.
    if (step.confirm && /capture|captured/.test(step.name)) await confirm();
    await waitFor(`step: ${step.name}`, () => step.when(paymentId), 60_000);
    await running[step.victim]?.kill('SIGKILL');
    await start(step.victim);
    if (step.confirm && !/capture|captured/.test(step.name)) await confirm();
    const final = await waitFor(`${step.name}: payment ends`, async () =>
      (await pool.query<{ state: string }>("SELECT state FROM payments.payments WHERE payment_id = $1 AND state IN ('completed', 'failed')", [paymentId])).rows[0]?.state, 90_000);
    const receipts = () => sim.submitted.filter((m) => m.destination === phone && m.text.startsWith('Paid'));
    if (step.confirm) {
      expect(final, step.name).toBe('completed');
      expect(api.payment(paymentId)?.status, step.name).toBe('succeeded');
      await waitFor(`${step.name}: receipt`, async () => receipts().length >= 1, 30_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(receipts(), step.name).toHaveLength(1);
    } else {
      expect(final, step.name).toBe('failed');
      await waitFor(`${step.name}: released`, async () => api.payment(paymentId)?.status === 'cancelled', 30_000);
      expect(receipts()).toHaveLength(0);
    }
  }
  const ledger = new Ledger(pool);
  await waitFor('nothing left held', async () => (await ledger.balance(AccountIds.holds('KES'))) === 0n, 60_000);
  expect(await ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
}, 400_000);
