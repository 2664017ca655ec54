// MSISDN normalisation to E.164 digits (no '+'), shared by the gateway (SMPP
// addresses) and payments (numbers typed in SEND). Pure.

export const E164_DIGITS_MAX = 15;
const E164_DIGITS = /^\d{7,15}$/;

/** Whether a value is an E.164 number as dialpay keeps them: 7 to 15 digits, no '+'. Pure. */
export function isE164(value: string): boolean {
  return E164_DIGITS.test(value);
}
const NATIONAL_DIGITS_MIN = 6;

/**
 * Normalises a number as written by a subscriber or an SMSC. `ton` 1 means
 * international already. Returns null when it cannot be a phone number.
 */
export function toE164(address: string, countryCallingCode: string, ton = 0): string | null {
  const trimmed = address.trim();
  const plus = trimmed.startsWith('+');
  const digits = trimmed.replace(/[\s\-().]/g, '').replace(/^\+/, '');
  if (!/^\d+$/.test(digits)) return null;
  let e164: string;
  if (plus || ton === 1) e164 = digits;
  else if (digits.startsWith('00')) e164 = digits.slice(2);
  else if (digits.startsWith('0')) e164 = countryCallingCode + digits.slice(1);
  else if (digits.startsWith(countryCallingCode) && digits.length > countryCallingCode.length + NATIONAL_DIGITS_MIN) e164 = digits;
  else e164 = countryCallingCode + digits;
  if (e164.length < countryCallingCode.length + NATIONAL_DIGITS_MIN || e164.length > E164_DIGITS_MAX) return null;
  return e164;
}

/** What the number-range functions need of an operator: its id and its E.164 prefixes (digits, no '+'). */
export interface RangedOperator {
  readonly id: string;
  readonly numberRanges: readonly string[];
}

/**
 * The operator an E.164 number (digits, no '+') belongs to: the one holding the longest of its
 * declared prefixes that starts the number, or null when none does. Overlapping ranges are
 * allowed and resolve this way (an operator may hold +2547 while another holds +25473); the same
 * prefix held by two operators is a config error, so there is never a tie. Pure.
 */
export function operatorForNumber<O extends RangedOperator>(operators: readonly O[], e164: string): O | null {
  let best: O | null = null;
  let bestLength = 0;
  for (const operator of operators) {
    for (const prefix of operator.numberRanges) {
      if (prefix.length > bestLength && e164.startsWith(prefix)) {
        best = operator;
        bestLength = prefix.length;
      }
    }
  }
  return best;
}

/**
 * Whether an E.164 number is this operator's: it falls in the operator's ranges and no other
 * operator of `operators` holds a longer prefix of it. With no list, only the operator's own
 * ranges are looked at. Pure.
 */
export function numberBelongsTo(operator: RangedOperator, e164: string, operators: readonly RangedOperator[] = [operator]): boolean {
  return operatorForNumber(operators.includes(operator) ? operators : [...operators, operator], e164)?.id === operator.id;
}
