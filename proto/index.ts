// The contracts package: generated code (proto/gen, built by `make proto`,
// never edited) plus the conversions every edge needs. int64 is generated as
// Long (--force-long) and becomes bigint here, so money is never a number.
import Long from 'long';
import { dialpay } from './gen/dialpay.js';

export { dialpay };
export const v1 = dialpay.v1;

export type Envelope = dialpay.v1.IEnvelope;

/** An int64 field as it arrives from the decoder, converted to bigint. */
export function int64ToBigInt(value: Long | number | null | undefined): bigint {
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
  return { amountMinor: int64ToBigInt(money.amountMinor as Long | number | null | undefined), currency: money.currency };
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
  override readonly name = 'ContractError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Converts a proto enum value to a friendly name, rejecting UNSPECIFIED (0)
 * and values this build does not know: both mean a producer bug.
 */
export function enumName<E extends Record<string, number | string>>(
  enumObject: E,
  value: number | null | undefined,
  fieldName: string,
): string {
  if (value === null || value === undefined || value === 0) {
    throw new ContractError(`${fieldName} is UNSPECIFIED`);
  }
  const name = (enumObject as Record<number, string | undefined>)[value];
  if (name === undefined) throw new ContractError(`${fieldName} has unknown value ${value}`);
  return name;
}

/** Where a debit's money comes from: the payer's dialpay wallet (our ledger) or their carrier account. */
export type Funding = 'wallet' | 'carrier' | 'agent-float';

/** FundingSource as the services name it; null when unspecified (billing then chooses, wallet first). */
export function fundingFromProto(value: dialpay.v1.FundingSource | null | undefined): Funding | null {
  if (value === dialpay.v1.FundingSource.FUNDING_SOURCE_WALLET) return 'wallet';
  if (value === dialpay.v1.FundingSource.FUNDING_SOURCE_CARRIER) return 'carrier';
  if (value === dialpay.v1.FundingSource.FUNDING_SOURCE_AGENT_FLOAT) return 'agent-float';
  return null;
}

export function fundingToProto(funding: Funding | null | undefined): dialpay.v1.FundingSource {
  if (funding === 'wallet') return dialpay.v1.FundingSource.FUNDING_SOURCE_WALLET;
  if (funding === 'carrier') return dialpay.v1.FundingSource.FUNDING_SOURCE_CARRIER;
  if (funding === 'agent-float') return dialpay.v1.FundingSource.FUNDING_SOURCE_AGENT_FLOAT;
  return dialpay.v1.FundingSource.FUNDING_SOURCE_UNSPECIFIED;
}
