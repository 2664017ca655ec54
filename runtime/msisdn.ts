// MSISDN normalisation to E.164 digits (no '+'), shared by the gateway (SMPP
// addresses) and payments (numbers typed in SEND). Pure.

export const E164_DIGITS_MAX = 15;
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

/**
 * Whether an E.164 number (digits, no '+') is one of this operator's: its country calling code
 * for now (calling codes are prefix-free, so a prefix test is exact); the operator's number
 * ranges join here once operators declare them. Pure.
 */
export function numberBelongsTo(operator: { readonly countryCallingCode: string }, e164: string): boolean {
  return e164.startsWith(operator.countryCallingCode);
}
