// `dialpay payment show`: customer care reads the whole history of one payment: its row, every
// state it went through (payments.payment_history), its ledger transfers with their postings, its
// debit at the carrier (or the wallet) and refunds (PostgreSQL, one read-only transaction), and the
// SMS the SMSC took for it (the gateways' SMS_SENT stream, read by sequence, bounded). What is kept
// nowhere (texts, delivery receipts, each carrier attempt) is said with every answer. Logged with the
// agent's name; every phone number masked (care has the payer on the line, not the id).
import type { Config } from '../../runtime/config/index.js';
import { createLogger } from '../../runtime/log.js';
import { connectNats, natsOptionsFor } from '../../runtime/nats/index.js';
import { sentSmsOf, SENT_SEARCH_BATCHES_MAX, type SentSearch } from '../../gateway/index.js';
import { readCarePayment, type CarePaymentView } from '../../services/payments/index.js';
import { readCarePaymentLedger, type CarePaymentLedger } from '../../services/billing/index.js';
import { usageError, type Command } from '../command.js';
import { iso, lookUp, masked, money, requireAgent, toJson } from './care.js';

const USAGE = 'dialpay payment show needs --payment ID (or the id after "show") and --by AGENT [--json]';

/**
 * What dialpay does not keep about a payment, and why: said with every answer so that care does
 * not take a missing line for a missing event.
 */
export const NOT_KEPT: readonly string[] = [
  'SMS texts and numbers: not kept anywhere (a challenge holds a code); the SMS_SENT stream keeps only which SMS the SMSC took,'
    + ' for 3 days; a refund\'s SMS is kept under the refund\'s id, not the payment\'s',
  'delivery receipts: notifications on core NATS (DeliveryReceipt), stored nowhere: whether an SMS reached the phone is not known',
  'carrier calls: each attempt (retries, timeouts) is not kept; the debit keeps its last outcome, the carrier\'s reference and detail',
  'states before migration 0021 (payment_history) were only logged',
];

interface PaymentLookup {
  readonly view: CarePaymentView | undefined;
  readonly ledger: CarePaymentLedger | null;
}

/** The payment's SMS in SMS_SENT, or why they could not be read (NATS down: the rest is still shown). */
type SmsFound = SentSearch | { readonly unavailable: string };

/** SMS are sent until shortly after the payment's last change (its receipts): the window read past it. */
const SMS_AFTER_LAST_CHANGE_MS = 10 * 60_000;

async function readSms(config: Config, v: CarePaymentView): Promise<SmsFound> {
  const log = createLogger({ level: 'error', component: 'care-lookup' });
  try {
    const nats = await connectNats(natsOptionsFor(config.nats, 'admin', 'dialpay-payment-show'), log);
    try {
      const p = v.payment;
      return await sentSmsOf(nats.jsm, p.paymentId, p.createdAt.getTime(), p.updatedAt.getTime() + SMS_AFTER_LAST_CHANGE_MS);
    } finally {
      await nats.close();
    }
  } catch (err) {
    return { unavailable: `the SMS_SENT stream could not be read (${(err as Error).message})` };
  }
}

function smsLines(sms: SmsFound): string[] {
  if ('unavailable' in sms) return [`SMS the SMSC took: not read: ${sms.unavailable}`];
  return [
    `SMS the SMSC took (${sms.sms.length}; ${sms.batchesRead} SMS_SENT batch(es) read`
      + `${sms.truncated ? `, stopped at ${SENT_SEARCH_BATCHES_MAX}: later ones not read` : ''}`
      + `${sms.agedOut ? '; the stream no longer holds the oldest (3 days)' : ''}):`,
    ...sms.sms.map((x) => `  ${new Date(x.atMs).toISOString()}  ${x.what}  via ${x.operatorId}  SMSC id(s) ${x.smscIds.join(', ')}`),
  ];
}

/** Money in with a plus, out with a minus. */
const signed = (minor: bigint, currency: string) => `${minor > 0n ? '+' : ''}${money(minor, currency)}`;

const payeeOf = (v: CarePaymentView) => {
  const p = v.payment;
  return p.payeeKind === 'merchant' || p.payeeKind === 'agent' ? `${p.payeeKind} ${p.payeeId}` : `${p.payeeKind} ${masked(p.payeeId)}`;
};

