// Agents end to end (issue 16): payments and billing together, with the ledger.
// `dialpay agent fund` tops a float up; DEP moves float -> wallet on the agent's
// PIN; WITHDRAW moves wallet -> float with the fee on top; a float too low, and
// a wallet cap, move nothing. Phones are the simulated SMSC's. The operator runs
// on the `wallet` billing adapter (orange-sn's model in dialpay.example.yaml):
// its subscribers' only money is what comes in through an agent.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { addAgent } from '../../../services/payments/index.js';
import { validateConfig } from '../../../cli/config.js';
import { hashSecret } from '../../../runtime/secrets.js';
import { runTs } from '../../support/child.js';
import { checkAccounts, checkAgentFloats } from '../../../load-tests/harness/invariants.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { waitFor } from '../../support/stack.js';

let p: PaymentsStack;
let configPath: string;
const AGENT = 'AG2001';
const AGENT_LINE = '254711800001';
const PIN = '2580';
const CUSTOMER = '254711800777';

beforeAll(async () => {
  p = await startPaymentsStack(new SimulatedCarrier({ openingBalanceMinor: 1_000_000n }), (raw) => {
    raw.limits.tiers[0].walletBalanceMaxMinor = 150_000; // 1,500.00 KES
    raw.limits.paymentsPerMinuteMax = 50;
    raw.operators[0].billingAdapter = 'wallet';
  });
  const raw = structuredClone(p.stack.rawConfig) as any;
  raw.limits.tiers[0].walletBalanceMaxMinor = 150_000;
  raw.operators[0].billingAdapter = 'wallet';
  configPath = join(mkdtempSync(join(tmpdir(), 'dialpay-agents-e2e-')), 'dialpay.yaml');
  writeFileSync(configPath, stringify(raw));
  expect((await addAgent(p.pool, validateConfig(raw), { operatorId: 'safaricom-ke', agentId: AGENT, name: 'Kiosk Two', number: AGENT_LINE, actor: 'test' })).kind).toBe('added');
  await p.pool.query('INSERT INTO payments.subscribers (msisdn, pin_hash) VALUES ($1, $2)', [AGENT_LINE, await hashSecret(PIN)]);
}, 120_000);

afterAll(async () => {
  await p?.cleanup();
}, 60_000);

const balance = (account: string) => p.ledger.balance(account);
const float = () => balance(AccountIds.agentFloat(AGENT));
const wallet = () => balance(AccountIds.subscriber(CUSTOMER));

it('fund, deposit, withdraw: every movement one transfer, floats and wallets never negative, and each side told', async () => {
  const fund = runTs('cli/dialpay.ts', ['agent', 'fund', '--agent', AGENT, '--amount', '1000', '--ref', 'F-1', '--by', 'ops', '--config', configPath]);
  expect(await fund.exited(), fund.stderr()).toBe(0);
  expect(fund.stdout()).toContain('funded AG2001 with 1,000.00 KES (ref F-1); float now 1,000.00 KES');
  expect(await float()).toBe(100_000n);
  const again = runTs('cli/dialpay.ts', ['agent', 'fund', '--agent', AGENT, '--amount', '1000', '--ref', 'F-1', '--config', configPath]);
  expect(await again.exited()).toBe(0);
  expect(again.stdout()).toContain('already funded');
  expect(await float()).toBe(100_000n);

  // Float too low: nothing moves, and the agent reads why.
  expect(await p.ask(AGENT_LINE, `DEP 0${CUSTOMER.slice(3)} 1200`)).toBe(`Deposit of 1,200.00 KES to +${CUSTOMER} failed: float too low. Nothing was moved.`);
  expect(await float()).toBe(100_000n);

  // Cash-in on the agent's PIN.
  expect(await p.ask(AGENT_LINE, `DEP 0${CUSTOMER.slice(3)} 800`)).toMatch(/^Deposit 800\.00 KES from your float to \+254711800777\?/);
  const seen = p.sim.submitted.filter((m) => m.destination === CUSTOMER).length;
  expect(await p.ask(AGENT_LINE, PIN)).toMatch(/^Deposit of 800\.00 KES to \+2547\*{6}77 done\. Ref [0-9A-F]{8}\.$/);
  expect(await p.nextSms(CUSTOMER, seen)).toMatch(/^You received 800\.00 KES from agent Kiosk Two \(AG2001\)\./);
  await waitFor('wallet credited', async () => (await wallet()) === 80_000n);
  expect(await float()).toBe(20_000n);

  // Over the wallet cap (800 + 800 > 1,500): refused at capture, the hold released.
  const topUp = runTs('cli/dialpay.ts', ['agent', 'fund', '--agent', AGENT, '--amount', '1000', '--ref', 'F-2', '--config', configPath]);
  expect(await topUp.exited()).toBe(0);
  await p.ask(AGENT_LINE, `DEP 0${CUSTOMER.slice(3)} 800`);
  expect(await p.ask(AGENT_LINE, PIN)).toBe(`Deposit of 800.00 KES to +${CUSTOMER} failed: the subscriber's wallet would exceed its limit. Nothing was moved.`);
  await waitFor('hold released', async () => (await float()) === 120_000n);
  expect(await wallet()).toBe(80_000n);

  // Cash-out with the fee on top: 500.00 + 15.00 from the wallet, 500.00 to the float.
  const challenge = await p.ask(CUSTOMER, 'WITHDRAW AG2001 500');
  expect(challenge).toMatch(/^Withdraw 500\.00 KES cash at Kiosk Two \(AG2001\)\? Fee 15\.00 KES: 515\.00 KES from your dialpay wallet\./);
  const agentSeen = p.sim.submitted.filter((m) => m.destination === AGENT_LINE).length;
  expect(await p.ask(CUSTOMER, `YES ${/YES (\d{4})/.exec(challenge)?.[1]}`)).toMatch(/^Withdrawn 500\.00 KES at Kiosk Two \(AG2001\)\. Fee 15\.00 KES\./);
  expect(await p.nextSms(AGENT_LINE, agentSeen)).toMatch(/^Cash-out: give 500\.00 KES cash to \+2547\*{6}77\./);
  await waitFor('float credited', async () => (await float()) === 170_000n);
  expect(await wallet()).toBe(80_000n - 51_500n);
  expect(await balance(AccountIds.fees('KES'))).toBe(1_350n);
  expect(await balance(AccountIds.operatorShare('safaricom-ke'))).toBe(150n);
}, 120_000);

