// The money and messaging invariants, checked at the end of every load run and
// fault drill: every accepted MO reached payments, every payment ended, each
// completed one was captured once and receipted once, the rest released, and
// the ledger sums to zero with nothing left held.
import pg from 'pg';
import { writableUrl } from '../../runtime/pg/failover.js';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { ACCOUNT_READERS, Ledger, type AccountKind } from '../../services/billing/index.js';
import { isE164, numberBelongsTo } from '../../runtime/msisdn.js';
import { DLQ_STREAM } from '../../runtime/nats/topology.js';
import { PAYMENTS_SMS_INBOUND } from '../../services/payments/index.js';
import type { ChargingApiSimulator } from '../../operator-sim/index.js';
import type { Check } from './report.js';
import type { CashBook, CashReceiptKind } from './cash.js';
import { natsServers } from '../../runtime/nats/connect.js';

/**
 * Receipts the phones got, by phone and payment reference (`<msisdn>:<first 8 characters of the
 * payment id, upper case>`): the reference alone repeats across payments (32 bits: likely among
 * some 50,000), a phone's own references practically never.
 */
export class ReceiptBook {
  readonly payer = new Map<string, number>();
  readonly payee = new Map<string, number>();
  /** The SMSC's message id of every copy after the first, by `payer:REF` or `payee:REF`, and of the first copy. */
  readonly #copies = new Map<string, string[]>();
  readonly #firstIds = new Map<string, string>();

  /** Call for every message the operator delivered to a phone, with the id the SMSC gave it. */
  note(text: string, smscMessageId = '', destination = ''): void {
    const found = /Ref ([0-9A-F]{8})/.exec(text)?.[1];
    if (!found) return;
    const ref = receiptKey(destination, found);
    const kind = text.startsWith('Paid') ? 'payer' : text.startsWith('Received') ? 'payee' : null;
    if (!kind) return;
    const book = this[kind];
    const count = (book.get(ref) ?? 0) + 1;
    book.set(ref, count);
    // Only doubled receipts need their ids (to tell SMPP's at-least-once from a bug): keep the first id until a second comes.
    const key = `${kind}:${ref}`;
    if (count === 1) this.#firstIds.set(key, smscMessageId);
    else this.#copies.set(key, [...(this.#copies.get(key) ?? [this.#firstIds.get(key) ?? '']), smscMessageId]);
  }

  /** The SMSC ids of every copy of a doubled receipt; empty when it came once or not at all. */
  copiesOf(kind: 'payer' | 'payee', ref: string): readonly string[] {
    return this.#copies.get(`${kind}:${ref}`) ?? [];
  }
}

/** The key a receipt is counted under: the phone it went to and the payment's reference. */
export function receiptKey(msisdn: string, ref: string): string {
  return `${msisdn.replace(/^\+/, '')}:${ref.toUpperCase()}`;
}

export interface InvariantInput {
  readonly databaseUrl: string;
  readonly natsUrl: string;
  /** MOs the SMSC had accepted (a 0 status in deliver_sm_resp). */
  readonly mosAccepted: number;
  readonly receipts: ReceiptBook;
  /** Payments to another phone (SEND) get a payee receipt as well. */
  readonly payeeReceipts: boolean;
  /** The carrier's own record, when billing is over http. */
  readonly chargingApi?: ChargingApiSimulator | null;
  /**
   * SMSC ids of submits accepted just before their link died (SmscSimulator.acceptedBeforeDrop).
   * A receipt may come twice only when a copy before the last is one of these: the gateway could
   * not have recorded it, and sending again is SMPP's at-least-once. Empty: no receipt may repeat.
   */
  readonly acceptedBeforeDrop?: ReadonlySet<string>;
  /** How long payments may take to end (confirmed ones captured, others expired). */
  readonly settleTimeoutMs: number;
  /** The configured operators: every subscriber account must be a number of one of them. */
  readonly operators: readonly OperatorRanges[];
  /** Receipts of the agents' and their customers' phones (cash.ts), when cash flows ran: checked by checkCashFlows. */
  readonly cashBook?: CashBook;
}

