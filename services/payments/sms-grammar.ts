// The SMS command language, English and French, tolerant of case and extra
// spaces. Pure: text and the operator's context in, a typed command out. The
// parser never guesses with money: anything unclear is `invalid`, and the
// subscriber gets HELP in their language.
import { toE164 } from '../../runtime/msisdn.js';
import { parseAmount } from '../../runtime/money.js';
import type { Language } from '../../runtime/language.js';

export type SmsCommand =
  | {
    readonly kind: 'pay'; readonly language: Language; readonly merchantCode: string; readonly amountMinor: bigint;
    readonly reference: string;
  }
  | { readonly kind: 'send'; readonly language: Language; readonly payeeMsisdn: string; readonly amountMinor: bigint }
  /** AIRTIME <amount> [number] (CREDIT in French): airtime for the number, else for the sender's own line (null). */
  | { readonly kind: 'airtime'; readonly language: Language; readonly amountMinor: bigint; readonly targetMsisdn: string | null }
  /** DEP <number> <amount> (DEPOT in French): an agent's cash-in to the number's wallet (cash.ts). */
  | { readonly kind: 'deposit'; readonly language: Language; readonly payeeMsisdn: string; readonly amountMinor: bigint }
  /** WITHDRAW <agent> <amount> (RETRAIT in French): a subscriber's cash-out at that agent (cash.ts). */
  | { readonly kind: 'withdraw'; readonly language: Language; readonly agentId: string; readonly amountMinor: bigint }
  | { readonly kind: 'balance'; readonly language: Language }
  | { readonly kind: 'help'; readonly language: Language }
  | { readonly kind: 'stop'; readonly language: Language }
  | { readonly kind: 'language'; readonly language: Language }
  | { readonly kind: 'confirm'; readonly language: Language; readonly code: string }
  /** A bare 4-6 digit reply: the PIN, when a PIN challenge is open. */
  | { readonly kind: 'pin'; readonly pin: string }
  | { readonly kind: 'invalid'; readonly language: Language; readonly reason: InvalidReason };

export const InvalidReason = {
  EMPTY: 'empty',
  UNKNOWN_COMMAND: 'unknown-command',
  MISSING_ARGUMENT: 'missing-argument',
  BAD_AMOUNT: 'bad-amount',
  BAD_MERCHANT: 'bad-merchant',
  BAD_MSISDN: 'bad-msisdn',
  BAD_AGENT: 'bad-agent',
  BAD_CODE: 'bad-code',
  BAD_LANGUAGE: 'bad-language',
  TOO_LONG: 'too-long',
} as const;
export type InvalidReason = (typeof InvalidReason)[keyof typeof InvalidReason];

export interface GrammarContext {
  readonly currency: string;
  readonly countryCallingCode: string;
  /** The subscriber's saved language, used when the text itself does not tell. */
  readonly defaultLanguage: Language;
}

/** Longest SMS we parse: a 16-part concatenated UCS-2 message, far beyond any command. */
export const COMMAND_TEXT_LENGTH_MAX = 1_100;
const REFERENCE_LENGTH_MAX = 40;
const MERCHANT_CODE = /^[A-Z0-9][A-Z0-9_-]{1,31}$/;
const ONE_TIME_CODE = /^\d{4,8}$/;
const PIN = /^\d{4,6}$/;
/** An agent's id as registered (payments.agents): AG1001. */
export const AGENT_ID = /^[A-Z0-9-]{2,32}$/;

