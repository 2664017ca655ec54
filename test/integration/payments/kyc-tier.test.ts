// KYC tiers set by customer care (setKycTier and `dialpay subscriber tier`): a subscriber held to
// tier 0's limits is refused a payment over them; once set to a higher tier the same payment goes
// through at once. Each change is a row of payments.kyc_tier_changes, which the database will not
// let anyone change or remove; refused changes write nothing.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { AccountIds, depositTransfer } from '../../../services/billing/ledger/rules.js';
import { setKycTier } from '../../../services/payments/index.js';
import { runTs } from '../../support/child.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';

let s: PaymentsStack;
let configPath: string;
const PHONE = '254700000611';
const ORANGE_PHONE = '221770000611';

beforeAll(async () => {
  s = await startPaymentsStack(new SimulatedCarrier({ openingBalanceMinor: 100_000_000n }));
  configPath = join(mkdtempSync(join(tmpdir(), 'dialpay-kyc-tier-')), 'dialpay.yaml');
  writeFileSync(configPath, stringify(s.stack.rawConfig));
}, 120_000);

afterAll(async () => {
  await s?.cleanup();
}, 60_000);

const tierRow = (tier: number) => {
  const found = s.stack.config.limits.tiers.find((t) => t.tier === tier);
  if (!found) throw new Error(`the example config has no tier ${tier}`);
  return found;
};
const changes = async (msisdn: string) =>
  (await s.pool.query<{ operator_id: string; from_tier: number; to_tier: number; changed_by: string; evidence_ref: string }>(
    `SELECT operator_id, from_tier, to_tier, changed_by, evidence_ref FROM payments.kyc_tier_changes WHERE msisdn = $1 ORDER BY id`,
    [msisdn])).rows;
const kycTier = async (msisdn: string) =>
  (await s.pool.query<{ kyc_tier: number }>('SELECT kyc_tier FROM payments.subscribers WHERE msisdn = $1', [msisdn])).rows[0]?.kyc_tier;

async function cli(...args: string[]) {
  const child = runTs('cli/dialpay.ts', ['subscriber', 'tier', '--config', configPath, ...args]);
  return { code: await child.exited(), stdout: child.stdout(), stderr: child.stderr() };
}

it('a payment over tier 0 is refused; after setKycTier to tier 1 the same payment goes through, and the change is audited', async () => {
  // Just over tier 0's most per payment (KES: 100 minor to the shilling), well under tier 1's.
  const amountMajor = Number(tierRow(0).perTransactionMaxMinor) / 100 + 500;
  expect(BigInt(amountMajor * 100)).toBeLessThan(BigInt(tierRow(1).perTransactionMaxMinor));
  expect(await s.ask(PHONE, `PAY SHOP42 ${amountMajor}`)).toMatch(/the most per payment is/);
  expect(await kycTier(PHONE)).toBe(0);

  const set = await setKycTier(s.pool, s.stack.config,
    { operatorId: 'safaricom-ke', msisdn: '+254700000611', tier: 1, by: 'agent-7', evidence: 'KYC-2026-0042' });
  expect(set).toEqual({ kind: 'changed', msisdn: PHONE, fromTier: 0, toTier: 1 });
  expect(await kycTier(PHONE)).toBe(1);
  expect(await changes(PHONE)).toEqual([
    { operator_id: 'safaricom-ke', from_tier: 0, to_tier: 1, changed_by: 'agent-7', evidence_ref: 'KYC-2026-0042' },
  ]);
  await s.payBySms(PHONE, 'SHOP42', String(amountMajor));

  // The same tier again changes nothing and is not recorded.
  expect(await setKycTier(s.pool, s.stack.config,
    { operatorId: 'safaricom-ke', msisdn: '0700000611', tier: 1, by: 'agent-8', evidence: 'KYC-2026-0043' }))
    .toEqual({ kind: 'unchanged', msisdn: PHONE, tier: 1 });
  expect(await changes(PHONE)).toHaveLength(1);
}, 90_000);

it('the database refuses to change or remove an audit row', async () => {
  await expect(s.pool.query(`UPDATE payments.kyc_tier_changes SET to_tier = 0 WHERE msisdn = $1`, [PHONE]))
    .rejects.toThrow(/append-only \(UPDATE refused\)/);
  await expect(s.pool.query(`DELETE FROM payments.kyc_tier_changes WHERE msisdn = $1`, [PHONE]))
    .rejects.toThrow(/append-only \(DELETE refused\)/);
  await expect(s.pool.query('TRUNCATE payments.kyc_tier_changes')).rejects.toThrow(/append-only \(TRUNCATE refused\)/);
  expect(await changes(PHONE)).toHaveLength(1);
}, 30_000);

