// Agents (issue 16), the payments side: `dialpay agent ...` keeps the registry
// and its audit; DEP (cash-in from the agent's float, confirmed by the agent's
// PIN) and WITHDRAW (cash-out from a wallet, fee on top) go through the real
// gateway (SMPP), payments, NATS and PostgreSQL. This test plays billing: it
// reads what payments asks on the DEBITS stream and answers as billing's
// contract says (proto/dialpay/v1/debit.proto), so each rule of payments is
// checked on its own; the same flows against billing's ledger are for the
// merged branch.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { dialpay, moneyFromProto } from '../../../proto/index.js';
import { type Config } from '../../../runtime/config/index.js';
import { validateConfig } from '../../../cli/config.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { createPool, type Pool } from '../../../runtime/pg/index.js';
import { freePort } from '../../../runtime/engines/index.js';
import { connectNats, Events, newEnvelope, publishEvent, type NatsHandle } from '../../../runtime/nats/index.js';
import { hashSecret } from '../../../runtime/secrets.js';
import { gateway } from '../../../gateway/index.js';
import { payments, addAgent, auditOf, fundAgent, setAgentState, type FloatTopUpResult } from '../../../services/payments/index.js';
import { SmscSimulator } from '../../../operator-sim/index.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';
import { runTs } from '../../support/child.js';

const { DebitOutcome, FundingSource } = dialpay.v1;
const log = quietLogger();
let stack: Stack;
let sim: SmscSimulator;
let host: Host;
let pool: Pool;
let nats: NatsHandle;
let config: Config;
let configPath: string;

const AGENT = 'AG1001';
const AGENT_LINE = '254711900001';
const AGENT_PIN = '2580';
let phoneNo = 0;
const newPhone = () => `2547118${String(++phoneNo).padStart(5, '0')}`;

beforeAll(async () => {
  stack = await setupStack();
  sim = new SmscSimulator({ systemId: 'dialpay', password: 'secret1', receiptDelayMs: 10 });
  const raw = structuredClone(stack.rawConfig) as any;
  Object.assign(raw.operators[0].smpp, { port: await sim.start(), bindCount: 1, reconnectDelayMsMin: 100, reconnectDelayMsMax: 500 });
  raw.operators[1].smpp.port = await freePort();
  raw.outbox.pollIntervalMs = 20;
  raw.limits.paymentsPerMinuteMax = 50;
  // The tiers listed highest first: a rule finds a tier by its number, not by its place (a payee we do not know yet is tier 0).
  raw.limits.tiers.reverse();
  config = validateConfig(raw);
  host = await startHost(config, [payments, gateway], { log }); // no billing: this test answers for it
  configPath = join(mkdtempSync(join(tmpdir(), 'dialpay-agents-')), 'dialpay.yaml');
  writeFileSync(configPath, stringify(raw));
  pool = createPool({ url: stack.databaseUrl, poolSizeMax: 2, connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, applicationName: 'test' }, log);
  nats = await connectNats({ ...stack.config.nats, name: 'agents-test' }, log);
  await waitFor('gateway bound', async () => sim.boundSessions === 1);
}, 120_000);

afterAll(async () => {
  await nats?.close();
  await pool?.end();
  await host?.stop();
  await sim?.stop();
  await stack?.cleanup();
}, 60_000);

async function agentCli(...args: string[]) {
  const child = runTs('cli/dialpay.ts', ['agent', ...args, '--config', configPath]);
  return { code: await child.exited(), stdout: child.stdout(), stderr: child.stderr() };
}

const smsCount = (phone: string) => sim.submitted.filter((m) => m.destination === phone).length;
const nextSms = async (phone: string, after: number) => (await waitFor(`SMS #${after + 1} to ${phone}`, async () => sim.submitted.filter((s) => s.destination === phone)[after], 15_000)).text;

async function send(phone: string, text: string): Promise<void> {
  const statuses = await sim.sendFromPhone(phone, '384', text);
  if (statuses.some((s) => s !== 0)) throw new Error(`the gateway answered ${statuses.join(',')} to "${text}"`);
}

