// The contracts package: generated code (proto/gen, built by `make proto`,
// never edited) plus the conversions every edge needs. int64 is generated as
// Long (--force-long) and becomes bigint here, so money is never a number.
import { dialpay } from './gen/dialpay.js';
import { enumValueName, requireEnum } from './convert.js';

export * from './convert.js';
export * from './secret-text.js';

export { dialpay };
export const v1 = dialpay.v1;

export type Envelope = dialpay.v1.IEnvelope;

/**
 * Converts a proto enum value to its name, rejecting UNSPECIFIED (0) and values this build does
 * not know (requireEnum): both mean a producer bug.
 */
export function enumName<E extends Record<string, number | string>>(
  enumObject: E, value: number | null | undefined, fieldName: string,
): string {
  return enumValueName(enumObject, requireEnum(enumObject, value, fieldName)) as string;
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