/** What numberBelongsTo needs of an operator (the config's operators fit). */
export type OperatorRanges = Parameters<typeof numberBelongsTo>[0];

/**
 * No stranded money: every subscriber account is `subscriber:<e164>` of a number some configured
 * operator serves (so its owner can see it with BAL and spend it), and money rests only in kinds
 * of account that some flow reads (ACCOUNT_READERS, next to the ledger's rules); transit kinds
 * (holds) end at zero.
 */
export async function checkAccounts(db: pg.Pool, operators: readonly OperatorRanges[]): Promise<Check[]> {
  const { rows } = await db.query<{ id: string; kind: AccountKind; balance: string }>(
    `SELECT a.id, a.kind, COALESCE(a.balance_minor,
       (SELECT COALESCE(SUM(p.amount_minor), 0) FROM billing.postings p WHERE p.account_id = a.id))::text AS balance
     FROM billing.accounts a WHERE a.kind = 'subscriber' OR a.id LIKE 'subscriber:%' OR a.balance_minor IS NULL OR a.balance_minor <> 0`,
  );
  const owned = (id: string, kind: AccountKind) => {
    const e164 = id.startsWith('subscriber:') ? id.slice('subscriber:'.length) : '';
    return kind === 'subscriber' && isE164(e164) && operators.some((o) => numberBelongsTo(o, e164));
  };
  const unowned = rows.filter((a) => (a.kind === 'subscriber' || a.id.startsWith('subscriber:')) && !owned(a.id, a.kind));
  const subscribers = rows.filter((a) => a.kind === 'subscriber').length;
  const stranded = rows.filter((a) => {
    const reader = ACCOUNT_READERS[a.kind];
    return BigInt(a.balance) !== 0n && (!reader || reader.readBy === null || reader.endsAtZero === true);
  });
  return [
    {
      name: 'every subscriber account belongs to a subscriber who can spend it',
      ok: unowned.length === 0,
      detail: `${subscribers} subscriber accounts; ${unowned.length} not subscriber:<number> of a configured ` +
        `operator${unowned.length ? ` (${first(unowned.map((a) => `${a.id} ${a.kind}`))})` : ''}`,
    },
    {
      name: 'money rests only in accounts some flow reads',
      ok: stranded.length === 0,
      detail: `${stranded.length} accounts hold money that no flow reads or that should have ended at ` +
        `zero${stranded.length ? ` (${first(stranded.map((a) => `${a.id} ${a.kind} ${a.balance}`))})` : ''}`,
    },
  ];
}

/**
 * Agents' floats (issue 16): each is agent:<id> of an agent in payments' registry (when that
 * table exists: a billing-only stack has none) and never negative; what operators put into them
 * is funding:<operator>, never positive (it only ever pays floats).
 */
export async function checkAgentFloats(db: pg.Pool): Promise<Check[]> {
  const registry = (await db.query<{ t: string | null }>("SELECT to_regclass('payments.agents')::text AS t")).rows[0]?.t ?? null;
  const { rows } = await db.query<{ id: string; kind: string; balance: string; registered: boolean | null }>(
    `SELECT a.id, a.kind, COALESCE(a.balance_minor,
       (SELECT COALESCE(SUM(p.amount_minor), 0) FROM billing.postings p WHERE p.account_id = a.id))::text AS balance,
            ${registry ? "EXISTS (SELECT 1 FROM payments.agents g WHERE 'agent:' || g.agent_id = a.id)" : 'NULL::boolean'} AS registered
     FROM billing.accounts a WHERE a.kind IN ('agent_float', 'operator_funding') OR a.id LIKE 'agent:%' OR a.id LIKE 'funding:%'`,
  );
  const floats = rows.filter((a) => a.kind === 'agent_float');
  const misnamed = rows.filter((a) => (a.kind === 'agent_float') !== /^agent:[A-Z0-9-]{2,32}$/.test(a.id) || (a.kind === 'operator_funding') !== a.id.startsWith('funding:'));
  const unregistered = floats.filter((a) => a.registered === false);
  const negative = floats.filter((a) => BigInt(a.balance) < 0n);
  const funding = rows.filter((a) => a.kind === 'operator_funding' && BigInt(a.balance) > 0n);
  return [
    {
      name: 'every agent float is agent:<id> of a registered agent, and never negative',
      ok: misnamed.length === 0 && unregistered.length === 0 && negative.length === 0 && funding.length === 0,
      detail: `${floats.length} floats; ${misnamed.length} misnamed, ${unregistered.length} of no registered agent, ` +
        `${negative.length} negative, ${funding.length} funding accounts above zero${
        [...misnamed, ...unregistered, ...negative, ...funding].length ? ` (` +
          `${first([...misnamed, ...unregistered, ...negative, ...funding].map((a) => `${a.id} ${a.kind} ${a.balance}`))})` : ''}`,
    },
  ];
}