/** Sends `text` and returns the next SMS the phone gets (a refusal, a challenge, a receipt). */
async function ask(phone: string, text: string): Promise<string> {
  const seen = smsCount(phone);
  await send(phone, text);
  return nextSms(phone, seen);
}

async function newestPaymentOf(payer: string, after: number): Promise<string> {
  const lookup = async () => (await pool.query<{ payment_id: string }>('SELECT payment_id FROM payments.payments WHERE payer_msisdn = $1 AND created_at > to_timestamp($2 / 1000.0) ORDER BY created_at DESC LIMIT 1', [payer, after])).rows[0]?.payment_id;
  // On a failure, what the phone was sent says why.
  return waitFor(`a payment by ${payer}`, lookup).catch((err: Error) => { throw new Error(`${err.message}; its last SMS: ${JSON.stringify(sim.submitted.filter((m) => m.destination === payer).map((m) => m.text).slice(-2))}`); });
}

const paymentsOf = async (payer: string) => (await pool.query('SELECT 1 FROM payments.payments WHERE payer_msisdn = $1', [payer])).rowCount;

async function requested<M extends { paymentId?: string | null }>(
  def: typeof Events.debitReserveRequested | typeof Events.debitCaptureRequested, paymentId: string,
): Promise<M> {
  return waitFor(`${def.subject} for ${paymentId}`, async () => ((await readEvents(nats, 'DEBITS', def as any)) as M[]).find((m) => m.paymentId === paymentId)) as Promise<M>;
}

/** billing's answers, as its contract says. */
async function answerReserve(paymentId: string, outcome: dialpay.v1.DebitOutcome, funding: dialpay.v1.FundingSource): Promise<void> {
  await publishEvent(nats.js, Events.debitReserveResult, {
    envelope: newEnvelope({ producer: 'billing', eventId: `${paymentId}:reserve-result`, paymentId, correlationId: paymentId }),
    debitId: paymentId, paymentId, outcome, funding, detail: '',
  }, { timeoutMs: 5_000 });
}

async function answerCapture(paymentId: string, outcome: dialpay.v1.DebitOutcome, detail = ''): Promise<void> {
  await publishEvent(nats.js, Events.debitCaptureResult, {
    envelope: newEnvelope({ producer: 'billing', eventId: `${paymentId}:capture-result`, paymentId, correlationId: paymentId }),
    debitId: paymentId, paymentId, outcome, detail,
  }, { timeoutMs: 5_000 });
}

const minor = (m: dialpay.v1.IMoney | null | undefined) => (m ? moneyFromProto(m).amountMinor : null);

