// `dialpay subscriber show`: customer care looks a subscriber up: KYC tier, PIN state, the wallet
// and what is held, open payments, the last movements in and out with their references. Read-only
// (one read-only transaction), logged with the agent's name; other people's numbers masked.
import type { Config } from '../../runtime/config/index.js';
import { maskMsisdn } from '../../runtime/log.js';
import {
  careNumber, readCareSubscriber, readOpenPayments, readPaymentReferences, type CarePayment, type CareSubscriber,
} from '../../services/payments/index.js';
import { CARE_MOVEMENTS_MAX, readCareWallet, type CareWallet } from '../../services/billing/index.js';
import { EXIT_USAGE, usageError, type Command } from '../command.js';
import { age, iso, lookUp, masked, money, requireAgent, toJson } from './care.js';

const MOVEMENTS_DEFAULT = 10;
const USAGE = 'dialpay subscriber show needs --operator ID, --msisdn NUMBER and --by AGENT [--last N (1-100)] [--json]';

interface SubscriberView {
  readonly msisdn: string;
  readonly operatorId: string;
  readonly currency: string;
  readonly subscriber: CareSubscriber | undefined;
  readonly open: CarePayment[];
  readonly wallet: CareWallet;
  readonly references: Map<string, string>;
}

const known = (v: SubscriberView) => v.subscriber !== undefined || v.wallet.exists || v.wallet.movements.length > 0;

/** Who the other side of a payment is, as care reads it: a merchant or agent by id, a number masked. */
function payeeOf(p: CarePayment): string {
  if (p.payeeKind === 'merchant') return `merchant ${p.payeeId}`;
  if (p.payeeKind === 'agent') return `agent ${p.payeeId}`;
  return `${p.payeeKind} ${maskMsisdn(p.payeeId)}`;
}

function asJson(v: SubscriberView, nowMs: number) {
  const heldMinor = v.wallet.holds.reduce((sum, h) => sum + h.amountMinor, 0n);
  return {
    msisdn: v.msisdn, operatorId: v.operatorId, known: v.subscriber !== undefined,
    kycTier: v.subscriber?.kycTier ?? 0, blocked: v.subscriber?.blocked ?? null, language: v.subscriber?.language ?? null,
    pin: { state: v.subscriber?.pin ?? 'not set', wrongInARow: v.subscriber?.pinFailures ?? 0 },
    codesLockedUntil: v.subscriber?.codesLockedUntil ?? null,
    wallet: { currency: v.currency, balanceMinor: v.wallet.balanceMinor, heldMinor, holds: v.wallet.holds },
    openPayments: v.open.map((p) => ({
      paymentId: p.paymentId, state: p.state, channel: p.channel, payee: payeeOf(p), amountMinor: p.amountMinor, currency: p.currency,
      reference: p.reference, createdAt: p.createdAt, ageMs: nowMs - p.createdAt.getTime(), expiresAt: p.expiresAt,
    })),
    movements: v.wallet.movements.map((m) => ({
      paymentId: m.paymentId, reference: v.references.get(m.paymentId) ?? null, amountMinor: m.amountMinor,
      counterparty: masked(m.counterparty), at: m.at,
    })),
  };
}

