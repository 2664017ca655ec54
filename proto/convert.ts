// Conversions at the proto edge for what the generated types leave loose:
// int64 instants (Long on the wire, a number of Unix ms or a Date here) and
// enums (a plain number that may be UNSPECIFIED or a value this build does
// not know). Every edge uses these instead of casting.
import Long from 'long';
import type { dialpay } from './gen/dialpay.js';

/** An int64 field as the decoder gives it, or as a caller may have built it. */
export type Int64Like = Long | number | null | undefined;

/** An int64 field as it arrives from the decoder, converted to bigint. */
export function int64ToBigInt(value: Int64Like): bigint {
  if (value === null || value === undefined) return 0n;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`int64 is not a safe integer: ${value}`);
    return BigInt(value);
  }
  return BigInt(value.toString());
}

/** A bigint as the encoder wants it for an int64 field. */
export function bigIntToInt64(value: bigint): Long {
  if (value > 0x7fffffffffffffffn || value < -0x8000000000000000n) {
    throw new RangeError(`value does not fit int64: ${value}`);
  }
  return Long.fromString(value.toString(), false);
}

export interface MoneyMinor {
  readonly amountMinor: bigint;
  readonly currency: string;
}

export function moneyFromProto(money: dialpay.v1.IMoney | null | undefined): MoneyMinor {
  if (!money || !money.currency) throw new ContractError('money is missing or has no currency');
  return { amountMinor: int64ToBigInt(money.amountMinor), currency: money.currency };
}

/** moneyFromProto, or null where it throws (no money, no currency, an amount out of range): for a request refused, not failed. */
export function moneyFromProtoOrNull(money: dialpay.v1.IMoney | null | undefined): MoneyMinor | null {
  try {
    return moneyFromProto(money);
  } catch {
    return null;
  }
}

export function moneyToProto(money: MoneyMinor): dialpay.v1.IMoney {
  return { amountMinor: bigIntToInt64(money.amountMinor), currency: money.currency };
}

/** A message broke a contract rule that the proto type cannot express. */
export class ContractError extends Error {
  override readonly name: string = 'ContractError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An instant in Unix ms (a number, a bigint or a Date) as an int64 field wants it. */
export function unixMsToProto(instant: number | bigint | Date): Long {
  const ms = instant instanceof Date ? instant.getTime() : instant;
  if (typeof ms === 'number' && !Number.isSafeInteger(ms)) throw new RangeError(`unix ms is not a safe integer: ${ms}`);
  return bigIntToInt64(BigInt(ms));
}

/** An int64 Unix ms field as a number; 0 when unset. Throws past Number.MAX_SAFE_INTEGER (no real instant). */
export function unixMsFromProto(value: Int64Like): number {
  const ms = int64ToBigInt(value);
  if (ms > BigInt(Number.MAX_SAFE_INTEGER) || ms < BigInt(Number.MIN_SAFE_INTEGER)) throw new RangeError(`unix ms out of range: ${ms}`);
  return Number(ms);
}

/** An int64 Unix ms field as a Date; null when unset (0). */
export function dateFromProto(value: Int64Like): Date | null {
  const ms = unixMsFromProto(value);
  return ms === 0 ? null : new Date(ms);
}

/** An enum field held a value its contract does not allow: UNSPECIFIED where one is required, or one this build does not know. */
export class EnumValueError extends ContractError {
  override readonly name = 'EnumValueError';
  constructor(readonly field: string, readonly value: number | null | undefined, readonly reason: 'unspecified' | 'unknown') {
    super(reason === 'unspecified' ? `${field} is UNSPECIFIED` : `${field} has unknown value ${String(value)}`);
  }
}

/** A generated enum object: names to numbers, and numbers back to names. */
type EnumObject = Record<string, number | string>;
type EnumValue<E extends EnumObject> = Extract<E[keyof E], number>;

/** The name of an enum value (SMS_KIND_CHALLENGE); undefined for one this build does not know. */
export function enumValueName(enumObject: EnumObject, value: number | null | undefined): string | undefined {
  const name: unknown = value === null || value === undefined ? undefined : enumObject[value];
  return typeof name === 'string' ? name : undefined;
}

function isKnown(enumObject: EnumObject, value: number): boolean {
  return enumValueName(enumObject, value) !== undefined;
}

/**
 * An enum field that must say something: rejects UNSPECIFIED (0, or unset) and values this build
 * does not know, both a producer's bug, with an EnumValueError naming the field.
 */
export function requireEnum<E extends EnumObject>(
  enumObject: E, value: number | null | undefined, field: string,
): Exclude<EnumValue<E>, 0> {
  if (value === null || value === undefined || value === 0) throw new EnumValueError(field, value, 'unspecified');
  if (!isKnown(enumObject, value)) throw new EnumValueError(field, value, 'unknown');
  return value as Exclude<EnumValue<E>, 0>;
}

/**
 * An enum field whose UNSPECIFIED has a documented meaning (a default, "not applicable"): answers
 * it as 0, and still rejects a value this build does not know.
 */
export function knownEnum<E extends EnumObject>(enumObject: E, value: number | null | undefined, field: string): EnumValue<E> | 0 {
  if (value === null || value === undefined || value === 0) return 0;
  if (!isKnown(enumObject, value)) throw new EnumValueError(field, value, 'unknown');
  return value as EnumValue<E>;
}
