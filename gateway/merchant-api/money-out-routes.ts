// What a merchant is paid and pays out: payouts to subscribers' wallets, settlement lines and the
// available balance.
import type { FastifyInstance } from 'fastify';
import { dialpay, moneyFromProto, moneyToProto } from '../../proto/index.js';
import { merchantPayoutJson, merchantSettlementJson } from '../../proto/merchant-json.js';
import { Requests, requestReply } from '../../runtime/nats/index.js';
import { bodyHash } from './body-hash.js';
import { creditAnswer, waitForCredit } from './credits.js';
import { problem } from './problem.js';
import { idempotencyKeyOf, listBounds, type RouteContext } from './route-context.js';
import { PayoutBody, PayoutListQuery } from './schemas.js';

export function registerMoneyOutRoutes(app: FastifyInstance, api: RouteContext): void {
  // Payouts: money from the merchant's available balance to a subscriber's wallet. The answer waits
  // (merchantApi.creditWaitMs) for billing's: 201 booked, 409 over the balance (nothing moved), 202 not yet.
  app.post('/v1/payouts', { schema: { body: PayoutBody } }, async (request, reply) => {
    const body = request.body as { msisdn: string; amountMinor: number; currency: string; reference?: string };
    const answer = await api.ask(request, {
      idempotencyKey: idempotencyKeyOf(request), bodySha256: bodyHash({ payout: body }),
      createPayout: {
        msisdn: body.msisdn, amount: moneyToProto({ amountMinor: BigInt(body.amountMinor), currency: body.currency }),
        reference: body.reference ?? '',
      },
    });
    if ('problem' in answer) return api.send(reply, answer.problem);
    const payout = await waitForCredit(answer.reply.payout ?? {}, api.config.merchantApi.creditWaitMs, async () => {
      const read = await api.ask(request, { getPayout: { payoutId: answer.reply.payout?.payoutId ?? '' } });
      return 'problem' in read ? null : read.reply.payout ?? null;
    });
    const result = creditAnswer(payout, `/v1/payouts/${payout.payoutId}`);
    if ('problem' in result) return api.send(reply, result.problem);
    return reply.code(result.status).send(merchantPayoutJson(payout));
  });

  app.get('/v1/payouts/:id', async (request, reply) => {
    const answer = await api.ask(request, { getPayout: { payoutId: (request.params as { id: string }).id } });
    if ('problem' in answer) return api.send(reply, answer.problem);
    return merchantPayoutJson(answer.reply.payout ?? {});
  });

  app.get('/v1/payouts', { schema: { querystring: PayoutListQuery } }, async (request, reply) => {
    const q = request.query as { from?: string; to?: string; status?: string; cursor?: string; limit?: string };
    const answer = await api.ask(request, {
      listPayouts: { ...listBounds(q), status: q.status ?? '', cursor: q.cursor ?? '', limit: q.limit ? Number(q.limit) : 0 },
    });
    if ('problem' in answer) return api.send(reply, answer.problem);
    return { data: (answer.reply.payouts ?? []).map(merchantPayoutJson), nextCursor: answer.reply.nextCursor || null };
  });

  registerAccountRoutes(app, api);
}

/** Settlement lines and the balance: asked of settlement and billing directly (read-only, no idempotency). */
function registerAccountRoutes(app: FastifyInstance, api: RouteContext): void {
  const timeoutMs = api.config.merchantApi.requestTimeoutMs;
  app.get('/v1/settlements', async (request, reply) => {
    if (!request.merchant) return api.send(reply, problem('unauthorized'));
    let answer: dialpay.v1.IMerchantSettlementsReply;
    try {
      answer = await requestReply(api.nc, Requests.settlementMerchant, { merchantId: request.merchant.id, limit: 90 }, timeoutMs);
    } catch {
      return api.send(reply, problem('unavailable', 'settlement did not answer in time'));
    }
    if (!answer.available) return api.send(reply, problem('unavailable'));
    return { data: (answer.settlements ?? []).map(merchantSettlementJson) };
  });

  app.get('/v1/balance', async (request, reply) => {
    if (!request.merchant) return api.send(reply, problem('unauthorized'));
    let answer: dialpay.v1.IMerchantBalanceReply;
    try {
      answer = await requestReply(api.nc, Requests.billingMerchantBalance, { merchantId: request.merchant.id }, timeoutMs);
    } catch {
      return api.send(reply, problem('unavailable', 'billing did not answer in time'));
    }
    if (!answer.available) return api.send(reply, problem('unavailable'));
    const balances = (answer.balances ?? []).map(moneyFromProto);
    return { balances: balances.map((b) => ({ currency: b.currency, amountMinor: Number(b.amountMinor) })) };
  });
}