describe('dialpay agent: the registry and its audit', () => {
  it('adds, lists, suspends and resumes an agent, each change audited with who did it', async () => {
    const added = await agentCli('add', '--operator', 'safaricom-ke', '--id', 'ag1001', '--name', 'Mama Mboga Shop', '--msisdn', '0711900001', '--by', 'alice');
    expect(added.stderr).toBe('');
    expect(added).toMatchObject({ code: 0, stdout: `added ${AGENT}\tactive\t+${AGENT_LINE}\tMama Mboga Shop\n` });
    expect((await agentCli('list', '--operator', 'safaricom-ke')).stdout).toBe(`${AGENT}\tactive\t+${AGENT_LINE}\tMama Mboga Shop\n`);
    expect((await agentCli('list', '--operator', 'orange-sn')).stdout).toBe('no agents for orange-sn\n');

    expect(await agentCli('suspend', '--agent', AGENT, '--by', 'bob')).toMatchObject({ code: 0, stdout: `suspended ${AGENT}\tsuspended\t+${AGENT_LINE}\tMama Mboga Shop\n` });
    expect((await agentCli('suspend', '--agent', AGENT)).stdout).toMatch(/^unchanged \(already suspended\)/);
    expect(await agentCli('resume', '--agent', AGENT, '--by', 'bob')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^resumed AG1001\tactive/) });
    const audit = await auditOf(pool, AGENT);
    expect(audit.map((a) => [a.action, a.actor])).toEqual([['add', 'alice'], ['suspend', 'bob'], ['resume', 'bob']]);
    expect(audit[0]?.detail).toEqual({ operatorId: 'safaricom-ke', name: 'Mama Mboga Shop', msisdn: AGENT_LINE });
    // Append-only, whoever holds the connection.
    await expect(pool.query('UPDATE payments.agent_audit SET actor = $1', ['mallory'])).rejects.toThrow(/append-only/);
    await expect(pool.query('DELETE FROM payments.agent_audit')).rejects.toThrow(/append-only/);
  }, 120_000);

  it('refuses wrong uses with a clear message and changes nothing', async () => {
    const usage = 64; // EX_USAGE, as every other dialpay command
    const wrong = await agentCli('frobnicate');
    expect(wrong.code).toBe(usage);
    expect(wrong.stderr).toContain('unknown subcommand "frobnicate"');
    expect(wrong.stderr).toContain('agent fund --agent AGENT --amount AMOUNT --ref REF'); // the usage
    expect(await agentCli('fund', '--agent', AGENT, '--amount', '5000')).toMatchObject({ code: usage, stderr: expect.stringContaining('needs --amount AMOUNT and --ref REF') });
    expect(await agentCli('suspend', '--agent', 'AG404')).toMatchObject({ code: 1, stderr: expect.stringContaining('no agent "AG404"') });
    // The rules behind the command, in this process (each CLI run costs seconds).
    const add = (agentId: string, number: string, operatorId = 'safaricom-ke') => addAgent(pool, config, { operatorId, agentId, name: 'Other', number, actor: 'x' });
    expect(await add(AGENT, '0711900009')).toMatchObject({ kind: 'id-taken', agent: { agent_id: AGENT } });
    expect(await add('AG2', '0711900001')).toMatchObject({ kind: 'msisdn-taken', agent: { agent_id: AGENT } });
    expect(await add('AG_1', '0711900003')).toEqual({ kind: 'bad-id' });
    expect(await add('AG3', '+221771234567')).toEqual({ kind: 'bad-number' }); // another operator's line
    expect(await addAgent(pool, config, { operatorId: 'safaricom-ke', agentId: 'AG3', name: ' ', number: '0711900003', actor: 'x' })).toEqual({ kind: 'bad-name' });
    expect(await setAgentState(pool, 'AG404', 'suspended', 'x')).toEqual({ kind: 'unknown-agent' });
    expect((await pool.query('SELECT count(*)::int AS n FROM payments.agents')).rows[0].n).toBe(1);
    expect((await auditOf(pool, AGENT)).map((a) => a.action)).toEqual(['add', 'suspend', 'resume']);
  }, 120_000);

  it('fund hands billing the agent, its operator and currency, the amount and the reference, then audits each booked top-up once', async () => {
    const calls: unknown[] = [];
    const transferId = 'float:safaricom-ke:TOPUP-1';
    const answering = (result: FloatTopUpResult) => async (_pool: unknown, request: unknown) => {
      calls.push(request);
      return result;
    };
    const fund = (reference: string, result: FloatTopUpResult) => fundAgent(pool, config, { agentId: 'ag1001', amountMinor: 500_000n, reference, actor: 'carol' }, answering(result));
    expect(await fund('TOPUP-1', { outcome: 'funded', transferId, balanceMinor: 500_000n })).toMatchObject({ kind: 'billing', currency: 'KES', result: { outcome: 'funded' } });
    expect(calls).toEqual([{ operatorId: 'safaricom-ke', agentId: AGENT, currency: 'KES', amountMinor: 500_000n, reference: 'TOPUP-1' }]);
    const funds = async () => (await auditOf(pool, AGENT)).filter((a) => a.action === 'fund');
    expect(await funds()).toMatchObject([{ actor: 'carol', detail: { amountMinor: '500000', currency: 'KES', reference: 'TOPUP-1', transferId } }]);
    // The same top-up again: billing books nothing, and the audit keeps its one line.
    await fund('TOPUP-1', { outcome: 'already', transferId, balanceMinor: 500_000n });
    // Refused by billing (the reference used for another amount): nothing booked, nothing audited.
    await fund('TOPUP-2', { outcome: 'conflict', transferId: 'float:safaricom-ke:TOPUP-2', detail: 'reference TOPUP-2 was used for 1 to agent:AG1001' });
    expect(await funds()).toHaveLength(1);
    expect(await fund('bad ref', { outcome: 'invalid', detail: 'x' })).toEqual({ kind: 'bad-reference' });
    expect(calls).toHaveLength(3);
    // A return (`agent defloat`) is audited as its own action; a short one is not audited.
    const back = (reference: string, result: FloatTopUpResult) => fundAgent(pool, config, { agentId: 'ag1001', amountMinor: 100_000n, reference, actor: 'dave', action: 'defloat' }, answering(result));
    await back('BACK-1', { outcome: 'funded', transferId: 'float-return:safaricom-ke:BACK-1', balanceMinor: 400_000n });
    await back('BACK-2', { outcome: 'short', transferId: 'float-return:safaricom-ke:BACK-2', detail: 'agent:AG1001 holds 400000' });
    expect((await auditOf(pool, AGENT)).filter((a) => a.action === 'defloat')).toMatchObject([{ actor: 'dave', detail: { reference: 'BACK-1', transferId: 'float-return:safaricom-ke:BACK-1' } }]);
    expect(await funds()).toHaveLength(1);
  });
});

