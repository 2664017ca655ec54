// Risk holds end to end (issue 19): SMS payments through the simulated SMSC, gateway, payments and billing.
// A payment a risk rule stops is held: the payer reads why in their language, nothing is reserved, no code
// is sent, and a care case waits. Care releases it (it goes on to its challenge and completes) or rejects it
// (failed, the payer told); a hold nobody reviews expires. Decisions are counted by rule and outcome, and
// the case's events are a trail the database will not let anyone rewrite.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { decideCareCase, listCareCases } from '../../../services/payments/index.js';
import { connectNats, Events, newEnvelope, publishEvent, type NatsHandle } from '../../../runtime/nats/index.js';
import { dialpay } from '../../../proto/index.js';
import { runTs } from '../../support/child.js';
import { readEvents } from '../../support/streams.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { quietLogger, waitFor } from '../../support/stack.js';

const OPENING_MINOR = 1_000_000n;
const carrier = new SimulatedCarrier({ openingBalanceMinor: OPENING_MINOR });
let s: PaymentsStack;
let nats: NatsHandle;
let configPath: string;
let phoneNo = 0;
const newPhone = () => `2547190${String(++phoneNo).padStart(5, '0')}`;
const HELD_EN = /^Your payment of 2,?500\.00 KES to Duka Ya Mama \(SHOP42\) is on hold for your protection \(a first large payment to this payee\)\. Nothing was charged\. Customer care will contact you, or call them and quote case (\d+)\.$/;

beforeAll(async () => {
  s = await startPaymentsStack(carrier, (raw) => {
    raw.risk = { newPayeeAmountMinor: { KES: 200_000 }, distinctPayees: { max: 2, windowMs: 3_600_000 } };
  });
  nats = await connectNats({ ...s.stack.config.nats, name: 'risk-holds-test' }, quietLogger());
  configPath = join(mkdtempSync(join(tmpdir(), 'dialpay-risk-holds-')), 'dialpay.yaml');
  writeFileSync(configPath, stringify(s.stack.rawConfig));
}, 120_000);

afterAll(async () => {
  await nats?.close();
  await s?.cleanup();
}, 60_000);

const care = (caseId: string, action: 'release' | 'reject', by = 'agent-7', reason = '') =>
  decideCareCase({ pool: s.pool, nc: nats.nc, config: s.stack.config, log: quietLogger() }, { caseId, action, by, reason });
const latestPayment = async (phone: string) => (await s.pool.query<{ payment_id: string; state: string; failure_reason: string | null }>(
  'SELECT payment_id, state, failure_reason FROM payments.payments WHERE payer_msisdn = $1 ORDER BY created_at DESC LIMIT 1', [phone])).rows[0];
const debitsOf = async (paymentId: string) =>
  (await s.pool.query('SELECT 1 FROM billing.debits WHERE payment_id = $1', [paymentId])).rowCount;
const caseEvents = async (caseId: string) => (await s.pool.query<{ event: string; by: string; reason: string }>(
  'SELECT event, by, reason FROM payments.care_case_events WHERE case_id = $1 ORDER BY id', [caseId])).rows;
const smsCount = (phone: string) => s.sim.submitted.filter((m) => m.destination === phone).length;

async function cli(...args: string[]) {
  const child = runTs('cli/dialpay.ts', ['care', ...args, '--config', configPath]);
  return { code: await child.exited(), stdout: child.stdout(), stderr: child.stderr() };
}

/** A new payer's PAY SHOP42 2500 (over the new-payee amount): held. Returns the phone, payment and case. */
async function heldPayment(): Promise<{ phone: string; paymentId: string; caseId: string }> {
  const phone = newPhone();
  const text = await s.ask(phone, 'PAY SHOP42 2500');
  const caseId = HELD_EN.exec(text)?.[1];
  expect(caseId, text).toBeDefined();
  const payment = await latestPayment(phone);
  expect(payment?.state).toBe('held');
  return { phone, paymentId: payment?.payment_id as string, caseId: caseId as string };
}

