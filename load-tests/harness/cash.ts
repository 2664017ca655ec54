// Agents and their customers on the wallet-model operator (issue 16), for the
// fault drills: an agent cashes a random small amount in to a subscriber
// (DEPOT, confirmed with the agent's PIN), then the subscriber withdraws part
// of it at an agent (RETRAIT, OUI <code>, the fee on top); meanwhile the
// operator's own systems credit the subscriber's wallet (POST /v1/operator/deposits, a
// credit billing books as it books a merchant's payout). The operator is
// orange-sn, French by default, so the phones type and read French. Every
// flow is counted completed or failed; every receipt either side got is booked
// (CashBook) for checkCashFlows (invariants.ts).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { newApiKey } from '../../runtime/api-keys.js';
import type { Config, OperatorConfig } from '../../runtime/config/index.js';
import { hashSecret } from '../../runtime/secrets.js';
import { addAgent, fundAgent } from '../../services/payments/index.js';
import { fundAgentFloat } from '../../services/billing/index.js';
import type { SmscSimulator } from '../../operator-sim/index.js';
import { Phones, type PhonesOptions } from './phones.js';
import { receiptKey } from './invariants.js';

export interface CashAgent {
  readonly agentId: string;
  readonly msisdn: string;
  readonly pin: string;
}

/** An agent's line and a cash subscriber's, on orange-sn's ranges (+22177, +22178); 12 digits as E.164. */
export const agentLine = (i: number) => `22177${String(9_000_000 + i)}`;
export const cashSubscriber = (i: number) => `22178${String(1_000_000 + i)}`;
const agentIdOf = (i: number) => `CASH-${String(i).padStart(3, '0')}`;
const PIN = '2468';

/** The cash operator's key for /v1/operator/deposits, made per run: the chaos config puts it in operators[1].apiKeys. */
export const OPERATOR_API_KEY = newApiKey();

/** The wallet-model operator the cash flows run on: operators[1] of a cluster with walletOperatorSmsc. */
export function cashOperator(config: Config): OperatorConfig {
  const operator = config.operators[1];
  if (!operator || operator.billingAdapter !== 'wallet') throw new Error('the cash flows need operators[1] on the wallet billing model');
  return operator;
}

/**
 * Registers `count` agents of the cash operator (what `dialpay agent add` does), gives each line a
 * PIN (as the USSD menu would) and funds each float from the operator's funding account (`dialpay
 * agent fund`). Idempotent: a second call finds them.
 */
