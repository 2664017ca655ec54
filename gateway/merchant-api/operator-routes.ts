// The operator API: its own systems credit its subscribers' wallets from its funding account, top
// its agents' floats up, and set its subscribers' KYC tiers and blocks. Opened by an operator's key
// only (the door is in server.ts).
import type { FastifyInstance } from 'fastify';
import { moneyToProto } from '../../proto/index.js';
import {
  operatorAgentJson, operatorBlockJson, operatorDepositJson, operatorFloatTopUpJson, operatorKycTierJson,
} from '../../proto/merchant-json.js';
import { bodyHash } from './body-hash.js';
import { creditAnswer, waitForCredit } from './credits.js';
import { idempotencyKeyOf, type RouteContext } from './route-context.js';
import { DepositBody, FloatTopUpBody, KycTierBody, SubscriberBlockBody } from './schemas.js';

/** A subscriber's number in the path: digits, with or without '+'; whose it is, payments decides (another operator's: 404). */
const SubscriberParams = {
  type: 'object', required: ['msisdn'], properties: { msisdn: { type: 'string', pattern: '^\\+?[0-9]{6,15}$' } },
} as const;

export function registerOperatorRoutes(app: FastifyInstance, api: RouteContext): void {
  registerSubscriberRoutes(app, api);

  app.post('/v1/operator/deposits', { schema: { body: DepositBody } }, async (request, reply) => {
    const body = request.body as { msisdn: string; amountMinor: number; currency: string; reference?: string };
    const answer = await api.askOperator(request, {
      idempotencyKey: idempotencyKeyOf(request), bodySha256: bodyHash({ deposit: body }),
      createDeposit: {
        msisdn: body.msisdn, amount: moneyToProto({ amountMinor: BigInt(body.amountMinor), currency: body.currency }),
        reference: body.reference ?? '',
      },
    });
    if ('problem' in answer) return api.send(reply, answer.problem);
    const deposit = await waitForCredit(answer.reply.deposit ?? {}, api.config.merchantApi.creditWaitMs, async () => {
      const read = await api.askOperator(request, { getDeposit: { depositId: answer.reply.deposit?.depositId ?? '' } });
      return 'problem' in read ? null : read.reply.deposit ?? null;
    });
    const result = creditAnswer(deposit, `/v1/operator/deposits/${deposit.depositId}`);
    if ('problem' in result) return api.send(reply, result.problem);
    return reply.code(result.status).send(operatorDepositJson(deposit));
  });

  app.get('/v1/operator/deposits/:id', async (request, reply) => {
    const answer = await api.askOperator(request, { getDeposit: { depositId: (request.params as { id: string }).id } });
    if ('problem' in answer) return api.send(reply, answer.problem);
    return operatorDepositJson(answer.reply.deposit ?? {});
  });

  // Agents' floats: booked at once (201) or refused with nothing booked; the reference books it at most once.
  app.post('/v1/operator/agents/:agentId/float-topups', { schema: { body: FloatTopUpBody } }, async (request, reply) => {
    const agentId = (request.params as { agentId: string }).agentId.toUpperCase();
    const body = request.body as { amountMinor: number; currency: string; reference: string };
    const answer = await api.askOperator(request, {
      idempotencyKey: idempotencyKeyOf(request), bodySha256: bodyHash({ floatTopUp: { agentId, ...body } }),
      topUpAgentFloat: {
        agentId, amount: moneyToProto({ amountMinor: BigInt(body.amountMinor), currency: body.currency }), reference: body.reference,
      },
    });
    if ('problem' in answer) return api.send(reply, answer.problem);
    return reply.code(201).send(operatorFloatTopUpJson(answer.reply.floatTopUp ?? {}));
  });

  app.get('/v1/operator/agents/:agentId', async (request, reply) => {
    const answer = await api.askOperator(request, { getAgent: { agentId: (request.params as { agentId: string }).agentId } });
    if ('problem' in answer) return api.send(reply, answer.problem);
    return operatorAgentJson(answer.reply.agent ?? {});
  });
}

/** KYC tiers and blocks (payments' kyc.ts and blocks.ts): 200 changed or already so; audited by payments when changed. */
function registerSubscriberRoutes(app: FastifyInstance, api: RouteContext): void {
  const kycTierSchema = { schema: { params: SubscriberParams, body: KycTierBody } };
  app.put('/v1/operator/subscribers/:msisdn/kyc-tier', kycTierSchema, async (request, reply) => {
    const { msisdn } = request.params as { msisdn: string };
    const body = request.body as { tier: number; by: string; evidenceRef: string };
    const answer = await api.askOperator(request, { setKycTier: { msisdn, tier: body.tier, by: body.by, evidenceRef: body.evidenceRef } });
    if ('problem' in answer) return api.send(reply, answer.problem);
    return operatorKycTierJson(answer.reply.subscriber ?? {});
  });

  for (const word of ['block', 'unblock'] as const) {
    app.post(`/v1/operator/subscribers/:msisdn/${word}`, { schema: { params: SubscriberParams, body: SubscriberBlockBody } },
      async (request, reply) => {
        const { msisdn } = request.params as { msisdn: string };
        const body = request.body as { by: string; reason: string };
        const answer = await api.askOperator(request, {
          idempotencyKey: idempotencyKeyOf(request), bodySha256: bodyHash({ subscriberBlock: { msisdn, word, ...body } }),
          setSubscriberBlock: { msisdn, blocked: word === 'block', by: body.by, reason: body.reason },
        });
        if ('problem' in answer) return api.send(reply, answer.problem);
        return operatorBlockJson(answer.reply.subscriber ?? {});
      });
  }
}
