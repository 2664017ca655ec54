// The Idempotency-Key of every API POST (merchant API, operator API): one key,
// one reply, stored in payments.api_requests in the same transaction as what
// the call changed. Shared by merchant-commands.ts and credits.ts.
import type pg from 'pg';
import { dialpay } from '../../proto/index.js';
import { withTransaction } from '../../runtime/pg/index.js';
import * as merchantStore from './merchant-store.js';

const MerchantError = dialpay.v1.MerchantError;

/** Both APIs' replies carry the merchant API's error codes. */
export interface ApiReply {
  error?: dialpay.v1.MerchantError | null;
  detail?: string | null;
}

export interface ReplyCodec<R> {
  encode(reply: R): { finish(): Uint8Array };
  decode(bytes: Uint8Array): R;
}

/** Whose key: a merchant's id, or "operator:<id>" (config ids hold no ':', so the two never meet). */
export function operatorScope(operatorId: string): string {
  return `operator:${operatorId}`;
}

/**
 * Runs `call` once per (scope, key): the first request inserts the key's row and holds it until
 * commit; a concurrent one with the same key waits on the unique index, then reads the committed
 * reply. A reused key with another body is a conflict. `call` runs in the same transaction.
 */
export async function withIdempotencyKey<R extends ApiReply>(
  pool: pg.Pool, scope: string, key: string, bodySha256: Uint8Array | null | undefined, codec: ReplyCodec<R>,
  call: (client: pg.PoolClient, bodyHash: Buffer) => Promise<R>,
): Promise<R> {
  const bodyHash = Buffer.from(bodySha256 ?? []);
  if (key.length === 0 || key.length > 255 || bodyHash.length !== 32) {
    return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'Idempotency-Key and body hash are required' } as R;
  }
  return withTransaction(pool, 'READ COMMITTED', async (client) => {
    if (!(await merchantStore.claimApiRequest(client, scope, key, bodyHash))) {
      const prior = await merchantStore.priorApiRequest(client, scope, key);
      if (!prior || !prior.reply) {
        return { error: MerchantError.MERCHANT_ERROR_UNAVAILABLE, detail: 'the first request with this key is still being handled' } as R;
      }
      if (!prior.body_sha256.equals(bodyHash)) {
        return { error: MerchantError.MERCHANT_ERROR_IDEMPOTENCY_CONFLICT, detail: 'this Idempotency-Key was used with another body' } as R;
      }
      return codec.decode(prior.reply);
    }
    const reply = await call(client, bodyHash);
    // The call found the key's own record (credits keep theirs for good) with another body: this
    // body must not take the key over here, or the first body's retry would be the conflict.
    if (reply.error === MerchantError.MERCHANT_ERROR_IDEMPOTENCY_CONFLICT) await merchantStore.releaseApiRequest(client, scope, key);
    else await merchantStore.storeApiReply(client, scope, key, Buffer.from(codec.encode(reply).finish()));
    return reply;
  });
}
