// The SMS command language, English and French, tolerant of case and extra
// spaces. Pure: text and the operator's context in, a typed command out. The
// parser never guesses with money: anything unclear is `invalid`, and the
// subscriber gets HELP in their language.
import { toE164 } from '../../runtime/msisdn.js';
import { parseAmount } from '../../runtime/money.js';

export type Language = 'en' | 'fr';

export type SmsCommand =
  | { readonly kind: 'pay'; readonly language: Language; readonly merchantCode: string; readonly amountMinor: bigint; readonly reference: string }
  | { readonly kind: 'send'; readonly language: Language; readonly payeeMsisdn: string; readonly amountMinor: bigint }
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

const KEYWORDS: Readonly<Record<string, { readonly command: 'pay' | 'send' | 'balance' | 'help' | 'stop' | 'language' | 'confirm'; readonly language: Language | null }>> = {
  PAY: { command: 'pay', language: 'en' },
  PAYER: { command: 'pay', language: 'fr' },
  SEND: { command: 'send', language: 'en' },
  ENVOYER: { command: 'send', language: 'fr' },
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

/** What stands for each run of digits in a masked text: the same width whatever the secret's length. */
export const SECRET_MASK = '****';
const CONFIRM_KEYWORDS = Object.keys(KEYWORDS).filter((k) => KEYWORDS[k]?.command === 'confirm');
/**
 * A confirmation however it is typed: after any leading spaces or punctuation ('"YES', "-oui"), a
 * confirm keyword not followed by a letter ("YESTERDAY" is a word, not a confirmation), then
 * anything: "Yes, 4821", "YES:4821", "yes-4821", "YES4821", "OUI: 48 21".
 */
const CONFIRM_LIKE = new RegExp(`^[\\s\\p{P}\\p{S}]*(?:${CONFIRM_KEYWORDS.join('|')})(?!\\p{L})`, 'iu');
/** Nothing but digits (and the separators a thumb adds): a PIN or a code, also a mistyped one. */
const BARE_DIGITS = /^[\s\d.,*#+-]*\d[\s\d.,*#+-]*$/;

/**
 * A subscriber's text with its secrets masked, for what is kept after payments is done with it
 * (the dead-letter stream): every run of digits in a confirmation ("YES 4821", "Yes, 4821",
 * "oui 90210833", "YES4821") or in a text of bare digits ("3579", "35 79") becomes ****. Every run,
 * however short: a code typed in pieces ("YES 48 21") leaks in runs of two, and a confirmation has
 * no other digits worth keeping. Wider than the grammar on purpose: a mistyped PIN is still most of
 * a PIN. Anything else ("PAY SHOP42 500", which a replay needs whole) is left as it is.
 */
export function maskSmsSecrets(text: string): string {
  const trimmed = text.normalize('NFC').trim();
  if (!CONFIRM_LIKE.test(trimmed) && !BARE_DIGITS.test(trimmed)) return text;
  return text.replace(/\d+/g, SECRET_MASK);
}
