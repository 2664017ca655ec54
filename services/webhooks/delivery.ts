// Delivers one merchant event: the JSON body, signed, POSTed with a timeout.
// A 2xx is done; anything else throws, and the consumer retries on the
// webhook schedule (hours), then dead-letters. Each event carries its id in
// the body and in Dialpay-Event-Id, so a merchant drops repeats.
import type { dialpay } from '../../proto/index.js';
import { unixMsFromProto } from '../../proto/index.js';
import {
  merchantMandateJson, merchantPaymentJson, merchantPayoutJson, merchantRefundJson, merchantSettlementJson,
} from '../../proto/merchant-json.js';
import type { MerchantConfig } from '../../runtime/config/index.js';
import { SIGNATURE_HEADER, signatureHeader } from './signature.js';

export class WebhookRefusedError extends Error {
  constructor(status: number) {
    super(`the merchant's endpoint answered ${status}`);
    this.name = 'WebhookRefusedError';
  }
}

export function webhookBody(event: dialpay.v1.IMerchantEvent): string {
  const createdMs = unixMsFromProto(event.envelope?.occurredAtUnixMs);
  return JSON.stringify({
    id: event.envelope?.eventId,
    type: event.type,
    createdAt: new Date(createdMs > 0 ? createdMs : Date.now()).toISOString(),
    data: event.settlement
      ? { settlement: merchantSettlementJson(event.settlement) }
      : event.mandate
        ? { mandate: merchantMandateJson(event.mandate) }
        : event.payout
          ? { payout: merchantPayoutJson(event.payout) }
          : { payment: merchantPaymentJson(event.payment ?? {}), ...(event.refund ? { refund: merchantRefundJson(event.refund) } : {}) },
  });
}

/** POSTs the event's body (webhookBody); resolves on 2xx, throws otherwise (timeouts included). */
export async function deliver(
  merchant: MerchantConfig & { webhookUrl: string; webhookSecret: string }, event: dialpay.v1.IMerchantEvent,
  body: string, timeoutMs: number,
): Promise<number> {
  const res = await fetch(merchant.webhookUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'dialpay-webhooks/1',
      'dialpay-event-id': String(event.envelope?.eventId ?? ''),
      [SIGNATURE_HEADER]: signatureHeader(merchant.webhookSecret, body, Math.floor(Date.now() / 1000)),
    },
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
  await res.arrayBuffer().catch(() => undefined); // let the connection be reused
  if (res.status < 200 || res.status > 299) throw new WebhookRefusedError(res.status);
  return res.status;
}