describe('cash-in: DEP from the agent, confirmed with its PIN', () => {
  beforeAll(async () => {
    await pool.query('INSERT INTO payments.subscribers (msisdn, pin_hash) VALUES ($1, $2) ON CONFLICT (msisdn) DO UPDATE SET pin_hash = $2', [AGENT_LINE, await hashSecret(AGENT_PIN)]);
  });

  it('reserves from the float, asks the PIN, credits the wallet under its cap, and both get a receipt', async () => {
    const customer = newPhone();
    const since = Date.now();
    await send(AGENT_LINE, `DEP 0${customer.slice(3)} 500`);
    const id = await newestPaymentOf(AGENT_LINE, since);
    const reserve = await requested<dialpay.v1.DebitReserveRequested>(Events.debitReserveRequested, id);
    expect(reserve).toMatchObject({ msisdn: AGENT_LINE, operatorId: 'safaricom-ke', funding: FundingSource.FUNDING_SOURCE_AGENT_FLOAT, agentId: AGENT });
    expect(minor(reserve.amount)).toBe(50_000n);

    const seenAgent = smsCount(AGENT_LINE);
    await answerReserve(id, DebitOutcome.DEBIT_OUTCOME_OK, FundingSource.FUNDING_SOURCE_AGENT_FLOAT);
    expect(await nextSms(AGENT_LINE, seenAgent)).toMatch(new RegExp(`^Deposit 500\\.00 KES from your float to \\+${customer}\\? Reply with your PIN within \\d+ min\\.$`));

    await send(AGENT_LINE, AGENT_PIN);
    const capture = await requested<dialpay.v1.DebitCaptureRequested>(Events.debitCaptureRequested, id);
    expect(capture.payeeMsisdn).toBe(customer);
    expect(capture.payeeAgentId).toBeFalsy();
    expect(minor(capture.payeeWalletMax)).toBe(10_000_000n); // tier 0's walletBalanceMaxMinor
    expect([minor(capture.amount), minor(capture.payeeAmount), minor(capture.fee), minor(capture.operatorShare)])
      .toEqual([50_000n, 50_000n, 0n, 0n]);

    const seenCustomer = smsCount(customer);
    await answerCapture(id, DebitOutcome.DEBIT_OUTCOME_OK);
    const ref = id.slice(0, 8).toUpperCase();
    expect(await nextSms(AGENT_LINE, seenAgent + 1)).toBe(`Deposit of 500.00 KES to +2547******${customer.slice(-2)} done. Ref ${ref}.`);
    expect(await nextSms(customer, seenCustomer)).toBe(`You received 500.00 KES from agent Mama Mboga Shop (AG1001). Ref ${ref}. It is in your dialpay wallet: send BAL to see it.`);
    // Not the agent's own spending: it does not count against the agent line's limits.
    expect((await pool.query('SELECT agent_id, funding, state FROM payments.payments WHERE payment_id = $1', [id])).rows[0]).toEqual({ agent_id: AGENT, funding: 'agent-float', state: 'completed' });
  }, 60_000);

  it('a float too low is the agent\'s float, not "insufficient balance"; a wallet over its cap fails at capture', async () => {
    const customer = newPhone();
    let since = Date.now();
    await send(AGENT_LINE, `DEP +${customer} 700`);
    const short = await newestPaymentOf(AGENT_LINE, since);
    let seen = smsCount(AGENT_LINE);
    await answerReserve(short, DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS, FundingSource.FUNDING_SOURCE_AGENT_FLOAT);
    expect(await nextSms(AGENT_LINE, seen)).toBe(`Deposit of 700.00 KES to +${customer} failed: float too low. Nothing was moved.`);

    since = Date.now();
    await send(AGENT_LINE, `DEPOT +${customer} 800`);
    const over = await newestPaymentOf(AGENT_LINE, since);
    seen = smsCount(AGENT_LINE);
    await answerReserve(over, DebitOutcome.DEBIT_OUTCOME_OK, FundingSource.FUNDING_SOURCE_AGENT_FLOAT);
    expect(await nextSms(AGENT_LINE, seen)).toMatch(/^Deposer 800,00 KES de votre float pour/);
    await send(AGENT_LINE, AGENT_PIN);
    await requested(Events.debitCaptureRequested, over);
    await answerCapture(over, DebitOutcome.DEBIT_OUTCOME_REJECTED, 'wallet-balance-max');
    expect(await nextSms(AGENT_LINE, seen + 1)).toBe(`Depot de 800,00 KES pour +${customer} echoue: le portefeuille de l abonne depasserait sa limite. Rien n a ete deplace.`);
    expect((await pool.query('SELECT state, failure_reason FROM payments.payments WHERE payment_id = $1', [over])).rows[0]).toEqual({ state: 'failed', failure_reason: 'wallet-balance-max' });
  }, 60_000);

  it('refuses, with nothing reserved: a line that is no agent, a suspended agent, an agent without a PIN, another operator\'s number, an amount past the limits', async () => {
    const stranger = newPhone();
    expect(await ask(stranger, 'DEP 0711000999 100')).toBe('DEP is for registered dialpay agents only. Nothing was moved.');
    expect(await paymentsOf(stranger)).toBe(0);

    const before = await paymentsOf(AGENT_LINE);
    expect((await agentCli('suspend', '--agent', AGENT)).code).toBe(0);
    expect(await ask(AGENT_LINE, 'DEP 0711000999 100')).toBe('Your agent account is suspended: deposits are refused. Contact your operator. Nothing was moved.');
    expect((await agentCli('resume', '--agent', AGENT)).code).toBe(0);
    expect(await ask(AGENT_LINE, 'DEP +221771234567 100')).toMatch(/^\+221771234567 is on Orange Senegal, which uses XOF/);
    expect(await ask(AGENT_LINE, 'DEP 0711000999 6000')).toBe('Payment refused: the most per payment is 5,000.00 KES.');
    expect(await paymentsOf(AGENT_LINE)).toBe(before);

    expect((await agentCli('add', '--operator', 'safaricom-ke', '--id', 'AG1002', '--name', 'No Pin Kiosk', '--msisdn', '0711900002')).code).toBe(0);
    expect(await ask('254711900002', 'DEP 0711000999 100')).toBe('Deposits are confirmed with your PIN, and you have none. Dial *384# to set one, then send DEP again.');
    expect(await paymentsOf('254711900002')).toBe(0);
    expect(await ask('254711900002', 'HELP')).toMatch(/^dialpay agent: DEP <number> <amount>/);
    expect(await ask(stranger, 'HELP')).toMatch(/WITHDRAW <agent> <amount>/);
  }, 60_000);
});