/** Each account's net change over all the payment's transfers (what the payment did, in the end), by account id. */
function netByAccount(ledger: CarePaymentLedger): Map<string, bigint> {
  const net = new Map<string, bigint>();
  for (const t of ledger.transfers) for (const p of t.postings) net.set(p.accountId, (net.get(p.accountId) ?? 0n) + p.amountMinor);
  return new Map([...net].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function asJson(v: CarePaymentView, ledger: CarePaymentLedger, sms: SmsFound) {
  const p = v.payment;
  return {
    payment: {
      ...p, payerMsisdn: masked(p.payerMsisdn),
      payeeId: p.payeeKind === 'merchant' || p.payeeKind === 'agent' ? p.payeeId : masked(p.payeeId),
    },
    states: v.history,
    refunds: v.refunds,
    transfers: ledger.transfers.map((t) => ({
      ...t, balanced: t.postings.reduce((sum, x) => sum + x.amountMinor, 0n) === 0n,
      postings: t.postings.map((x) => ({ accountId: masked(x.accountId), amountMinor: x.amountMinor })),
    })),
    netByAccount: Object.fromEntries([...netByAccount(ledger)].map(([account, minor]) => [masked(account), minor])),
    carrierDebit: ledger.debit,
    carrierRefunds: ledger.refunds,
    sms,
    notKept: NOT_KEPT,
  };
}

function asText(v: CarePaymentView, ledger: CarePaymentLedger, sms: SmsFound): string {
  const p = v.payment;
  const c = p.currency;
  const out = [
    `Payment ${p.paymentId} (${p.channel}, ${p.operatorId}${p.payeeOperatorId ? ` -> ${p.payeeOperatorId}` : ''})`,
    `  payer ${masked(p.payerMsisdn)} -> ${payeeOf(v)}${p.reference ? `, ref "${p.reference}"` : ''}`,
    `  amount ${money(p.amountMinor, c)}, fee ${money(p.feeMinor, c)}, payee gets ${money(p.payeeMinor, c)};`
      + ` funding ${p.funding ?? '-'}`,
    `  state ${p.state}${p.failureReason ? ` (${p.failureReason})` : ''}; challenge ${p.challengeMethod ?? '-'}`
      + ` (${p.challengeAttempts} wrong answer(s)); created ${iso(p.createdAt)}, updated ${iso(p.updatedAt)}`,
    `States (${v.history.length}):`,
    ...v.history.map((h) => `  ${iso(h.at)}  ${h.from ?? '(new)'} -> ${h.to}${h.failureReason ? ` (${h.failureReason})` : ''}`),
    `Ledger transfers (${ledger.transfers.length}):`,
  ];
  for (const t of ledger.transfers) {
    const sum = t.postings.reduce((s, x) => s + x.amountMinor, 0n);
    const balanced = sum === 0n ? 'balanced' : `UNBALANCED by ${sum}`;
    out.push(`  ${iso(t.at)}  ${t.id}  ${t.kind}  ${money(t.amountMinor, t.currency)}  ${balanced}`);
    for (const x of t.postings) out.push(`      ${signed(x.amountMinor, t.currency)}  ${masked(x.accountId)}`);
  }
  out.push('Net per account:');
  for (const [account, minor] of netByAccount(ledger)) out.push(`  ${masked(account)}  ${signed(minor, c)}`);
  const d = ledger.debit;
  out.push(d
    ? `Carrier debit: ${d.funding} via ${d.adapter}, ${d.state};`
      + ` reserved ${money(d.amountMinor, c)}, captured ${money(d.capturedMinor, c)};`
      + ` carrier ref ${d.carrierRef ?? '-'}; detail ${d.detail || '-'}; claimed ${iso(d.createdAt)}, last ${iso(d.updatedAt)}`
    : 'Carrier debit: none (billing never claimed one for this payment)');
  for (const r of ledger.refunds) {
    out.push(`  refund ${r.refundId}: ${money(r.amountMinor, c)} ${r.state}${r.detail ? ` (${r.detail})` : ''}, ${iso(r.updatedAt)}`);
  }
  out.push(...smsLines(sms), 'Not kept:', ...NOT_KEPT.map((n) => `  ${n}`));
  return `${out.join('\n')}\n`;
}

async function show(config: Config, paymentId: string, by: string): Promise<PaymentLookup> {
  return lookUp(config, { by, command: 'payment show', subject: { paymentId } }, async (client) => {
    const view = await readCarePayment(client, paymentId);
    return { view, ledger: view ? await readCarePaymentLedger(client, paymentId) : null };
  }, (r) => r.view !== undefined);
}

export const paymentShow: Command = {
  needsConfig: true,
  help: [
    ['payment show --payment ID --by AGENT [--json]',
      'customer care: the whole history of one payment: its states in order, ledger',
      'transfers, the debit at the carrier, refunds, the SMS the SMSC took (SMS_SENT)',
      "and what is kept nowhere; read-only, numbers masked, logged (stderr) with AGENT's name"],
  ],
  accepts: (positionals) => positionals[1] === 'show' && positionals.length <= 3,
  async run({ config, values, positionals }) {
    const paymentId = (values.payment ?? positionals[2] ?? '').trim();
    if (paymentId === '') usageError(USAGE);
    const by = requireAgent(values, USAGE);
    const { view, ledger } = await show(config, paymentId, by);
    if (!view || !ledger) {
      process.stderr.write(`dialpay: no payment ${paymentId}\n`);
      process.exitCode = 1;
      return;
    }
    const sms = await readSms(config, view);
    process.stdout.write(values.json ? toJson(asJson(view, ledger, sms)) : asText(view, ledger, sms));
  },
};
