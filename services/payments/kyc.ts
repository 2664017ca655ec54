// `dialpay subscriber tier`: customer care, having checked a subscriber's identity documents, sets
// their KYC tier. The limits read the tier at each payment, so a change holds from the next one.
// A downgrade takes no money: the balance stays as it is, only what comes next is held to the lower
// tier's limits. Every change is appended to payments.kyc_tier_changes, which the database keeps
// append-only; setting the tier a subscriber already has changes nothing and is not recorded.
import type pg from 'pg';
import type { Config } from '../../runtime/config/index.js';
import { withTransaction } from '../../runtime/pg/index.js';
import { checkCareChange } from './care-change.js';
import { lockSubscriber } from './store.js';

export interface KycTierChange {
  readonly operatorId: string;
  /** As customer care types it: E.164 with or without '+', or national. */
  readonly msisdn: string;
  readonly tier: number;
  /** Who made the change (the customer-care agent). */
  readonly by: string;
  /** Where the evidence checked is kept (the operator's KYC record reference): never the document itself. */
  readonly evidence: string;
}

export type KycTierResult =
  | { readonly kind: 'changed'; readonly msisdn: string; readonly fromTier: number; readonly toTier: number }
  /** Already at that tier: nothing written, nothing recorded. */
  | { readonly kind: 'unchanged'; readonly msisdn: string; readonly tier: number }
  | { readonly kind: 'unknown-tier'; readonly tiers: readonly number[] }
  /** Not a phone number, or another operator's. */
  | { readonly kind: 'bad-number' }
  | { readonly kind: 'missing'; readonly field: 'by' | 'evidence' };

export async function setKycTier(pool: pg.Pool, config: Config, change: KycTierChange): Promise<KycTierResult> {
  const tiers = config.limits.tiers.map((t) => t.tier);
  if (!tiers.includes(change.tier)) return { kind: 'unknown-tier', tiers };
  const checked = checkCareChange(config, change, { field: 'evidence', value: change.evidence });
  if (!checked.ok) return checked.kind === 'missing' ? { kind: 'missing', field: checked.field } : { kind: 'bad-number' };
  const { operator, msisdn, by, reference: evidence } = checked;
  return withTransaction(pool, 'READ COMMITTED', async (client) => {
    // A subscriber not seen yet gets their row now (tier 0, as the default), locked as a payment's limit check
    // locks it: a change and a payment's check never interleave.
    const fromTier = (await lockSubscriber(client, msisdn, operator.defaultLanguage)).kyc_tier;
    if (fromTier === change.tier) return { kind: 'unchanged', msisdn, tier: fromTier };
    await client.query('UPDATE payments.subscribers SET kyc_tier = $2, updated_at = now() WHERE msisdn = $1', [msisdn, change.tier]);
    await client.query(
      `INSERT INTO payments.kyc_tier_changes (operator_id, msisdn, from_tier, to_tier, changed_by, evidence_ref)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [operator.id, msisdn, fromTier, change.tier, by, evidence],
    );
    return { kind: 'changed', msisdn, fromTier, toTier: change.tier };
  });
}
