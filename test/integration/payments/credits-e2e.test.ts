// Money in without a phone to confirm it (issue 16), end to end with billing's
// ledger: a merchant's payout lands in a subscriber's wallet and the subscriber
// spends it by SMS; a payout beyond the merchant's balance is a 409 and moves
// nothing; an operator's deposit with a reused Idempotency-Key books once, and
// one with a wrong key, or a merchant's key, is refused with nothing read or
// changed. The operator runs on the `wallet` billing adapter, so the wallet is
// the subscriber's only money.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { newApiKey } from '../../../runtime/api-keys.js';
import { freePort } from '../../../runtime/engines/index.js';
import { validateConfig } from '../../../cli/config.js';
import { checkAccounts, checkMerchantPayables } from '../../../load-tests/harness/invariants.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { waitFor } from '../../support/stack.js';

const merchantKey = newApiKey();
const operatorKey = newApiKey();
let p: PaymentsStack;
let api: string;
const buyer = '254711900001';
const winner = '254711900002';
const salaried = '254711900003';

beforeAll(async () => {
  const port = await freePort();
  p = await startPaymentsStack(new SimulatedCarrier({ openingBalanceMinor: 0n }), (raw) => {
    raw.operators[0].billingAdapter = 'wallet';
    raw.operators[0].apiKeys = [operatorKey.stored];
    raw.merchantApi = { port, creditWaitMs: 5_000 };
    raw.merchants[0].apiKeys = [merchantKey.stored];
    raw.merchants[0].payouts = { perPayoutMaxMinor: 1_000_000, perDayMaxMinor: 5_000_000 };
  });
  api = `http://127.0.0.1:${port}`;
}, 120_000);
afterAll(async () => {
  await p?.cleanup();
}, 60_000);