it('an agent suspended while a deposit waits for its PIN: the right PIN moves nothing, the hold is released', async () => {
  const customer = newPhone();
  const since = Date.now();
  await send(AGENT_LINE, `DEP +${customer} 300`);
  const id = await newestPaymentOf(AGENT_LINE, since);
  const seen = smsCount(AGENT_LINE);
  await answerReserve(id, DebitOutcome.DEBIT_OUTCOME_OK, FundingSource.FUNDING_SOURCE_AGENT_FLOAT);
  expect(await nextSms(AGENT_LINE, seen)).toMatch(/^Deposit 300\.00 KES from your float/);
  expect((await agentCli('suspend', '--agent', AGENT)).code).toBe(0);
  try {
    expect(await ask(AGENT_LINE, AGENT_PIN)).toBe(`Deposit of 300.00 KES to +${customer} failed: cancelled. Nothing was moved.`);
  } finally {
    expect((await agentCli('resume', '--agent', AGENT)).code).toBe(0);
  }
  await waitFor('void asked', async () => (await readEvents(nats, 'DEBITS', Events.debitVoidRequested)).some((m) => m.paymentId === id));
  expect((await readEvents(nats, 'DEBITS', Events.debitCaptureRequested)).some((m) => m.paymentId === id)).toBe(false);
}, 60_000);