/**
 * Merchants' payables (issue 16): a payout is booked only under the payable's lock when the
 * available balance covers it (billing's credits.ts, payable.ts), so no payable is below zero.
 * Only a refund booked after a settlement close emptied the payable may leave one below zero (a
 * debt carried to the next window, settlement-ledger.ts); the harness settles no window, so here
 * none may be.
 */
export async function checkMerchantPayables(db: pg.Pool): Promise<Check[]> {
  const { rows } = await db.query<{ id: string; balance: string }>(
    `SELECT a.id, (SELECT COALESCE(SUM(p.amount_minor), 0) FROM billing.postings p WHERE p.account_id = a.id)::text AS balance
     FROM billing.accounts a WHERE a.kind = 'merchant_payable'`,
  );
  const negative = rows.filter((a) => BigInt(a.balance) < 0n);
  return [
    {
      name: 'no merchant payable is below zero',
      ok: negative.length === 0,
      detail: `${rows.length} merchant payables; ${negative.length} below ` +
        `zero${negative.length ? ` (${first(negative.map((a) => `${a.id} ${a.balance}`))})` : ''}`,
    },
  ];
}

/** A cash-in or cash-out as the ledger and payments have it (checkCashFlows' query). */
export interface CashPaymentRow {
  readonly payment_id: string;
  readonly state: string;
  /** A cash-in's agent (its line is the payer), null for a cash-out. */
  readonly agent_id: string | null;
  readonly payer_msisdn: string;
  /** A cash-in's depositor's number, a cash-out's agent id. */
  readonly payee_id: string;
  /** The agent's line, from payments.agents. */
  readonly agent_msisdn: string | null;
  readonly payee_minor: string;
  readonly reserves: number;
  readonly captures: number;
  readonly voids: number;
  /** What this payment's transfers put into the receiving account: the depositor's wallet, or the agent's float. */
  readonly credited_minor: string;
}

export interface CashVerdict {
  /**
   * Completed ones not captured exactly once, or not crediting exactly their amount once; failed ones with anything captured or credited.
   */
  readonly misbooked: readonly string[];
  /** Completed ones whose two receipts did not come exactly once each; failed ones with a receipt. */
  readonly misreceipted: readonly string[];
  /** Receipts the phones got that name no cash payment (a flow told done that the ledger does not have). */
  readonly orphanReceipts: readonly string[];
  readonly completedDeposits: number;
  readonly completedWithdrawals: number;
  readonly failed: number;
}

/** Where each receipt of a cash payment goes: the two kinds it gets and the phone of each. Pure. */
export function cashReceiptKeys(p: CashPaymentRow): [CashReceiptKind, string][] {
  const ref = p.payment_id.slice(0, 8);
  const agentLine = p.agent_msisdn ?? '';
  return p.agent_id !== null
    ? [['depositAgent', receiptKey(p.payer_msisdn, ref)], ['depositPayee', receiptKey(p.payee_id, ref)]]
    : [['withdrawPayer', receiptKey(p.payer_msisdn, ref)], ['withdrawAgent', receiptKey(agentLine, ref)]];
}

/**
 * Every deposit and withdrawal booked exactly once and told exactly once to each side, none
 * told that the ledger does not have. Pure, on checkCashFlows' rows, so it can be tried on
 * crafted ones. The SMSC of the cash operator is not dropped by any drill: no receipt may repeat.
 */