type KeywordCommand = 'pay' | 'send' | 'airtime' | 'deposit' | 'withdraw' | 'balance' | 'help' | 'stop' | 'language' | 'confirm';
const KEYWORDS: Readonly<Record<string, { readonly command: KeywordCommand; readonly language: Language | null }>> = {
  PAY: { command: 'pay', language: 'en' },
  PAYER: { command: 'pay', language: 'fr' },
  SEND: { command: 'send', language: 'en' },
  ENVOYER: { command: 'send', language: 'fr' },
  AIRTIME: { command: 'airtime', language: 'en' },
  CREDIT: { command: 'airtime', language: 'fr' },
  CRÉDIT: { command: 'airtime', language: 'fr' },
  DEP: { command: 'deposit', language: 'en' },
  DEPOSIT: { command: 'deposit', language: 'en' },
  DEPOT: { command: 'deposit', language: 'fr' },
  DÉPÔT: { command: 'deposit', language: 'fr' },
  WITHDRAW: { command: 'withdraw', language: 'en' },
  RETRAIT: { command: 'withdraw', language: 'fr' },
  BAL: { command: 'balance', language: 'en' },
  BALANCE: { command: 'balance', language: 'en' },
  SOLDE: { command: 'balance', language: 'fr' },
  HELP: { command: 'help', language: 'en' },
  AIDE: { command: 'help', language: 'fr' },
  STOP: { command: 'stop', language: null },
  ARRET: { command: 'stop', language: 'fr' },
  ARRÊT: { command: 'stop', language: 'fr' },
  LANG: { command: 'language', language: null },
  LANGUE: { command: 'language', language: 'fr' },
  YES: { command: 'confirm', language: 'en' },
  OUI: { command: 'confirm', language: 'fr' },
};

export function parseSmsCommand(text: string, context: GrammarContext): SmsCommand {
  const fallback = context.defaultLanguage;
  if (text.length > COMMAND_TEXT_LENGTH_MAX) return { kind: 'invalid', language: fallback, reason: InvalidReason.TOO_LONG };
  const words = text.normalize('NFC').trim().split(/\s+/).filter((w) => w !== '');
  const first = words[0];
  if (first === undefined) return { kind: 'invalid', language: fallback, reason: InvalidReason.EMPTY };
  if (words.length === 1 && PIN.test(first)) return { kind: 'pin', pin: first };
  const keyword = KEYWORDS[first.toUpperCase()];
  if (!keyword) return { kind: 'invalid', language: fallback, reason: InvalidReason.UNKNOWN_COMMAND };
  const language = keyword.language ?? fallback;
  const args = words.slice(1);
  const invalid = (reason: InvalidReason): SmsCommand => ({ kind: 'invalid', language, reason });
  switch (keyword.command) {
    case 'pay': {
      const [merchant, amount, ...rest] = args;
      if (merchant === undefined || amount === undefined) return invalid(InvalidReason.MISSING_ARGUMENT);
      const merchantCode = merchant.toUpperCase();
      if (!MERCHANT_CODE.test(merchantCode)) return invalid(InvalidReason.BAD_MERCHANT);
      const amountMinor = parseAmount(amount, context.currency);
      if (amountMinor === null) return invalid(InvalidReason.BAD_AMOUNT);
      const reference = rest.join(' ');
      if (reference.length > REFERENCE_LENGTH_MAX) return invalid(InvalidReason.TOO_LONG);
      return { kind: 'pay', language, merchantCode, amountMinor, reference };
    }
    case 'send': {
      const [number, amount, ...rest] = args;
      if (number === undefined || amount === undefined) return invalid(InvalidReason.MISSING_ARGUMENT);
      if (rest.length > 0) return invalid(InvalidReason.BAD_AMOUNT); // "SEND 0712 345 678 200": refuse, do not guess
      const payeeMsisdn = toE164(number, context.countryCallingCode);
      if (payeeMsisdn === null) return invalid(InvalidReason.BAD_MSISDN);
      const amountMinor = parseAmount(amount, context.currency);
      if (amountMinor === null) return invalid(InvalidReason.BAD_AMOUNT);
      return { kind: 'send', language, payeeMsisdn, amountMinor };
    }
    case 'deposit':
    case 'withdraw':
      return parseCashCommand(keyword.command, language, args, context);
    case 'airtime': {
      const [amount, number, ...rest] = args;
      if (amount === undefined) return invalid(InvalidReason.MISSING_ARGUMENT);
      if (rest.length > 0) return invalid(InvalidReason.BAD_MSISDN); // "AIRTIME 50 0712 345 678": refuse, do not guess
      const amountMinor = parseAmount(amount, context.currency);
      if (amountMinor === null) return invalid(InvalidReason.BAD_AMOUNT);
      if (number === undefined) return { kind: 'airtime', language, amountMinor, targetMsisdn: null };
      const targetMsisdn = toE164(number, context.countryCallingCode);
      if (targetMsisdn === null) return invalid(InvalidReason.BAD_MSISDN);
      return { kind: 'airtime', language, amountMinor, targetMsisdn };
    }
    case 'confirm': {
      const [code, ...rest] = args;
      if (code === undefined) return invalid(InvalidReason.MISSING_ARGUMENT);
      if (rest.length > 0 || !ONE_TIME_CODE.test(code)) return invalid(InvalidReason.BAD_CODE);
      return { kind: 'confirm', language, code };
    }
    case 'language': {
      const choice = args[0]?.toUpperCase();
      if (args.length !== 1 || (choice !== 'EN' && choice !== 'FR')) return invalid(InvalidReason.BAD_LANGUAGE);
      return { kind: 'language', language: choice === 'EN' ? 'en' : 'fr' };
    }
    case 'balance':
    case 'help':
    case 'stop':
      return args.length === 0 ? { kind: keyword.command, language } : invalid(InvalidReason.UNKNOWN_COMMAND);
  }
}