describe('cash-out: WITHDRAW from a subscriber\'s wallet at an agent', () => {
  it('charges the wallet amount + fee, confirms by code, credits the agent\'s float the amount, and tells the agent whom to pay', async () => {
    const customer = newPhone();
    const since = Date.now();
    await send(customer, 'WITHDRAW ag1001 500');
    const id = await newestPaymentOf(customer, since);
    const reserve = await requested<dialpay.v1.DebitReserveRequested>(Events.debitReserveRequested, id);
    // The wallet only, never the carrier; 500.00 + the cash-out fee (10.00 + 1%).
    expect(reserve).toMatchObject({ msisdn: customer, funding: FundingSource.FUNDING_SOURCE_WALLET, agentId: '' });
    expect(minor(reserve.amount)).toBe(51_500n);

    const seen = smsCount(customer);
    await answerReserve(id, DebitOutcome.DEBIT_OUTCOME_OK, FundingSource.FUNDING_SOURCE_WALLET);
    const challenge = await nextSms(customer, seen);
    expect(challenge).toMatch(/^Withdraw 500\.00 KES cash at Mama Mboga Shop \(AG1001\)\? Fee 15\.00 KES: 515\.00 KES from your dialpay wallet\. Reply YES \d{4} within \d+ min\./);
    await send(customer, `YES ${/YES (\d{4})/.exec(challenge)?.[1]}`);
    const capture = await requested<dialpay.v1.DebitCaptureRequested>(Events.debitCaptureRequested, id);
    expect(capture.payeeAgentId).toBe(AGENT);
    expect(capture.payeeMsisdn).toBeFalsy();
    expect(capture.payeeWalletMax).toBeFalsy();
    // The agent's float gets the amount; the fee splits into dialpay's fee and the operator's 10% of it.
    expect([minor(capture.amount), minor(capture.payeeAmount), minor(capture.fee), minor(capture.operatorShare)])
      .toEqual([51_500n, 50_000n, 1_350n, 150n]);

    const seenAgent = smsCount(AGENT_LINE);
    await answerCapture(id, DebitOutcome.DEBIT_OUTCOME_OK);
    const ref = id.slice(0, 8).toUpperCase();
    expect(await nextSms(customer, seen + 1)).toBe(`Withdrawn 500.00 KES at Mama Mboga Shop (AG1001). Fee 15.00 KES. Ref ${ref}. Collect your cash from the agent.`);
    expect(await nextSms(AGENT_LINE, seenAgent)).toBe(`Cash-out: give 500.00 KES cash to +2547******${customer.slice(-2)}. Ref ${ref}. Your float received 500.00 KES.`);
  }, 60_000);

  it('refuses an unknown, suspended or other agent before anything is reserved', async () => {
    const customer = newPhone();
    expect(await ask(customer, 'WITHDRAW AG404 100')).toBe('AG404 is not an agent we know, or not one you can use. Check the agent\'s number. Nothing was charged.');
    expect((await agentCli('suspend', '--agent', AGENT)).code).toBe(0);
    expect(await ask(customer, 'RETRAIT AG1001 100')).toBe('L agent Mama Mboga Shop (AG1001) ne peut pas payer pour le moment. Essayez un autre agent. Rien n a ete debite.');
    expect((await agentCli('resume', '--agent', AGENT)).code).toBe(0);
    // The agent's own line cannot cash out its own wallet into its own float.
    expect(await ask(AGENT_LINE, 'WITHDRAW AG1001 100')).toMatch(/^AG1001 is not an agent we know/);
    expect(await paymentsOf(customer)).toBe(0);
  }, 60_000);
});