export function cashVerdict(rows: readonly CashPaymentRow[], book: CashBook): CashVerdict {
  const misbooked: string[] = [];
  const misreceipted: string[] = [];
  const known = new Set<string>();
  for (const p of rows) {
    const completed = p.state === 'completed';
    const keys = cashReceiptKeys(p);
    for (const [kind, key] of keys) known.add(`${kind}:${key}`);
    const booked = completed
      ? p.captures === 1 && p.reserves === 1 && p.voids === 0 && p.credited_minor === p.payee_minor
      : p.captures === 0 && BigInt(p.credited_minor) === 0n && p.voids === p.reserves && p.reserves <= 1;
    if (!booked) misbooked.push(`${p.payment_id} ${p.state}: ${p.reserves} reserve, ${p.captures} capture, ${p.voids} void, credited ` +
      `${p.credited_minor} of ${p.payee_minor}`);
    const want = completed ? 1 : 0;
    const counts = keys.map(([kind, key]) => [kind, book[kind].get(key) ?? 0] as const);
    if (counts.some(([, n]) => n !== want)) {
      misreceipted.push(`${p.payment_id} ${p.state}: ${counts.map(([kind, n]) => `${kind} x${n}`).join(', ')}`);
    }
  }
  const orphanReceipts: string[] = [];
  for (const kind of CASH_KINDS) {
    for (const key of book[kind].keys()) if (!known.has(`${kind}:${key}`)) orphanReceipts.push(`${kind} ${key}`);
  }
  const completed = rows.filter((p) => p.state === 'completed');
  return {
    misbooked,
    misreceipted,
    orphanReceipts,
    completedDeposits: completed.filter((p) => p.agent_id !== null).length,
    completedWithdrawals: completed.filter((p) => p.agent_id === null).length,
    failed: rows.length - completed.length,
  };
}

/** An operator's deposit (POST /v1/operator/deposits) as payments and the ledger have it (checkCashFlows' query). */
export interface CreditRow {
  readonly credit_id: string;
  readonly state: string;
  readonly msisdn: string;
  readonly amount_minor: string;
  /** Ledger transfers of this credit (payment_id = credit id): one when completed, none otherwise. */
  readonly transfers: number;
  /** What they put into subscriber:<msisdn>. */
  readonly credited_minor: string;
}

export interface CreditVerdict {
  readonly pending: readonly string[];
  /** Booked other than once for a completed one, or at all for a failed one. */
  readonly misbooked: readonly string[];
  /** The subscriber's SMS not exactly once for a completed one, or sent for a failed one. */
  readonly mistold: readonly string[];
  /** The API said completed (or failed), and payments' record says otherwise or has none. */
  readonly answeredWrong: readonly string[];
  /** SMS of a credit that payments does not have as completed. */
  readonly orphanSms: readonly string[];
  readonly completed: number;
  readonly failed: number;
}

/** The operator's deposits: each booked once or not at all, its SMS once, the API's answers true. Pure. */
export function creditVerdict(rows: readonly CreditRow[], book: CashBook): CreditVerdict {
  const misbooked: string[] = [];
  const mistold: string[] = [];
  const byId = new Map(rows.map((c) => [c.credit_id, c]));
  const keys = new Set<string>();
  for (const c of rows) {
    if (c.state === 'pending') continue;
    const completed = c.state === 'completed';
    const booked = completed
      ? c.transfers === 1 && c.credited_minor === c.amount_minor
      : c.transfers === 0 && BigInt(c.credited_minor) === 0n;
    if (!booked) misbooked.push(`${c.credit_id} ${c.state}: ${c.transfers} transfers, credited ${c.credited_minor} of ${c.amount_minor}`);
    const key = receiptKey(c.msisdn, c.credit_id.slice(0, 8));
    if (completed) keys.add(key);
    const sms = book.operatorDeposit.get(key) ?? 0;
    if (sms !== (completed ? 1 : 0)) mistold.push(`${c.credit_id} ${c.state}: SMS x${sms}`);
  }
  const answeredWrong = [...book.operatorDepositsTold]
    .filter(([id, told]) => told !== 'unknown' && byId.get(id)?.state !== told)
    .map(([id, told]) => `${id}: told ${told}, is ${byId.get(id)?.state ?? 'missing'}`);
  return {
    pending: rows.filter((c) => c.state === 'pending').map((c) => c.credit_id),
    misbooked,
    mistold,
    answeredWrong,
    orphanSms: [...book.operatorDeposit.keys()].filter((k) => !keys.has(k)),
    completed: rows.filter((c) => c.state === 'completed').length,
    failed: rows.filter((c) => c.state === 'failed').length,
  };
}