it('a wallet-model subscriber with no money cashes in at one agent, pays a merchant, withdraws the rest at another; a float runs out; a suspended agent is refused', async () => {
  const SECOND = 'AG2002';
  const SECOND_LINE = '254711800002';
  const payer = '254711800778';
  const cli = async (args: string[]) => {
    const run = runTs('cli/dialpay.ts', [...args, '--config', configPath]);
    expect(await run.exited(), run.stderr()).toBe(0);
    return run.stdout();
  };
  expect(await cli(['agent', 'add', '--operator', 'safaricom-ke', '--id', SECOND, '--name', 'Kiosk Three', '--msisdn', `0${SECOND_LINE.slice(3)}`, '--by', 'ops'])).toContain(SECOND);
  await p.pool.query('INSERT INTO payments.subscribers (msisdn, pin_hash) VALUES ($1, $2)', [SECOND_LINE, await hashSecret(PIN)]);
  const merchantBefore = await balance(AccountIds.merchant('SHOP42', 'KES')).catch(() => 0n);

  // The wallet model with nothing in the wallet: the payment fails, nothing reserved.
  expect(await p.ask(payer, 'PAY SHOP42 100')).toMatch(/insufficient balance/);

  // Cash-in at the second agent, on its PIN.
  await cli(['agent', 'fund', '--agent', SECOND, '--amount', '500', '--ref', 'F-3']);
  expect(await p.ask(SECOND_LINE, `DEP 0${payer.slice(3)} 300`)).toMatch(/^Deposit 300\.00 KES from your float/);
  expect(await p.ask(SECOND_LINE, PIN)).toMatch(/^Deposit of 300\.00 KES to \+2547\*{6}78 done\./);
  await waitFor('wallet credited', async () => (await balance(AccountIds.subscriber(payer))) === 30_000n);
  expect(await balance(AccountIds.agentFloat(SECOND))).toBe(20_000n);

  // The money that came in is spent at a merchant, from the wallet.
  const challenge = await p.ask(payer, 'PAY SHOP42 100');
  expect(challenge).toMatch(/From your dialpay wallet\. Reply YES \d{4}/);
  expect(await p.ask(payer, `YES ${/YES (\d{4})/.exec(challenge)?.[1]}`)).toMatch(/^Paid 100\.00 KES to Duka Ya Mama \(SHOP42\)/);
  await waitFor('paid from the wallet', async () => (await balance(AccountIds.subscriber(payer))) === 20_000n);
  expect(await balance(AccountIds.merchant('SHOP42', 'KES'))).toBeGreaterThan(merchantBefore);

  // The rest goes out as cash at the first agent: 188.00 + fee 11.88 (10.00 + 1%) of the 200.00 left.
  const floatBefore = await float();
  const out = await p.ask(payer, `WITHDRAW ${AGENT} 188`);
  expect(out).toMatch(/^Withdraw 188\.00 KES cash at Kiosk Two \(AG2001\)\? Fee 11\.88 KES: 199\.88 KES from your dialpay wallet\./);
  expect(await p.ask(payer, `YES ${/YES (\d{4})/.exec(out)?.[1]}`)).toMatch(/^Withdrawn 188\.00 KES at Kiosk Two \(AG2001\)/);
  await waitFor('cash-out booked', async () => (await float()) === floatBefore + 18_800n);
  expect(await balance(AccountIds.subscriber(payer))).toBe(12n);

  // The second agent's float (200.00 left) runs out: a 300.00 deposit moves nothing.
  expect(await p.ask(SECOND_LINE, `DEP 0${payer.slice(3)} 300`)).toMatch(/failed: float too low\. Nothing was moved\.$/);
  expect(await balance(AccountIds.agentFloat(SECOND))).toBe(20_000n);

  // Suspended: no deposits from it, no withdrawals at it; the audit says who.
  expect(await cli(['agent', 'suspend', '--agent', SECOND, '--by', 'ops-lead'])).toContain(SECOND);
  expect(await p.ask(SECOND_LINE, `DEP 0${payer.slice(3)} 50`)).toMatch(/^Your agent account is suspended/);
  expect(await p.ask(payer, `WITHDRAW ${SECOND} 5`)).toMatch(/^Agent Kiosk Three \(AG2002\) cannot pay out cash right now/);
  expect(await balance(AccountIds.agentFloat(SECOND))).toBe(20_000n);
  const audit = await p.pool.query("SELECT actor FROM payments.agent_audit WHERE agent_id = $1 AND action = 'suspend'", [SECOND]);
  expect(audit.rows.map((r) => r.actor)).toEqual(['ops-lead']);

  // Every float, wallet and account as the chaos and bench harness checks them.
  const checks = [...(await checkAgentFloats(p.pool)), ...(await checkAccounts(p.pool, validateConfig(p.stack.rawConfig).operators))];
  expect(checks.filter((c) => !c.ok), JSON.stringify(checks)).toEqual([]);
}, 180_000);
