// The payment flows of the menu (pay, send, airtime, withdraw, deposit): the
// amount, then the PIN (asked last), a confirmation with amount, fee and payee,
// and done or cancelled.
import { fundingFromProto, moneyFromProto, moneyToProto, type dialpay } from '../../proto/index.js';
import { formatAmount, parseAmount } from '../../runtime/money.js';
import { toE164 } from '../../runtime/msisdn.js';
import { SCREEN_CHARS_MAX } from './screens.js';
import { cashConfirmText, confirmText, type TextKey } from './texts.js';
import { Outcome, PIN_PATTERN, ask, askOrUnsure, con, end, pinNext, type Fact, type Screen, type StateDef, type Walk } from './walk.js';

/** dialpay.v1.PayeeKind, by the menu's name for it. */
const PAYEE_KINDS = {
  merchant: 1, subscriber: 2, airtime: 3, agent: 4,
} as const satisfies Record<string, dialpay.v1.PayeeKind>;

/** withdraw: cash out at an agent; deposit: an agent's cash-in to a wallet (cash.ts in payments keeps their rules). */
export type Flow = 'pay' | 'send' | 'airtime' | 'withdraw' | 'deposit';

/** The screen that sends the subscriber's "1 Confirm" to payments (`<flow>.done`). */
export function isConfirmationState(state: string): boolean {
  return /^(pay|send|airtime|withdraw|deposit)\.done$/.test(state);
}

interface Payment {
  readonly payeeKind: keyof typeof PAYEE_KINDS;
  readonly payeeId: string;
  readonly amountText: string;
  readonly reference: string;
  readonly shown: string;
}

/** Who a flow pays and how much, from the answers on the path. */
function paymentOf(flow: Flow, walk: Walk): Payment {
  const { operator, msisdn } = walk.context;
  const e164 = (state: string) => toE164(walk.enteredWith(state), operator.countryCallingCode);
  switch (flow) {
    case 'pay': {
      const reference = walk.enteredWith('pay.pin');
      return {
        payeeKind: 'merchant', payeeId: walk.enteredWith('pay.amount').toUpperCase(),
        amountText: walk.enteredWith('pay.reference'), reference: reference === '0' ? '' : reference, shown: '',
      };
    }
    case 'send':
      return {
        payeeKind: 'subscriber', payeeId: e164('send.amount') ?? '', amountText: walk.enteredWith('send.pin'),
        reference: '', shown: '',
      };
    case 'airtime': {
      const target = walk.visited('airtime.msisdn') ? (e164('airtime.amount') ?? msisdn) : msisdn;
      return {
        payeeKind: 'airtime', payeeId: target, amountText: walk.enteredWith('airtime.pin'), reference: '', shown: `+${target}`,
      };
    }
    case 'withdraw':
      return {
        payeeKind: 'agent', payeeId: walk.enteredWith('withdraw.amount').trim().toUpperCase(),
        amountText: walk.enteredWith('withdraw.pin'), reference: '', shown: '',
      };
    case 'deposit':
      return {
        payeeKind: 'subscriber', payeeId: e164('deposit.amount') ?? '', amountText: walk.enteredWith('deposit.pin'),
        reference: '', shown: '',
      };
  }
}

export function amountState(flow: Flow, after: string): StateDef {
  return {
    screen: (_f, walk) => con(walk.t('amount', { currency: walk.context.operator.currency })),
    next: (input, _f, walk) => (
      parseAmount(input, walk.context.operator.currency) !== null ? after : { invalid: 'invalidAmount' }),
  };
}

/** Arriving at the confirmation screen: payments starts the payment and says its amount, fee and payee. */
async function startPayment(flow: Flow, walk: Walk): Promise<Fact> {
  const p = paymentOf(flow, walk);
  const pin = walk.pinAnswer(`${flow}.confirm`);
  // A masked PIN is never this hop's answer; asking with none would count as a wrong PIN.
  if (pin === '') return { outcome: Outcome.UNAVAILABLE };
  const currency = walk.context.operator.currency;
  const amountMinor = parseAmount(p.amountText, currency) ?? 0n;
  const r = await ask(walk, {
    startPayment: {
      // One payment per arrival at this screen, whatever the retries of the hop.
      requestId: `${walk.context.dialogueId}#${walk.factKey}`,
      payeeKind: PAYEE_KINDS[p.payeeKind], payeeId: p.payeeId, reference: p.reference,
      amount: moneyToProto({ amountMinor, currency }), pin, language: walk.language, cashIn: flow === 'deposit',
    },
  });
  return {
    outcome: r.outcome ?? 0, paymentId: r.paymentId ?? '', text: r.text ?? '', left: r.attemptsLeft ?? 0,
    amountMinor: r.amount ? String(moneyFromProto(r.amount).amountMinor) : '0',
    feeMinor: r.fee ? String(moneyFromProto(r.fee).amountMinor) : '0',
    payee: p.shown || (r.payeeName ?? ''), reference: p.reference, funding: fundingFromProto(r.funding) ?? '',
    totalMinor: r.total ? String(moneyFromProto(r.total).amountMinor) : undefined,
  };
}