/**
 * The cash flows (issue 16), after every payment ended: each deposit (DEP) and withdrawal
 * (WITHDRAW) booked exactly once in the ledger (one reserve, one capture, its amount credited
 * once) or not at all, each side's receipt exactly once for a completed one and none for a
 * failed one, no receipt for a payment the ledger lacks; agents' floats and subscribers'
 * wallets not below zero.
 */
export async function checkCashFlows(db: pg.Pool, book: CashBook, settleTimeoutMs: number): Promise<Check[]> {
  const read = async () => (await db.query<CashPaymentRow>(
    `SELECT p.payment_id, p.state, p.agent_id, p.payer_msisdn, p.payee_id, g.msisdn AS agent_msisdn, p.payee_minor::text AS payee_minor,
            (SELECT count(*) FROM billing.transfers t WHERE t.payment_id = p.payment_id AND t.kind = 'reserve')::int AS reserves,
            (SELECT count(*) FROM billing.transfers t WHERE t.payment_id = p.payment_id AND t.kind = 'capture')::int AS captures,
            (SELECT count(*) FROM billing.transfers t WHERE t.payment_id = p.payment_id AND t.kind = 'void')::int AS voids,
            (SELECT COALESCE(SUM(po.amount_minor), 0) FROM billing.transfers t JOIN billing.postings po ON po.transfer_id = t.id
              WHERE t.payment_id = p.payment_id AND po.account_id = CASE WHEN p.agent_id IS NOT NULL
                THEN 'subscriber:' || p.payee_id ELSE 'agent:' || p.payee_id END)::text AS credited_minor
     FROM payments.payments p LEFT JOIN payments.agents g ON g.agent_id = COALESCE(p.agent_id, p.payee_id)
     WHERE p.agent_id IS NOT NULL OR p.payee_kind = 'agent'`,
  )).rows;
  let rows = await read();
  // Receipts of the last completed ones may still be on the way (a doubled one stays doubled).
  await waitUntil(settleTimeoutMs, async () => {
    rows = await read();
    return cashVerdict(rows, book).misreceipted.length === 0;
  });
  const v = cashVerdict(rows, book);
  const readCredits = async () => (await db.query<CreditRow>(
    `SELECT c.credit_id::text AS credit_id, c.state, c.msisdn, c.amount_minor::text AS amount_minor,
            (SELECT count(*) FROM billing.transfers t WHERE t.payment_id = c.credit_id::text)::int AS transfers,
            (SELECT COALESCE(SUM(po.amount_minor), 0) FROM billing.transfers t JOIN billing.postings po ON po.transfer_id = t.id
              WHERE t.payment_id = c.credit_id::text AND po.account_id = 'subscriber:' || c.msisdn)::text AS credited_minor
     FROM payments.credits c WHERE c.source = 'operator-deposit'`,
  )).rows;
  let credits = await readCredits();
  // A credit still pending ends with billing's answer; its SMS follows.
  await waitUntil(settleTimeoutMs, async () => {
    credits = await readCredits();
    const c = creditVerdict(credits, book);
    return c.pending.length === 0 && c.mistold.length === 0;
  });
  const c = creditVerdict(credits, book);
  const { rows: accounts } = await db.query<{ id: string; kind: string; balance: string }>(
    `SELECT a.id, a.kind, (SELECT COALESCE(SUM(p.amount_minor), 0) FROM billing.postings p WHERE p.account_id = a.id)::text AS balance
     FROM billing.accounts a WHERE a.kind IN ('agent_float', 'subscriber')`,
  );
  const negative = accounts.filter((a) => BigInt(a.balance) < 0n);
  return [
    {
      name: 'every deposit and withdrawal booked exactly once',
      ok: v.misbooked.length === 0,
      detail: `${v.completedDeposits} deposits and ${v.completedWithdrawals} withdrawals completed, ${v.failed} failed; ` +
        `${v.misbooked.length} booked wrong${v.misbooked.length ? ` (${first(v.misbooked)})` : ''}`,
    },
    {
      name: 'every deposit and withdrawal told once to each side, none told that was not booked',
      ok: v.misreceipted.length === 0 && v.orphanReceipts.length === 0,
      detail: `${CASH_KINDS.map((k) => `${book[k].size} ${k}`).join(', ')} receipts; ${v.misreceipted.length} payments with a missing or ` +
        `doubled receipt${v.misreceipted.length ? ` (${first(v.misreceipted)})` : ''}, ${v.orphanReceipts.length} receipts of no cash ` +
        `payment${v.orphanReceipts.length ? ` (${first(v.orphanReceipts)})` : ''}`,
    },
    {
      name: "every operator deposit booked once or not at all, its SMS once, the API's answer true",
      ok: c.pending.length === 0 && c.misbooked.length === 0 && c.mistold.length === 0 && c.answeredWrong.length === 0
        && c.orphanSms.length === 0,
      detail: `${c.completed} completed, ${c.failed} failed, ${c.pending.length} still pending; ${c.misbooked.length} booked wrong, ` +
        `${c.mistold.length} with a missing or doubled SMS, ${c.answeredWrong.length} answered otherwise than recorded, ` +
        `${c.orphanSms.length} SMS of no completed deposit${
        [...c.pending, ...c.misbooked, ...c.mistold, ...c.answeredWrong, ...c.orphanSms].length ? ` (` +
          `${first([...c.pending, ...c.misbooked, ...c.mistold, ...c.answeredWrong, ...c.orphanSms])})` : ''}`,
    },
    {
      name: 'floats and wallets never negative',
      ok: negative.length === 0,
      detail: `${accounts.filter((a) => a.kind === 'agent_float').length} floats, ` +
        `${accounts.filter((a) => a.kind === 'subscriber').length} wallets; ${negative.length} below ` +
        `zero${negative.length ? ` (${first(negative.map((a) => `${a.id} ${a.balance}`))})` : ''}`,
    },
  ];
}