it('refuses an unknown tier, another operator\'s number and a non-number, writing nothing', async () => {
  const phone = '254700000612';
  const base = { operatorId: 'safaricom-ke', by: 'agent-7', evidence: 'KYC-1' };
  expect(await setKycTier(s.pool, s.stack.config, { ...base, msisdn: phone, tier: 7 }))
    .toEqual({ kind: 'unknown-tier', tiers: s.stack.config.limits.tiers.map((t) => t.tier) });
  expect(await setKycTier(s.pool, s.stack.config, { ...base, msisdn: `+${ORANGE_PHONE}`, tier: 1 })).toEqual({ kind: 'bad-number' });
  expect(await setKycTier(s.pool, s.stack.config, { ...base, msisdn: 'call me', tier: 1 })).toEqual({ kind: 'bad-number' });
  expect(await setKycTier(s.pool, s.stack.config, { ...base, msisdn: phone, tier: 1, evidence: ' ' }))
    .toEqual({ kind: 'missing', field: 'evidence' });
  for (const msisdn of [phone, ORANGE_PHONE]) {
    expect(await kycTier(msisdn)).toBeUndefined();
    expect(await changes(msisdn)).toEqual([]);
  }
}, 30_000);

it('a downgrade only lowers the tier: the wallet balance stays', async () => {
  const phone = '254700000613';
  const base = { operatorId: 'safaricom-ke', msisdn: phone, by: 'agent-7', evidence: 'KYC-2' };
  expect((await setKycTier(s.pool, s.stack.config, { ...base, tier: 1 })).kind).toBe('changed');
  // Money in the wallet, as a tier-1 subscriber may hold: the downgrade leaves it there.
  await s.ledger.ensureAccount(AccountIds.subscriber(phone), 'subscriber', 'KES');
  await s.ledger.ensureAccount(AccountIds.carrier('safaricom-ke'), 'carrier_clearing', 'KES');
  await s.ledger.apply(depositTransfer('kyc-downgrade', 'safaricom-ke', AccountIds.subscriber(phone), 'KES', 250_000n));
  const wallet = () => s.ledger.balance(AccountIds.subscriber(phone));
  const before = await wallet();
  expect(before).toBe(250_000n);
  expect(await setKycTier(s.pool, s.stack.config, { ...base, tier: 0 })).toEqual({ kind: 'changed', msisdn: phone, fromTier: 1, toTier: 0 });
  expect(await wallet()).toEqual(before);
  expect((await changes(phone)).map((c) => [c.from_tier, c.to_tier])).toEqual([[0, 1], [1, 0]]);
}, 30_000);

it('dialpay subscriber tier: one line saying from and to; usage errors exit 64 and change nothing', async () => {
  const phone = '254700000614';
  const set = await cli('--operator', 'safaricom-ke', '--msisdn', '0700000614', '--tier', '1', '--by', 'agent-9', '--evidence', 'KYC-3');
  expect(set.stderr).toBe('');
  expect(set.code).toBe(0);
  expect(set.stdout).toBe('KYC tier of +254700000614: 0 -> 1; its limits apply from the next payment\n');
  const again = await cli('--operator', 'safaricom-ke', '--msisdn', phone, '--tier', '1', '--by', 'agent-9', '--evidence', 'KYC-3');
  expect(again.code).toBe(0);
  expect(again.stdout).toContain('already 1; unchanged');
  const unknownTier = await cli('--operator', 'safaricom-ke', '--msisdn', phone, '--tier', '7', '--by', 'agent-9', '--evidence', 'KYC-3');
  expect(unknownTier.code).toBe(64);
  expect(unknownTier.stderr).toContain("no such KYC tier; the config's limits.tiers are: 0, 1");
  const otherOperator = await cli('--operator', 'safaricom-ke', '--msisdn', `+${ORANGE_PHONE}`, '--tier', '0', '--by', 'a', '--evidence', 'b');
  expect(otherOperator.code).toBe(64);
  expect(otherOperator.stderr).toContain(`"+${ORANGE_PHONE}" is not a phone number of safaricom-ke`);
  const noEvidence = await cli('--operator', 'safaricom-ke', '--msisdn', phone, '--tier', '0', '--by', 'agent-9');
  expect(noEvidence.code).toBe(64);
  expect(noEvidence.stderr).toContain('needs --operator ID (one of: safaricom-ke, orange-sn), --msisdn NUMBER, --tier T');
  expect(await kycTier(phone)).toBe(1);
  expect(await changes(phone)).toHaveLength(1);
}, 90_000);