async function post(path: string, key: string, idempotencyKey: string, body: unknown) {
  const res = await fetch(`${api}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey }, body: JSON.stringify(body) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as any };
}
const balance = (account: string) => p.ledger.balance(account).catch(() => 0n);
const wallet = (msisdn: string) => balance(AccountIds.subscriber(msisdn));
const payable = () => balance(AccountIds.merchant('SHOP42', 'KES'));
const code = (challenge: string) => /YES (\d{4})/.exec(challenge)?.[1] as string;

it('an operator deposit books once per Idempotency-Key, and only with the operator\'s own key', async () => {
  const body = { msisdn: `0${salaried.slice(3)}`, amountMinor: 250_000, currency: 'KES', reference: 'SALARY-NOV' };
  const wrong = await post('/v1/operator/deposits', `${operatorKey.key}x`, 'dep-1', body);
  expect(wrong.status).toBe(401);
  expect(wrong.type).toContain('application/problem+json');
  const merchants = await post('/v1/operator/deposits', merchantKey.key, 'dep-1', body);
  expect(merchants.status).toBe(401);
  expect(await wallet(salaried)).toBe(0n);

  const first = await post('/v1/operator/deposits', operatorKey.key, 'dep-1', body);
  expect(first.status, JSON.stringify(first.body)).toBe(201);
  const again = await post('/v1/operator/deposits', operatorKey.key, 'dep-1', body);
  expect(again.status).toBe(first.status);
  expect(again.body.id).toBe(first.body.id);
  const other = await post('/v1/operator/deposits', operatorKey.key, 'dep-1', { ...body, amountMinor: 1 });
  expect(other.status).toBe(409);
  await waitFor('wallet credited', async () => (await wallet(salaried)) === 250_000n);
  expect(await balance(AccountIds.operatorFunding('safaricom-ke'))).toBe(-250_000n);
  expect(await p.nextSms(salaried, 0)).toMatch(/^You received 2,500\.00 KES from .*Ref SALARY-NOV/);
});

it('a payout lands in the wallet and is spent by SMS; one beyond the merchant\'s balance is a 409 and moves nothing', async () => {
  // The merchant earns from a customer whose money came in by an operator deposit.
  expect((await post('/v1/operator/deposits', operatorKey.key, 'dep-2', { msisdn: buyer, amountMinor: 100_000, currency: 'KES', reference: 'TOPUP-1' })).status).toBe(201);
  await waitFor('buyer funded', async () => (await wallet(buyer)) === 100_000n);
  await p.payBySms(buyer, 'SHOP42', '800');
  const earned = await payable();
  expect(earned).toBeGreaterThan(0n);

  // Over the balance: refused, nothing moved.
  const over = await post('/v1/payouts', merchantKey.key, 'po-1', { msisdn: winner, amountMinor: Number(earned) + 1, currency: 'KES', reference: 'WIN-1' });
  expect(over.status, JSON.stringify(over.body)).toBe(409);
  expect(over.type).toContain('application/problem+json');
  expect(await payable()).toBe(earned);
  expect(await wallet(winner)).toBe(0n);

  // Within it: the winner's wallet gets it, and they spend part of it.
  const paid = await post('/v1/payouts', merchantKey.key, 'po-2', { msisdn: winner, amountMinor: 50_000, currency: 'KES', reference: 'WIN-2' });
  expect(paid.status, JSON.stringify(paid.body)).toBe(201);
  expect(paid.body).toMatchObject({ status: 'completed', amountMinor: 50_000, reference: 'WIN-2' });
  expect(await payable()).toBe(earned - 50_000n);
  expect(await wallet(winner)).toBe(50_000n);
  const told = await waitFor('winner told', async () => p.sim.submitted.filter((m) => m.destination === winner).map((m) => m.text).find((t) => t.includes('WIN-2')));
  expect(told).toMatch(/^You received 500\.00 KES from Duka Ya Mama\. Ref WIN-2\./);

  const challenge = await p.ask(winner, 'PAY SHOP42 120');
  expect(challenge).toMatch(/From your dialpay wallet/);
  expect(await p.ask(winner, `YES ${code(challenge)}`)).toMatch(/^Paid 120\.00 KES to Duka Ya Mama \(SHOP42\)/);
  await waitFor('spent', async () => (await wallet(winner)) === 38_000n);
  const statement = await p.ask(winner, 'BAL');
  expect(statement).toMatch(/Payout/);

  const config = validateConfig(p.stack.rawConfig);
  const checks = [...(await checkAccounts(p.pool, config.operators)), ...(await checkMerchantPayables(p.pool))];
  expect(checks.filter((c) => !c.ok), JSON.stringify(checks)).toEqual([]);
}, 120_000);

it('a credit whose request billing never got is asked again by the sweep and ends once, with one SMS', async () => {
  const lost = '254711900004';
  // The pending record with no CreditRequested behind it, opened six minutes ago: as if billing had dead-lettered the request.
  const creditId = (await p.pool.query<{ credit_id: string }>(
    `INSERT INTO payments.credits (credit_id, source, operator_id, msisdn, currency, amount_minor, reference, idempotency_scope,
       idempotency_key, body_sha256, created_at, updated_at)
     VALUES (gen_random_uuid(), 'operator-deposit', 'safaricom-ke', $1, 'KES', 70000, 'LOST-1', 'operator:safaricom-ke', 'dep-lost',
       sha256('lost'::bytea), now() - interval '6 minutes', now() - interval '6 minutes') RETURNING credit_id::text`, [lost],
  )).rows[0]?.credit_id as string;
  await waitFor('credit ended', async () => (await p.pool.query(
    `SELECT 1 FROM payments.credits WHERE credit_id = $1 AND state = 'completed'`, [creditId])).rowCount === 1);
  expect(await wallet(lost)).toBe(70_000n);
  expect(await p.nextSms(lost, 0)).toMatch(/^You received 700\.00 KES from .*Ref LOST-1/);
  const asks = await p.pool.query<{ asks: number }>('SELECT asks FROM payments.credit_asks WHERE credit_id = $1', [creditId]);
  expect(asks.rows).toEqual([{ asks: 1 }]);
  await new Promise((resolve) => setTimeout(resolve, 1_500)); // a few more sweeps: nothing asked, booked or told again
  expect(p.sim.submitted.filter((m) => m.destination === lost)).toHaveLength(1);
  expect(await wallet(lost)).toBe(70_000n);
  const metrics = await (await fetch(`http://127.0.0.1:${p.host.opsPorts.payments}/metrics`)).text();
  expect(metrics).toMatch(/dialpay_payments_credits_asked_again_total\{[^}]*kind="credit"[^}]*\} 1\n/);
}, 60_000);