const CASH_KINDS = ['depositAgent', 'depositPayee', 'withdrawPayer', 'withdrawAgent'] as const;

async function waitUntil(timeoutMs: number, done: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await done().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return done().catch(() => false);
}

const first = <T>(values: readonly T[], n = 3) => values.slice(0, n).join(', ');

export async function checkInvariants(input: InvariantInput): Promise<Check[]> {
  const checks: Check[] = [];
  // A multi-host URL (a standby beside the primary): the server that takes writes now.
  const db = new pg.Pool({ connectionString: await writableUrl(input.databaseUrl, 10_000), max: 2 });
  // An idle connection cut by a PostgreSQL drill (or the stack stopping) must not crash the run: the next query reconnects.
  db.on('error', () => undefined);
  const nc = await connect({ servers: natsServers(input.natsUrl) });
  try {
    const jsm = await jetstreamManager(nc);
    // No MO lost: every accepted MO was stored in the stream, payments consumed it, nothing went to the
    // dead letters. SMS_INBOUND is a work queue (a handled MO leaves it), so "stored" is the stream's
    // last sequence: this stack's stream is fresh, and a duplicate (same Nats-Msg-Id) takes no sequence.
    const drained = await waitUntil(input.settleTimeoutMs, async () => {
      const ci = await jsm.consumers.info(PAYMENTS_SMS_INBOUND.stream, PAYMENTS_SMS_INBOUND.durableName);
      return ci.num_pending === 0 && ci.num_ack_pending === 0;
    });
    const stream = await jsm.streams.info('SMS_INBOUND');
    const dead = (await jsm.streams.info(DLQ_STREAM).catch(() => null))?.state.messages ?? 0;
    checks.push({
      name: 'no MO lost',
      ok: drained && stream.state.last_seq >= input.mosAccepted && dead === 0,
      detail: `${input.mosAccepted} accepted by the gateway, ${stream.state.last_seq} stored in SMS_INBOUND (${stream.state.messages} ` +
        `still held), ${drained ? 'all consumed' : 'NOT all consumed'}, ${dead} dead-lettered`,
    });

    const ended = await waitUntil(input.settleTimeoutMs, async () =>
      (await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM payments.payments WHERE state NOT IN ('completed', 'failed')")).rows[0]?.n === 0);
    const { rows: payments } = await db.query<{
      payment_id: string; state: string; payer_msisdn: string; payee_id: string; captures: number; voids: number; funding: string | null;
      cash: boolean;
    }>(
      `SELECT p.payment_id, p.state, p.payer_msisdn, p.payee_id, d.funding, (p.agent_id IS NOT NULL OR p.payee_kind = 'agent') AS cash,
              count(t.id) FILTER (WHERE t.kind = 'capture')::int AS captures,
              count(t.id) FILTER (WHERE t.kind = 'void')::int AS voids
       FROM payments.payments p LEFT JOIN billing.transfers t ON t.payment_id = p.payment_id
         LEFT JOIN billing.debits d ON d.debit_id = p.payment_id
       GROUP BY p.payment_id, p.state, p.payer_msisdn, p.payee_id, p.agent_id, p.payee_kind, d.funding`,
    );
    const open = payments.filter((p) => p.state !== 'completed' && p.state !== 'failed');
    checks.push({ name: 'every payment ended', ok: ended && open.length === 0,
      detail: `${payments.length} payments, ${open.length} still ` +
        `open${open.length ? ` (${first(open.map((p) => `${p.payment_id}:${p.state}`))})` : ''}` });

    const completed = payments.filter((p) => p.state === 'completed');
    const badCaptures = payments.filter((p) => (p.state === 'completed' ? p.captures !== 1 : p.captures !== 0));
    // CAMARA paymentStatus at the simulated operator (clientCorrelator = our debit id). A failed payment's
    // cancel may still be in flight, as its ledger void may (checked below): wait for it, within the bound.
    const wrongAtCarrier = () => input.chargingApi
      ? payments.filter((p) => {
        const status = input.chargingApi?.payment(p.payment_id)?.status;
        // A wallet-funded payment never reaches the carrier (billing's funding.ts), nor a cash-in (an agent's float pays).
        if (p.funding === 'wallet' || p.funding === 'agent-float') return status !== undefined;
        return p.state === 'completed' ? status !== 'succeeded' : status !== undefined && status !== 'cancelled';
      })
      : [];
    await waitUntil(input.settleTimeoutMs, async () => wrongAtCarrier().length === 0);
    const carrierWrong = wrongAtCarrier();
    checks.push({
      name: 'every confirmed payment captured exactly once, no other captured',
      ok: badCaptures.length === 0 && carrierWrong.length === 0,
      detail: `${completed.length} completed, ${payments.length - completed.length} failed; ${badCaptures.length} with a wrong capture `
        + `count in the ledger${input.chargingApi ? `, ${carrierWrong.length} wrong at the carrier${carrierWrong.length
          ? ` (${first(carrierWrong.map((p) => `${p.payment_id} ${p.state}: ${input.chargingApi?.payment(p.payment_id)?.status}`))})`
          : ''}` : ''}${badCaptures.length ? ` (${first(badCaptures.map((p) => p.payment_id))})` : ''}`,
    });

    type Paid = { payment_id: string; payer_msisdn: string; payee_id: string };
    const refOf = (p: Paid, kind: 'payer' | 'payee') => receiptKey(kind === 'payer' ? p.payer_msisdn : p.payee_id,
      p.payment_id.slice(0, 8));
    const kinds: readonly ('payer' | 'payee')[] = input.payeeReceipts ? ['payer', 'payee'] : ['payer'];
    const inDoubt = input.acceptedBeforeDrop ?? new Set<string>();
    // Copies a resend explains: each extra copy needs an earlier one the SMSC accepted just before the link died.
    const excused = (kind: 'payer' | 'payee', ref: string) =>
      input.receipts.copiesOf(kind, ref).slice(0, -1).filter((id) => inDoubt.has(id)).length;
    const verdict = (p: Paid & { state: string }): 'once' | 'resent' | 'wrong' => {
      let resent = 0;
      for (const kind of kinds) {
        const ref = refOf(p, kind);
        const count = input.receipts[kind].get(ref) ?? 0;
        const want = p.state === 'completed' ? 1 : 0;
        if (count < want || (count > want && (want === 0 || count - want > excused(kind, ref)))) return 'wrong';
        resent += count - want;
      }
      return resent > 0 ? 'resent' : 'once';
    };
    // A cash-in's or cash-out's receipts name other parties and read otherwise: checkCashFlows counts them.
    const sends = payments.filter((p) => !p.cash);
    // A payment just completed may have its receipts still on the way (a doubled one stays doubled).
    const receiptsMissing = () =>
      sends.some((p) => p.state === 'completed' && kinds.some((kind) => !input.receipts[kind].has(refOf(p, kind))));
    await waitUntil(input.settleTimeoutMs, async () => !receiptsMissing());
    const receiptWrong = sends.filter((p) => verdict(p) === 'wrong');
    const resent = sends.filter((p) => verdict(p) === 'resent');
    // Which receipt is wrong and how: "payer x0" is a missing one, "payee x2" a doubled one.
    const counted = (p: Paid) => kinds.map((kind) => `${kind} x${input.receipts[kind].get(refOf(p, kind)) ?? 0}`).join(', ');
    checks.push({
      name: input.acceptedBeforeDrop
        ? 'every receipt sent once (again only after its link died under the accepted submit)' : 'every receipt sent once',
      ok: receiptWrong.length === 0,
      detail: `${input.receipts.payer.size} payer${input.payeeReceipts ? ` and ${input.receipts.payee.size} payee` : ''} receipts; ` +
        `${receiptWrong.length} payments with a missing or doubled ` +
        `receipt${receiptWrong.length ? ` (${first(receiptWrong.map((p) => `${p.payment_id} ${p.state}: ${counted(p)}`))})` : ''}` +
          `${input.acceptedBeforeDrop ? `; ${resent.length} sent again because the link died just after the SMSC accepted them (SMPP's ` +
          `at-least-once)${resent.length ? ` (${first(resent.map((p) => `${p.payment_id}: ${counted(p)}`))})` : ''}` : ''}`,
    });

    const ledger = new Ledger(db);
    const holdsBalance = async () => {
      let sum = 0n;
      const { rows } = await db.query<{ id: string }>("SELECT id FROM billing.accounts WHERE kind = 'holds'");
      for (const { id } of rows) sum += await ledger.balance(id);
      return sum;
    };
    const released = await waitUntil(input.settleTimeoutMs, async () =>
      (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM billing.debits WHERE state = 'reserved'")).rows[0]?.n === 0
      && (await holdsBalance()) === 0n);
    checks.push({ name: 'nothing left reserved', ok: released,
      detail: `holds balance ${await holdsBalance()}${released ? '' : ', debits still reserved'}` });

    checks.push(...(await checkAccounts(db, input.operators)));
    checks.push(...(await checkAgentFloats(db)));
    checks.push(...(await checkMerchantPayables(db)));
    if (input.cashBook) checks.push(...(await checkCashFlows(db, input.cashBook, input.settleTimeoutMs)));

    const sums = await ledger.check();
    const sound = sums.postingsSumMinor === 0n && sums.unbalancedTransfers === 0 && sums.driftedBalances === 0
      && sums.negativeBalances === 0;
    checks.push({
      name: 'ledger sums to zero',
      ok: sound,
      detail: `postings sum ${sums.postingsSumMinor}, ${sums.unbalancedTransfers} unbalanced transfers, ${sums.driftedBalances} drifted ` +
        `balances, ${sums.negativeBalances} negative balances`,
    });
  } finally {
    await nc.close();
    await db.end();
  }
  return checks;
}