/** DEP <number> <amount> and WITHDRAW <agent> <amount> (cash.ts): the same shape, a party then an amount, nothing after. */
function parseCashCommand(
  command: 'deposit' | 'withdraw', language: Language, args: readonly string[], context: GrammarContext,
): SmsCommand {
  const invalid = (reason: InvalidReason): SmsCommand => ({ kind: 'invalid', language, reason });
  const [party, amount, ...rest] = args;
  if (party === undefined || amount === undefined) return invalid(InvalidReason.MISSING_ARGUMENT);
  if (rest.length > 0) return invalid(InvalidReason.BAD_AMOUNT); // "DEP 0712 345 678 200": refuse, do not guess
  let payeeMsisdn: string | null = null;
  const agentId = party.toUpperCase();
  if (command === 'deposit') {
    payeeMsisdn = toE164(party, context.countryCallingCode);
    if (payeeMsisdn === null) return invalid(InvalidReason.BAD_MSISDN);
  } else if (!AGENT_ID.test(agentId)) return invalid(InvalidReason.BAD_AGENT);
  const amountMinor = parseAmount(amount, context.currency);
  if (amountMinor === null) return invalid(InvalidReason.BAD_AMOUNT);
  return payeeMsisdn !== null ? { kind: 'deposit', language, payeeMsisdn, amountMinor }
    : { kind: 'withdraw', language, agentId, amountMinor };
}

/** What stands for each run of digits in a masked text: the same width whatever the secret's length. */
export const SECRET_MASK = '****';
/**
 * Commands a replay needs as typed: PAY, SEND, AIRTIME, DEP and WITHDRAW (their digits are an amount,
 * a number, an agent), and those that carry no digits.
 */
const KEPT_AS_TYPED: ReadonlySet<SmsCommand['kind']> = new Set([
  'pay', 'send', 'airtime', 'deposit', 'withdraw', 'balance', 'help', 'stop', 'language',
]);
/** Any decimal digit, not only ASCII: a PIN typed in another script is still a PIN. */
const DIGIT_RUN = /\p{Nd}+/gu;

/**
 * A subscriber's text with its secrets masked, for what is kept after payments is done with it
 * (the dead-letter stream). Inverted on purpose: every run of digits becomes **** unless the text
 * parses (parseSmsCommand, in the sender's operator context) as a command a replay needs as typed.
 * So a confirmation or PIN however it is typed ("YES 4821", "4821 yes", "YS 4821", "PIN 4821",
 * "my code is 4821", "35 79") keeps no digit, with no list of spellings to fall behind.
 */
export function maskSmsSecrets(text: string, context: GrammarContext): string {
  if (KEPT_AS_TYPED.has(parseSmsCommand(text, context).kind)) return text;
  return text.replace(DIGIT_RUN, SECRET_MASK);
}