describe('a new payee above the amount', () => {
  it('is held: no code, nothing reserved; care releases it, the payer confirms and it completes; a second decision is refused', async () => {
    const { phone, paymentId, caseId } = await heldPayment();
    // Nothing reserved at billing or the carrier, and no challenge: the hold text was the only SMS.
    await new Promise((r) => setTimeout(r, 500));
    expect(await debitsOf(paymentId)).toBe(0);
    expect(carrier.balanceOf(phone)).toBe(OPENING_MINOR);
    expect(smsCount(phone)).toBe(1);
    const open = await listCareCases(s.pool, 'safaricom-ke', true);
    expect(open.find((c) => c.case_id === caseId)).toMatchObject({ msisdn: phone, payment_id: paymentId, rule: 'new-payee', status: 'open' });

    const seen = smsCount(phone);
    expect(await care(caseId, 'release')).toEqual({ kind: 'released', caseId, paymentId, msisdn: phone });
    const challenge = await s.nextSms(phone, seen);
    const code = /YES (\d{4})/.exec(challenge)?.[1];
    expect(code, challenge).toBeDefined();
    expect(await s.ask(phone, `YES ${code}`)).toMatch(/^Paid 2,?500\.00 KES to Duka Ya Mama \(SHOP42\)/);
    await waitFor('released payment completed', async () => (await latestPayment(phone))?.state === 'completed');
    expect(carrier.balanceOf(phone)).toBe(OPENING_MINOR - 250_000n);

    // Decided once: releasing or rejecting again changes nothing.
    expect(await care(caseId, 'release', 'agent-8')).toMatchObject({ kind: 'decided', status: 'released', by: 'agent-7' });
    expect(await care(caseId, 'reject', 'agent-8', 'fraud')).toMatchObject({ kind: 'decided', status: 'released' });
    expect(await caseEvents(caseId)).toEqual([
      { event: 'opened', by: 'risk:new-payee', reason: '' }, { event: 'released', by: 'agent-7', reason: '' },
    ]);
    // Paid once, the payee is no longer new: the next large payment gets its code at once.
    expect(await s.ask(phone, 'PAY SHOP42 2500')).toMatch(/Reply YES \d{4}/);
  }, 90_000);

  it('care rejects another (dialpay care reject): failed, nothing charged, the payer told; `care list` shows it decided', async () => {
    const { phone, paymentId, caseId } = await heldPayment();
    const seen = smsCount(phone);
    const rejected = await cli('reject', '--case', caseId, '--by', 'agent-9', '--reason', 'owner says not them');
    expect(rejected.stderr).toBe('');
    expect(rejected.stdout).toContain(`case ${caseId} rejected`);
    expect(rejected.code).toBe(0);
    expect(await s.nextSms(phone, seen)).toBe(
      'Payment of 2,500.00 KES failed: stopped by customer care after a security check. Nothing was charged.');
    expect(await latestPayment(phone)).toMatchObject({ state: 'failed', failure_reason: 'risk-rejected' });
    expect(carrier.balanceOf(phone)).toBe(OPENING_MINOR);
    expect(await debitsOf(paymentId)).toBeLessThanOrEqual(1); // at most the void's tombstone: nothing was ever reserved
    expect(await care(caseId, 'release')).toMatchObject({ kind: 'decided', status: 'rejected', by: 'agent-9' });
    expect(await care(caseId, 'reject', '')).toEqual({ kind: 'missing', field: 'by' });
    expect(await care('999999', 'release')).toEqual({ kind: 'unknown-case' });
    expect((await cli('list', '--operator', 'safaricom-ke')).code).toBe(64); // no --by: full numbers are shown only to a named agent
    const listed = await cli('list', '--operator', 'safaricom-ke', '--by', 'agent-9');
    expect(listed.code).toBe(0);
    expect(listed.stderr).toMatch(/"by":"agent-9".*"command":"care list".*customer care lookup/);
    expect(listed.stdout).toMatch(new RegExp(`case ${caseId} .* rule new-payee .* rejected by agent-9 .*\\(owner says not them\\)`));
  }, 90_000);
});

describe('too many distinct payees', () => {
  it('the third different payee within the window is held, in French for a French speaker', async () => {
    const phone = newPhone();
    expect(await s.ask(phone, 'LANG FR')).toBe('Langue: francais.');
    expect(await s.ask(phone, 'ENVOYER 0700000901 100')).toMatch(/OUI \d{4}/);
    expect(await s.ask(phone, 'ENVOYER 0700000902 100')).toMatch(/OUI \d{4}/);
    expect(await s.ask(phone, 'ENVOYER 0700000902 150')).toMatch(/OUI \d{4}/); // the same payee again
    const held = await s.ask(phone, 'ENVOYER 0700000903 100');
    expect(held).toMatch(/^Votre paiement de 100[.,]00 KES a \+254700000903 est en attente pour votre protection \(des paiements a de nombreux beneficiaires en peu de temps\)\. Rien n a ete debite\. Le service client va vous contacter, ou appelez-le en citant le dossier \d+\.$/);
    expect((await latestPayment(phone))?.state).toBe('held');
  }, 60_000);
});