function asText(v: SubscriberView, nowMs: number): string {
  const s = v.subscriber;
  const since = s ? `, with dialpay since ${iso(s.since)}` : ', never used dialpay by SMS or USSD';
  const out = [`Subscriber +${v.msisdn} (${v.operatorId})${since}`];
  out.push(`KYC tier: ${s?.kycTier ?? 0}`);
  out.push(`Blocked: ${s?.blocked ? `since ${iso(s.blocked.at)}: ${s.blocked.reason}` : 'no (may pay, send and withdraw)'}`);
  out.push(`PIN: ${s?.pin ?? 'not set'}${s && s.pinFailures > 0 && s.pin !== 'locked' ? ` (${s.pinFailures} wrong in a row)` : ''}`
    + `; one-time codes: ${s?.codesLockedUntil ? `refused until ${iso(s.codesLockedUntil)} (too many wrong)` : 'accepted'}`);
  const held = (funding: string) => v.wallet.holds.filter((h) => h.funding === funding).reduce((sum, h) => sum + h.amountMinor, 0n);
  const heldAll = v.wallet.holds.reduce((sum, h) => sum + h.amountMinor, 0n);
  out.push(`Wallet: ${money(v.wallet.balanceMinor, v.currency)} available; held: ${money(heldAll, v.currency)}`
    + ` for ${v.wallet.holds.length} payment(s) (from the wallet ${money(held('wallet'), v.currency)},`
    + ` at the carrier ${money(held('carrier'), v.currency)})`);
  out.push(`Open payments (${v.open.length}):`);
  for (const p of v.open) {
    out.push(`  ${p.paymentId}  ${p.state}  ${money(p.amountMinor, p.currency)} to ${payeeOf(p)}  by ${p.channel}`
      + `${p.reference ? `  ref "${p.reference}"` : ''}  age ${age(p.createdAt.getTime(), nowMs)}`);
  }
  out.push(`Last ${v.wallet.movements.length} movement(s) in and out, newest first:`);
  for (const m of v.wallet.movements) {
    const reference = v.references.get(m.paymentId);
    out.push(`  ${iso(m.at)}  ${m.amountMinor > 0n ? '+' : ''}${money(m.amountMinor, v.currency)}  ${masked(m.counterparty)}`
      + `  ${reference === undefined ? `ref ${m.paymentId}` : `payment ${m.paymentId}${reference ? ` ref "${reference}"` : ''}`}`);
  }
  return `${out.join('\n')}\n`;
}

function movementsWanted(last: string | undefined): number {
  if (last === undefined) return MOVEMENTS_DEFAULT;
  const n = /^\d{1,3}$/.test(last) ? Number(last) : 0;
  if (n < 1 || n > CARE_MOVEMENTS_MAX) usageError(`dialpay subscriber show: --last must be 1 to ${CARE_MOVEMENTS_MAX}`);
  return n;
}

async function show(config: Config, operatorId: string, msisdn: string, by: string, movementsMax: number): Promise<SubscriberView> {
  const currency = config.operators.find((o) => o.id === operatorId)?.currency as string;
  return lookUp(config, { by, command: 'subscriber show', subject: { operator: operatorId, msisdn: maskMsisdn(msisdn) } },
    async (client) => {
      const subscriber = await readCareSubscriber(client, msisdn);
      const { open, voidPendingIds } = await readOpenPayments(client, msisdn);
      const wallet = await readCareWallet(client, msisdn, currency, [...open.map((p) => p.paymentId), ...voidPendingIds], movementsMax);
      const references = await readPaymentReferences(client, wallet.movements.map((m) => m.paymentId));
      return { msisdn, operatorId, currency, subscriber, open, wallet, references };
    }, known);
}

export const subscriberShow: Command = {
  needsConfig: true,
  help: [
    ['subscriber show --operator ID --msisdn NUMBER --by AGENT [--last N] [--json]',
      "customer care: a subscriber's KYC tier, PIN state, wallet and held amounts, open",
      'payments, the last N (10; at most 100) movements in and out with their references;',
      "read-only, other people's numbers masked, logged (stderr) with AGENT's name"],
  ],
  async run({ config, values }) {
    const { operator, msisdn: number } = values;
    if (!operator || !number || !config.operators.some((o) => o.id === operator)) {
      usageError(`${USAGE}; operators: ${config.operators.map((o) => o.id).join(', ')}`);
    }
    const by = requireAgent(values, USAGE);
    const movementsMax = movementsWanted(values.last);
    const msisdn = careNumber(config, operator, number);
    if (!msisdn) {
      process.stderr.write(`dialpay: "${number}" is not a phone number of ${operator}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    const view = await show(config, operator, msisdn, by, movementsMax);
    if (!known(view)) {
      process.stderr.write(`dialpay: +${msisdn} is not known to dialpay: no subscriber record, no wallet, no movement\n`);
      process.exitCode = 1;
      return;
    }
    const nowMs = Date.now();
    process.stdout.write(values.json ? toJson(asJson(view, nowMs)) : asText(view, nowMs));
  },
};
