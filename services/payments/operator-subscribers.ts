// The operator API's calls on its own subscribers: a KYC tier (kyc.ts) and a block (blocks.ts), the same
// rules as `dialpay subscriber tier` / `block` / `unblock`. Another operator's number is "not found": this
// operator learns nothing about it, and nothing changes. Setting what already holds answers "unchanged"
// (a PUT is idempotent by what it sets); a block's or unblock's POST keeps its reply under its Idempotency-Key.
import type pg from 'pg';
import { dialpay } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { maskMsisdn } from '../../runtime/log.js';
import { setBlockedIn } from './blocks.js';
import { operatorScope, withIdempotencyKey } from './api-idempotency.js';
import type { PaymentEngine } from './engine.js';
import { setKycTier } from './kyc.js';

const { MerchantError } = dialpay.v1;
const NOT_FOUND = { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: "no such subscriber in this operator's number ranges" };

export async function setOperatorKycTier(
  e: PaymentEngine, operator: OperatorConfig, set: dialpay.v1.ISetKycTier,
): Promise<dialpay.v1.IOperatorCommandReply> {
  const result = await setKycTier(e.pool, e.config,
    { operatorId: operator.id, msisdn: set.msisdn ?? '', tier: set.tier ?? 0, by: set.by ?? '', evidence: set.evidenceRef ?? '' });
  switch (result.kind) {
    case 'changed':
    case 'unchanged': {
      const changed = result.kind === 'changed';
      const [previousKycTier, kycTier] = result.kind === 'changed' ? [result.fromTier, result.toTier] : [result.tier, result.tier];
      e.log.info({ operatorId: operator.id, msisdn: maskMsisdn(result.msisdn), previousKycTier, kycTier, changed },
        'KYC tier set through the operator API');
      return { subscriber: { msisdn: `+${result.msisdn}`, kycTier, previousKycTier, changed } };
    }
    case 'unknown-tier':
      return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: `no such KYC tier; the tiers are: ${result.tiers.join(', ')}` };
    case 'missing':
      return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: `${result.field === 'by' ? 'by' : 'evidenceRef'} must not be empty` };
    case 'bad-number':
      return NOT_FOUND;
  }
}

/** A POST: under its Idempotency-Key, so a retry after a later change answers as the first call did and changes nothing. */
export function setOperatorBlock(
  e: PaymentEngine, operator: OperatorConfig, request: dialpay.v1.IOperatorCommandRequest, set: dialpay.v1.ISetSubscriberBlock,
): Promise<dialpay.v1.IOperatorCommandReply> {
  return withIdempotencyKey(e.pool, operatorScope(operator.id), request.idempotencyKey ?? '', request.bodySha256,
    dialpay.v1.OperatorCommandReply, (client) => blockIn(e, client, operator, set));
}

async function blockIn(
  e: PaymentEngine, client: pg.PoolClient, operator: OperatorConfig, set: dialpay.v1.ISetSubscriberBlock,
): Promise<dialpay.v1.IOperatorCommandReply> {
  const result = await setBlockedIn(client, e.config,
    { operatorId: operator.id, msisdn: set.msisdn ?? '', by: set.by ?? '', reason: set.reason ?? '' }, set.blocked === true);
  switch (result.kind) {
    case 'changed':
    case 'unchanged': {
      const changed = result.kind === 'changed';
      e.log.info({ operatorId: operator.id, msisdn: maskMsisdn(result.msisdn), blocked: result.blocked, changed },
        'subscriber block set through the operator API');
      return { subscriber: { msisdn: `+${result.msisdn}`, blocked: result.blocked, changed } };
    }
    case 'missing':
      return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: `${result.field} must not be empty` };
    case 'bad-number':
      return NOT_FOUND;
  }
}