describe('billing\'s risk hold (DEBIT_OUTCOME_RISK_HOLD, e.g. sim-swap)', () => {
  it('holds a reserving payment with an SMS and a care case, never a code; released, it is reserved (risk-cleared) and challenged', async () => {
    const phone = newPhone();
    // The simulated billing has no risk check yet: a payment waiting for its reserve is made by copying one this
    // payer opened (a new id, back to 'reserving', never sent to billing), and billing's hold is published for it.
    expect(await s.ask(phone, 'PAY SHOP42 300')).toMatch(/Reply YES \d{4}/);
    const first = await latestPayment(phone);
    const paymentId = '00000000-0000-4000-8000-000000000019';
    await s.pool.query(`INSERT INTO payments.payments SELECT (jsonb_populate_record(NULL::payments.payments, to_jsonb(p)
        || jsonb_build_object('payment_id', $2::text, 'state', 'reserving', 'challenge_method', NULL, 'challenge_code_hash', NULL,
             'expires_at', NULL, 'created_at', now(), 'updated_at', now()))).* FROM payments.payments p WHERE payment_id = $1`,
    [first?.payment_id, paymentId]);
    const seen = smsCount(phone);
    await publishEvent(nats.js, Events.debitReserveResult, {
      envelope: newEnvelope({ producer: 'test', paymentId }), debitId: paymentId, paymentId,
      outcome: dialpay.v1.DebitOutcome.DEBIT_OUTCOME_RISK_HOLD, detail: 'sim-swap',
    }, { timeoutMs: 5_000 });
    expect(await s.nextSms(phone, seen)).toMatch(/^Your payment of 300\.00 KES to Duka Ya Mama \(SHOP42\) is on hold for your protection \(a recent SIM change on your line\)\. Nothing was charged\. Customer care will contact you, or call them and quote case \d+\.$/);
    const held = await s.pool.query('SELECT state FROM payments.payments WHERE payment_id = $1', [paymentId]);
    expect(held.rows[0]?.state).toBe('held');
    const found = (await listCareCases(s.pool, 'safaricom-ke', true)).find((c) => c.payment_id === paymentId);
    expect(found).toMatchObject({ rule: 'sim-swap', status: 'open' });

    const released = smsCount(phone);
    expect(await care(found?.case_id as string, 'release')).toMatchObject({ kind: 'released' });
    expect(await s.nextSms(phone, released)).toMatch(/^Pay 300\.00 KES to Duka Ya Mama \(SHOP42\).*Reply YES \d{4}/);
    expect(await debitsOf(paymentId)).toBe(1);
    // Asked with risk_cleared, under its own event id, so billing does not hold it again.
    const requests = (await readEvents(nats, 'DEBITS', Events.debitReserveRequested)).filter((m) => m.paymentId === paymentId);
    expect(requests.map((m) => [m.envelope?.eventId, m.riskCleared])).toEqual([[`${paymentId}:reserve-released`, true]]);
  }, 60_000);
});

describe('a hold nobody reviews', () => {
  it('expires after risk.holdTtlMs: failed, the payer told, the case expired and no longer decidable', async () => {
    const { phone, caseId } = await heldPayment();
    const seen = smsCount(phone);
    // The clock, not the code, is what we cannot wait a day for: the hold is made old.
    await s.pool.query(`UPDATE payments.payments SET updated_at = now() - interval '25 hours' WHERE payer_msisdn = $1 AND state = 'held'`,
      [phone]);
    expect(await s.nextSms(phone, seen)).toBe('Payment of 2,500.00 KES failed: on hold and not reviewed in time. Nothing was charged.');
    expect(await latestPayment(phone)).toMatchObject({ state: 'failed', failure_reason: 'hold-expired' });
    expect((await caseEvents(caseId)).map((e) => e.event)).toEqual(['opened', 'expired']);
    expect(await care(caseId, 'release')).toMatchObject({ kind: 'decided', status: 'expired', by: 'dialpay' });
  }, 60_000);
});

describe('the trail and the counts', () => {
  it('the database refuses to change or remove a case event', async () => {
    await expect(s.pool.query(`UPDATE payments.care_case_events SET by = 'someone else'`)).rejects.toThrow(/append-only \(UPDATE refused\)/);
    await expect(s.pool.query('DELETE FROM payments.care_case_events')).rejects.toThrow(/append-only \(DELETE refused\)/);
    await expect(s.pool.query('TRUNCATE payments.care_case_events CASCADE')).rejects.toThrow(/append-only \(TRUNCATE refused\)/);
    expect((await s.pool.query('SELECT 1 FROM payments.care_case_events')).rowCount).toBeGreaterThanOrEqual(7);
  }, 30_000);

  it('each decision is counted by rule and outcome, and each hold by rule', async () => {
    const text = await (await fetch(`http://127.0.0.1:${s.host.opsPorts.payments}/metrics`)).text();
    // The host adds the component's label last.
    const value = (series: string) => {
      const line = `${series.slice(0, -1)},component="payments"}`.replace(/[{}]/g, '\\$&');
      return Number(new RegExp(`^${line} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');
    };
    expect(value('dialpay_risk_decisions_total{rule="new-payee",outcome="hold"}')).toBe(3);
    expect(value('dialpay_risk_decisions_total{rule="new-payee",outcome="allow"}')).toBeGreaterThanOrEqual(5);
    expect(value('dialpay_risk_decisions_total{rule="distinct-payees",outcome="hold"}')).toBe(1);
    expect(value('dialpay_risk_decisions_total{rule="distinct-payees",outcome="allow"}')).toBeGreaterThanOrEqual(3);
    expect(value('dialpay_risk_holds_total{rule="new-payee"}')).toBe(3);
    expect(value('dialpay_risk_holds_total{rule="distinct-payees"}')).toBe(1);
    expect(value('dialpay_risk_holds_total{rule="sim-swap"}')).toBe(1);
    expect(value('dialpay_risk_holds_expired_total{rule="new-payee"}')).toBe(1);
  }, 30_000);
});
