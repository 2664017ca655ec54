// Payment requests, captures, refunds, mandates and their charges, and reading payments back:
// each one NATS request to payments on the merchant's behalf.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { moneyFromProto, moneyToProto, type dialpay } from '../../proto/index.js';
import { merchantMandateJson, merchantPaymentJson, merchantRefundJson } from '../../proto/merchant-json.js';
import { bodyHash } from './body-hash.js';
import { idempotencyKeyOf, listBounds, type Answer, type RouteContext } from './route-context.js';
import { CaptureBody, ChargeBody, ListQuery, MandateBody, PaymentRequestBody, RefundBody } from './schemas.js';

type PaymentRequest = {
  msisdn: string; amountMinor: number; currency: string; reference?: string; description?: string; expiresInSeconds?: number;
  capture?: 'automatic' | 'manual';
};

export function registerPaymentRoutes(app: FastifyInstance, api: RouteContext): void {
  app.post('/v1/payment-requests', { schema: { body: PaymentRequestBody } }, async (request, reply) => {
    const body = request.body as PaymentRequest;
    const answer = await api.ask(request, {
      idempotencyKey: idempotencyKeyOf(request), bodySha256: bodyHash(body),
      createPaymentRequest: {
        msisdn: body.msisdn, amount: moneyToProto({ amountMinor: BigInt(body.amountMinor), currency: body.currency }),
        reference: body.reference ?? '', description: body.description ?? '', expiresInSeconds: body.expiresInSeconds ?? 0,
        manualCapture: body.capture === 'manual',
      },
    });
    if ('problem' in answer) return api.send(reply, answer.problem);
    return reply.code(201).send(merchantPaymentJson(answer.reply.payment ?? {}));
  });

  app.post('/v1/payments/:id/capture', { schema: { body: CaptureBody } }, async (request, reply) => {
    const body = request.body as { amountMinor: number };
    const paymentId = (request.params as { id: string }).id;
    const amount = await amountOfPayment(api, request, paymentId, body.amountMinor);
    if ('problem' in amount) return api.send(reply, amount.problem);
    const answer = await api.ask(request, {
      idempotencyKey: idempotencyKeyOf(request), bodySha256: bodyHash({ paymentId, ...body }),
      capturePayment: { paymentId, amount: amount.reply },
    });
    if ('problem' in answer) return api.send(reply, answer.problem);
    return merchantPaymentJson(answer.reply.payment ?? {});
  });

  app.post('/v1/payments/:id/refunds', { schema: { body: RefundBody } }, async (request, reply) => {
    const body = request.body as { amountMinor: number };
    const paymentId = (request.params as { id: string }).id;
    const amount = await amountOfPayment(api, request, paymentId, body.amountMinor);
    if ('problem' in amount) return api.send(reply, amount.problem);
    const answer = await api.ask(request, {
      idempotencyKey: idempotencyKeyOf(request), bodySha256: bodyHash({ refundOf: paymentId, ...body }),
      refundPayment: { paymentId, amount: amount.reply },
    });
    if ('problem' in answer) return api.send(reply, answer.problem);
    return reply.code(201).send({
      refund: merchantRefundJson(answer.reply.refund ?? {}), payment: merchantPaymentJson(answer.reply.payment ?? {}),
    });
  });

  app.get('/v1/payments/:id', async (request, reply) => {
    const answer = await api.ask(request, { getPayment: { paymentId: (request.params as { id: string }).id } });
    if ('problem' in answer) return api.send(reply, answer.problem);
    return merchantPaymentJson(answer.reply.payment ?? {});
  });

  app.get('/v1/payments', { schema: { querystring: ListQuery } }, async (request, reply) => {
    const q = request.query as { from?: string; to?: string; status?: string; cursor?: string; limit?: string };
    const answer = await api.ask(request, {
      listPayments: { ...listBounds(q), status: q.status ?? '', cursor: q.cursor ?? '', limit: q.limit ? Number(q.limit) : 0 },
    });
    if ('problem' in answer) return api.send(reply, answer.problem);
    return { data: (answer.reply.payments ?? []).map(merchantPaymentJson), nextCursor: answer.reply.nextCursor || null };
  });

  registerMandateRoutes(app, api);
}

/**
 * An amount in the payment's own currency, for a capture or a refund: the merchant sends only minor units, and
 * payments checks them against what was authorized or captured.
 */
async function amountOfPayment(
  api: RouteContext, request: FastifyRequest, paymentId: string, amountMinor: number,
): Promise<Answer<dialpay.v1.IMoney>> {
  const current = await api.ask(request, { getPayment: { paymentId } });
  if ('problem' in current) return current;
  const currency = moneyFromProto(current.reply.payment?.amount).currency;
  return { reply: moneyToProto({ amountMinor: BigInt(amountMinor), currency }) };
}

function registerMandateRoutes(app: FastifyInstance, api: RouteContext): void {
  app.post('/v1/mandates', { schema: { body: MandateBody } }, async (request, reply) => {
    const body = request.body as {
      msisdn: string; capMinor: number; currency: string; period: string; reference?: string; description?: string;
    };
    const answer = await api.ask(request, {
      idempotencyKey: idempotencyKeyOf(request), bodySha256: bodyHash({ mandate: body }),
      createMandate: {
        msisdn: body.msisdn, cap: moneyToProto({ amountMinor: BigInt(body.capMinor), currency: body.currency }), period: body.period,
        reference: body.reference ?? '', description: body.description ?? '',
      },
    });
    if ('problem' in answer) return api.send(reply, answer.problem);
    return reply.code(201).send(merchantMandateJson(answer.reply.mandate ?? {}));
  });

  app.get('/v1/mandates/:id', async (request, reply) => {
    const answer = await api.ask(request, { getMandate: { mandateId: (request.params as { id: string }).id } });
    if ('problem' in answer) return api.send(reply, answer.problem);
    return merchantMandateJson(answer.reply.mandate ?? {});
  });

  app.post('/v1/mandates/:id/charges', { schema: { body: ChargeBody } }, async (request, reply) => {
    const body = request.body as { amountMinor: number; reference?: string };
    const mandateId = (request.params as { id: string }).id;
    const current = await api.ask(request, { getMandate: { mandateId } });
    if ('problem' in current) return api.send(reply, current.problem);
    const currency = moneyFromProto(current.reply.mandate?.cap).currency;
    const answer = await api.ask(request, {
      idempotencyKey: idempotencyKeyOf(request), bodySha256: bodyHash({ chargeOf: mandateId, ...body }),
      chargeMandate: {
        mandateId, amount: moneyToProto({ amountMinor: BigInt(body.amountMinor), currency }), reference: body.reference ?? '',
      },
    });
    if ('problem' in answer) return api.send(reply, answer.problem);
    return reply.code(201).send(merchantPaymentJson(answer.reply.payment ?? {}));
  });
}