export async function seedAgents(config: Config, options: { count: number; floatMinor: bigint }): Promise<CashAgent[]> {
  const operator = cashOperator(config);
  const pool = new pg.Pool({ connectionString: config.postgres.url, max: 1 });
  try {
    const pinHash = await hashSecret(PIN);
    const agents: CashAgent[] = [];
    for (let i = 0; i < options.count; i++) {
      const agent = { agentId: agentIdOf(i), msisdn: agentLine(i), pin: PIN };
      const added = await addAgent(pool, config, { operatorId: operator.id, agentId: agent.agentId, name: `Kiosque ${i}`,
        number: `+${agent.msisdn}`, actor: 'chaos' });
      if (added.kind !== 'added' && added.kind !== 'id-taken') throw new Error(`agent ${agent.agentId}: ${added.kind}`);
      await pool.query(
        `INSERT INTO payments.subscribers (msisdn, language, pin_hash) VALUES ($1, $2, $3)
         ON CONFLICT (msisdn) DO UPDATE SET pin_hash = EXCLUDED.pin_hash, pin_failures = 0, pin_locked = false, updated_at = now()`,
        [agent.msisdn, operator.defaultLanguage, pinHash],
      );
      const funded = await fundAgent(pool, config, { agentId: agent.agentId, amountMinor: options.floatMinor,
        reference: `chaos-${agent.agentId}`, actor: 'chaos' }, fundAgentFloat);
      if (funded.kind !== 'billing' || (funded.result.outcome !== 'funded' && funded.result.outcome !== 'already')) {
        throw new Error(`agent ${agent.agentId} float: ${JSON.stringify(funded, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
      }
      agents.push(agent);
    }
    return agents;
  } finally {
    await pool.end();
  }
}

export type CashReceiptKind = 'depositAgent' | 'depositPayee' | 'withdrawPayer' | 'withdrawAgent' | 'operatorDeposit';

// The four receipts of cash.ts (services/payments/replies.ts), in either language; the payment's reference is the capture.
const RECEIPTS: readonly (readonly [CashReceiptKind, RegExp])[] = [
  ['depositAgent', /^(?:Deposit of|Depot de) .* (?:done|effectue)\. Ref ([0-9A-F]{8})\./],
  ['depositPayee', /^(?:You received|Vous avez recu) .* (?:from agent|de l agent) .*Ref ([0-9A-F]{8})\./],
  ['withdrawPayer', /^(?:Withdrawn|Retrait de) .*Ref ([0-9A-F]{8})\./],
  ['withdrawAgent', /^(?:Cash-out|Retrait):.*Ref ([0-9A-F]{8})\./],
  // After depositPayee: a credit's SMS names the operator, not an agent; its Ref is the credit id's (no reference is sent).
  ['operatorDeposit', /^(?:You received|Vous avez recu) .*Ref ([0-9A-F]{8})\./],
];

/** Cash receipts by kind, each counted under receiptKey(<phone it went to>, <Ref>). */
export class CashBook {
  readonly depositAgent = new Map<string, number>();
  readonly depositPayee = new Map<string, number>();
  readonly withdrawPayer = new Map<string, number>();
  readonly withdrawAgent = new Map<string, number>();
  readonly operatorDeposit = new Map<string, number>();
  /** What the operator API answered for each of its deposits (by credit id): completed, failed, or no final answer in time. */
  readonly operatorDepositsTold = new Map<string, 'completed' | 'failed' | 'unknown'>();

  /** Call for every message delivered to a phone of the cash operator. */
  note(text: string, destination: string): CashReceiptKind | null {
    for (const [kind, pattern] of RECEIPTS) {
      const ref = pattern.exec(text)?.[1];
      if (!ref) continue;
      const key = receiptKey(destination, ref);
      this[kind].set(key, (this[kind].get(key) ?? 0) + 1);
      return kind;
    }
    return null;
  }
}

const notInTime = /not confirmed in time|non confirme a temps/;
const PIN_CHALLENGE = /Reply with your PIN|Repondez avec votre PIN/;
const CODE = /(?:YES|OUI) (\d{4})/;
// Refused at once (nothing opened): the texts end so.
const REFUSED = /Nothing was (?:moved|charged)\.$|Rien n a ete (?:deplace|debite)\.$|^(?:Payment refused|Paiement refuse)|^(?:Payment of|Paiement de) .* (?:failed|echoue)/;
const isDepositChallenge = (t: string) => PIN_CHALLENGE.test(t) || (REFUSED.test(t) && !notInTime.test(t));
const DEPOSIT_DONE = RECEIPTS[0]?.[1] as RegExp;
// A deposit's end for the agent: its receipt, its failure, or its PIN taken for no deposit or for several.
const PIN_ANSWER = /payments wait for your PIN|paiements attendent votre PIN|No payment is waiting for your PIN|Aucun paiement n attend votre PIN|Your PIN is locked|Votre PIN est bloque/;
const isDepositEnd = (t: string) => DEPOSIT_DONE.test(t) || (/^(?:Deposit of|Depot de) .* (?:failed|echoue):/.test(t) && !notInTime.test(t)) || PIN_ANSWER.test(t);
const isWithdrawChallenge = (t: string) => CODE.test(t) || (REFUSED.test(t) && !notInTime.test(t));
const WITHDRAW_DONE = RECEIPTS[2]?.[1] as RegExp;
const isWithdrawEnd = (t: string) => WITHDRAW_DONE.test(t) || (/^(?:Payment of|Paiement de) .* (?:failed|echoue)/.test(t) && !notInTime.test(t)) || /^(?:Wrong code|Code incorrect|No payment is waiting|Aucun paiement)/.test(t);

/** The cash-out fee schedule of the example config (`cash-out`: 1,000 + 1%), what a subscriber keeps back for it. */
const FEE_RESERVE_MINOR = 2_000n;
const DEPOSIT_MIN_MINOR = 5_000;
const DEPOSIT_SPREAD_MINOR = 5_000;
const OPERATOR_DEPOSIT_MIN_MINOR = 500;
const OPERATOR_DEPOSIT_SPREAD_MINOR = 1_000;
const WITHDRAW_MIN_MINOR = 1_000;
const WITHDRAW_SPREAD_MINOR = 1_000;
/** A step is 100 XOF: amounts as people type them. */
const STEP_MINOR = 100;
const randomAmount = (min: number, spread: number) => BigInt(min + Math.floor(Math.random() * (spread / STEP_MINOR + 1)) * STEP_MINOR);

/** A reply's first words with the amounts and numbers taken out: failures grouped by kind. */
const gist = (text: string) => text.replace(/\+?\d[\d.,*]*/g, '#').split(/\s+/).slice(0, 8).join(' ');

export interface CashTally {
  deposits: { completed: number; failed: number };
  withdrawals: { completed: number; failed: number };
  operatorDeposits: { completed: number; failed: number };
  /** Failed flows by step and why ("deposit: no receipt in time"). */
  readonly failures: Map<string, number>;
  /** Flows due while no agent or subscriber was idle: not started. */
  notStarted: number;
  /** performance.now() of the last completed deposit and withdrawal. */
  lastDepositMs: number;
  lastWithdrawalMs: number;
}

export const newCashTally = (): CashTally => ({ deposits: { completed: 0, failed: 0 }, withdrawals: { completed: 0, failed: 0 },
  operatorDeposits: { completed: 0, failed: 0 }, failures: new Map(), notStarted: 0, lastDepositMs: 0, lastWithdrawalMs: 0 });

/** The failures of a tally, most frequent first: "deposit: no receipt in time x3, ...". */
export function failureSummary(tally: CashTally): string {
  return [...tally.failures].sort((a, b) => b[1] - a[1]).map(([why, n]) => `${why} x${n}`).join(', ') || 'none';
}

export class CashFlows {
  readonly phones: Phones;
  readonly book = new CashBook();
  /** What each subscriber's wallet holds as far as its receipts tell, less what it tried to withdraw. */
  readonly #wallets = new Map<string, bigint>();

  readonly #apiUrl: string;
  /** Operator API calls answered 5xx, 429 or not at all, asked again with the same Idempotency-Key; and GETs of a pending deposit. */
  apiRetried = 0;
  readonly #apiWaitMs: number;

  /** `apiUrl`: the merchant API's base (the operator API is on it). */
  constructor(smsc: SmscSimulator, readonly agents: readonly CashAgent[], readonly subscriberCount: number,
    options: PhonesOptions & { apiUrl: string }) {
    this.phones = new Phones({ smsc }, options);
    this.#apiUrl = options.apiUrl;
    this.#apiWaitMs = options.smsWaitMs ?? 30_000;
    smsc.onMessage((m) => this.book.note(m.text, m.destination));
  }

  get mosAccepted(): number {
    return this.phones.mosAccepted;
  }

  /** The agent cashes `amountMinor` in to the subscriber: 'done' when the agent's receipt came, else why not. */
  async deposit(agent: CashAgent, subscriber: string, amountMinor: bigint): Promise<string> {
    const challenge = this.phones.next(agent.msisdn, isDepositChallenge);
    if (!(await this.phones.send(agent.msisdn, `DEPOT ${subscriber.slice(3)} ${amountMinor}`))) return 'DEP refused by the SMSC';
    const asked = await challenge;
    if (asked === null) return 'no PIN challenge in time';
    if (!PIN_CHALLENGE.test(asked)) return `refused: ${gist(asked)}`;
    const end = this.phones.next(agent.msisdn, isDepositEnd);
    if (!(await this.phones.send(agent.msisdn, agent.pin))) return 'PIN refused by the SMSC';
    const answer = await end;
    if (answer === null) return 'no receipt in time';
    if (!DEPOSIT_DONE.test(answer)) return `failed: ${gist(answer)}`;
    this.#wallets.set(subscriber, (this.#wallets.get(subscriber) ?? 0n) + amountMinor);
    return 'done';
  }

  /** The subscriber withdraws `amountMinor` at the agent: 'done' when the subscriber's receipt came, else why not. */
  async withdraw(subscriber: string, agent: CashAgent, amountMinor: bigint): Promise<string> {
    // Kept back whatever happens: a withdrawal the phone gave up on may still have been booked.
    this.#wallets.set(subscriber, (this.#wallets.get(subscriber) ?? 0n) - amountMinor - FEE_RESERVE_MINOR);
    const challenge = this.phones.next(subscriber, isWithdrawChallenge);
    if (!(await this.phones.send(subscriber, `RETRAIT ${agent.agentId} ${amountMinor}`))) return 'WITHDRAW refused by the SMSC';
    const asked = await challenge;
    if (asked === null) return 'no code challenge in time';
    const code = CODE.exec(asked)?.[1];
    if (!code) return `refused: ${gist(asked)}`;
    const end = this.phones.next(subscriber, isWithdrawEnd);
    if (!(await this.phones.send(subscriber, `OUI ${code}`))) return 'OUI refused by the SMSC';
    const answer = await end;
    if (answer === null) return 'no receipt in time';
    return WITHDRAW_DONE.test(answer) ? 'done' : `failed: ${gist(answer)}`;
  }

  /**
   * The operator credits the subscriber's wallet through its API, as its systems would: the same
   * Idempotency-Key again after a 5xx, a 429 or no answer, GET while 202 (pending), until a final
   * answer or the wait is over. 'done' when the API said completed, else why not.
   */
  async operatorDeposit(subscriber: string, amountMinor: bigint): Promise<string> {
    const headers = { authorization: `Bearer ${OPERATOR_API_KEY.key}`, 'content-type': 'application/json',
      'idempotency-key': randomUUID() };
    const body = JSON.stringify({ msisdn: `+${subscriber}`, amountMinor: Number(amountMinor), currency: 'XOF' });
    const deadline = Date.now() + this.#apiWaitMs;
    let id: string | null = null;
    let last = 'no answer';
    while (Date.now() < deadline) {
      const url: string = id === null ? `${this.#apiUrl}/v1/operator/deposits` : `${this.#apiUrl}/v1/operator/deposits/${id}`;
      const res: Response | null = await fetch(url, { method: id === null ? 'POST' : 'GET', headers, ...(id === null ? { body } : {}),
        signal: AbortSignal.timeout(10_000) }).catch(() => null);
      const answer: { id?: string; status?: string; failureReason?: string; type?: string } | null =
        res ? await res.json().catch(() => null) : null;
      if (res && res.status >= 200 && res.status < 300 && answer?.id) {
        id = answer.id;
        if (answer.status === 'completed' || answer.status === 'failed') {
          this.book.operatorDepositsTold.set(answer.id, answer.status);
          return answer.status === 'completed' ? 'done' : `failed: ${answer.failureReason ?? ''}`;
        }
      } else if (res && res.status < 500 && res.status !== 429) {
        return `refused: ${res.status} ${answer?.type ?? ''}`;
      }
      last = res ? String(res.status) : 'no answer';
      this.apiRetried++;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    if (id !== null) this.book.operatorDepositsTold.set(id, 'unknown');
    return `no final answer in time (last ${last})`;
  }

  /** What the subscriber may withdraw now as far as it knows. */
  walletOf(subscriber: string): bigint {
    return this.#wallets.get(subscriber) ?? 0n;
  }
}

export interface CashRateOptions {
  /** Cash flows (a deposit, then a withdrawal when the wallet has room) started per second. */
  readonly perSecond: number;
  readonly secondsMax: number;
  readonly signal?: AbortSignal;
  readonly tally: CashTally;
  /**
   * An agent whose deposit failed rests this long: its challenge may still be open, and a second
   * one would make its PIN ambiguous (replies.ts severalWaiting). The challenge TTL is enough.
   */
  readonly agentRestMs: number;
}

/** Open loop, like payAtRate: flow k starts at k/perSecond s with an idle agent and an idle subscriber, or is not started. */
export async function cashAtRate(flows: Pick<CashFlows,
  'agents' | 'subscriberCount' | 'deposit' | 'withdraw' | 'walletOf' | 'operatorDeposit'>, options: CashRateOptions): Promise<void> {
  const busyAgents = new Set<number>();
  const restingUntil = new Map<number, number>();
  const busySubscribers = new Set<number>();
  const running = new Set<Promise<void>>();
  const t = options.tally;
  const started = performance.now();
  let agentCursor = 0;
  let subscriberCursor = 0;
  for (let k = 0; k < options.perSecond * options.secondsMax && !options.signal?.aborted; k++) {
    const waitMs = started + (k * 1_000) / options.perSecond - performance.now();
    if (waitMs > 1) await new Promise((r) => setTimeout(r, waitMs));
    if (options.signal?.aborted) break;
    const now = performance.now();
    const a = pick(flows.agents.length, agentCursor, (i) => busyAgents.has(i) || (restingUntil.get(i) ?? 0) > now);
    const s = pick(flows.subscriberCount, subscriberCursor, (i) => busySubscribers.has(i));
    if (a === null || s === null) {
      t.notStarted++;
      continue;
    }
    agentCursor = a + 1;
    subscriberCursor = s + 1;
    busyAgents.add(a);
    busySubscribers.add(s);
    const agent = flows.agents[a] as CashAgent;
    const subscriber = cashSubscriber(s);
    const flow = (async () => {
      const failed = (why: string) => t.failures.set(why, (t.failures.get(why) ?? 0) + 1);
      // The agent is free again once its deposit ended (not after the withdrawal: by then another flow may have it).
      const credit = async () => {
        const credited = await flows.operatorDeposit(subscriber, randomAmount(OPERATOR_DEPOSIT_MIN_MINOR, OPERATOR_DEPOSIT_SPREAD_MINOR));
        if (credited === 'done') t.operatorDeposits.completed++;
        else {
          t.operatorDeposits.failed++;
          failed(`operator deposit: ${credited}`);
        }
      };
      // The operator's credit runs beside the agent's deposit: API calls are in flight whenever the kills come.
      const crediting = credit();
      const deposited = await flows.deposit(agent, subscriber, randomAmount(DEPOSIT_MIN_MINOR, DEPOSIT_SPREAD_MINOR))
        .finally(() => busyAgents.delete(a));
      if (deposited === 'done') {
        t.deposits.completed++;
        t.lastDepositMs = performance.now();
      } else {
        t.deposits.failed++;
        failed(`deposit: ${deposited}`);
        restingUntil.set(a, performance.now() + options.agentRestMs);
      }
      // Later, at any agent: part of what the wallet holds, the fee on top.
      const amount = randomAmount(WITHDRAW_MIN_MINOR, WITHDRAW_SPREAD_MINOR);
      if (flows.walletOf(subscriber) < amount + FEE_RESERVE_MINOR) return crediting;
      const at = flows.agents[Math.floor(Math.random() * flows.agents.length)] as CashAgent;
      const withdrawn = await flows.withdraw(subscriber, at, amount);
      if (withdrawn === 'done') {
        t.withdrawals.completed++;
        t.lastWithdrawalMs = performance.now();
      } else {
        t.withdrawals.failed++;
        failed(`withdrawal: ${withdrawn}`);
      }
      await crediting;
    })().finally(() => {
      busySubscribers.delete(s);
      running.delete(flow);
    });
    running.add(flow);
  }
  await Promise.all(running);
}

function pick(count: number, from: number, busy: (i: number) => boolean): number | null {
  for (let n = 0; n < count; n++) {
    const i = (from + n) % count;
    if (!busy(i)) return i;
  }
  return null;
}