/** The confirmation of a started payment: amount, fee, payee (and total for cash), with 1 to confirm and 2 to cancel. */
function confirmationText(flow: Flow, fact: Fact, walk: Walk): string {
  const currency = walk.context.operator.currency;
  const money = (minor: unknown) => formatAmount(BigInt(String(minor ?? '0')), currency, walk.language);
  if (flow === 'withdraw' || flow === 'deposit') {
    return cashConfirmText(walk.language, flow === 'withdraw' ? 'cash-out' : 'cash-in', {
      amount: money(fact.amountMinor), fee: money(fact.feeMinor), total: money(fact.totalMinor ?? fact.amountMinor),
      payee: String(fact.payee),
    }, SCREEN_CHARS_MAX);
  }
  const verb: TextKey = flow === 'pay' ? 'verbPay' : flow === 'send' ? 'verbSend' : 'verbAirtime';
  return confirmText(walk.language, {
    what: walk.t(verb), amount: formatAmount(BigInt(fact.amountMinor as string), currency, walk.language),
    fee: formatAmount(BigInt(fact.feeMinor as string), currency, walk.language), payee: String(fact.payee),
    reference: flow === 'pay' ? String(fact.reference) : '',
  }, fact.funding === 'wallet' || fact.funding === 'carrier' ? fact.funding : null, walk.context.operator.name, SCREEN_CHARS_MAX);
}

function confirmScreen(flow: Flow, fact: Fact | undefined, walk: Walk): Screen {
  switch (fact?.outcome) {
    case Outcome.OK:
      return con(confirmationText(flow, fact, walk));
    case Outcome.WRONG_PIN:
      return con(walk.t('wrongPin', { left: String(fact.left) }));
    case Outcome.PIN_LOCKED:
      return end(walk.t('pinLocked'));
    case Outcome.REFUSED:
      return end(String(fact.text) || walk.t('unavailable'));
    case undefined:
      return end(walk.t('sessionLost'));
    default:
      return end(walk.t('unavailable'));
  }
}

/** The PIN (asked last), then a confirmation screen with amount, fee and payee; then done or cancelled. */
export function paymentStates(flow: Flow): Record<string, StateDef> {
  const paymentId = (walk: Walk) => String(walk.factOf(`${flow}.confirm`)?.paymentId ?? '');
  return {
    [`${flow}.pin`]: { screen: (_f, walk) => con(walk.t('enterPin')), next: pinNext(`${flow}.confirm`) },
    [`${flow}.confirm`]: {
      load: (walk) => startPayment(flow, walk),
      screen: (fact, walk) => confirmScreen(flow, fact, walk),
      next: (input, fact) => {
        if (fact?.outcome === Outcome.WRONG_PIN) return PIN_PATTERN.test(input) ? `${flow}.confirm` : { invalid: 'invalidPin' };
        if (input === '1') return `${flow}.done`;
        if (input === '2') return `${flow}.cancel`;
        return { invalid: 'invalidChoice' };
      },
    },
    [`${flow}.done`]: {
      load: async (walk) => {
        const { reply: r, unsure } = await askOrUnsure(walk, { confirmPayment: { paymentId: paymentId(walk) } });
        return { outcome: r.outcome ?? 0, text: r.text ?? '', ...(unsure ? { unsure: true } : {}) };
      },
      screen: (fact, walk) => {
        if (fact?.outcome === Outcome.OK) return end(walk.t('submitted'));
        // The confirmation may have reached payments: "try again" could make the subscriber pay twice.
        if (fact?.unsure === true) return end(walk.t('confirmUnsure'));
        if (fact?.outcome === Outcome.ENDED && fact.text) return end(String(fact.text));
        return end(walk.t(fact ? 'unavailable' : 'sessionLost'));
      },
    },
    [`${flow}.cancel`]: {
      load: async (walk) => {
        const r = await ask(walk, { cancelPayment: { paymentId: paymentId(walk) } });
        return { outcome: r.outcome ?? 0 };
      },
      screen: (fact, walk) => end(walk.t(fact?.outcome === Outcome.OK ? 'cancelled' : 'unavailable')),
    },
  };
}
