// The OpenAPI 3.1 document, served at /openapi.json and written to
// gateway/merchant-api/openapi.json by `dialpay openapi` (the repo copy).
import { PROBLEMS } from './problem.js';
import {
  CaptureBody, ChargeBody, Deposit, DepositBody, FloatTopUp, FloatTopUpBody, KycTierBody, ListQuery, OperatorAgent, Mandate, MandateBody,
  Payment, PaymentList, PaymentRequestBody, Payout, PayoutBody, PayoutList, PayoutListQuery, ProblemSchema, Refund, RefundBody,
  SubscriberBlock, SubscriberBlockBody, SubscriberKycTier,
} from './schemas.js';

const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });
/** `content` of a JSON request or response body. */
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const pathParameter = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });
const idempotencyKey = () => ({ $ref: '#/components/parameters/IdempotencyKey' });
const problemResponse = (description: string) =>
  ({ description, content: { 'application/problem+json': { schema: schemaRef('Problem') } } });
/** The problem types a status may carry, listed in its description. */
const problemsWith = (status: number) =>
  Object.entries(PROBLEMS).filter(([, p]) => p.status === status).map(([type, p]) => `/problems/${type}: ${p.title}`).join('; ');
const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [String(status), problemResponse(problemsWith(status))]));

// The paths, in the document's order, in groups of one concern each: a merchant's payments, what it is paid and pays
// out, the operator's routes (money, then its subscribers' tiers and blocks), and the payments list.
const PAYMENT_PATHS = {
  '/v1/payment-requests': {
    post: {
      summary: 'Ask a subscriber to pay',
      parameters: [idempotencyKey()],
      requestBody: { required: true, ...json(schemaRef('PaymentRequest')) },
      responses: {
        '201': { description: 'The payment, pending until the payer confirms.', ...json(schemaRef('Payment')) },
        ...errors(400, 401, 409, 413, 415, 422, 429, 503),
      },
    },
  },
  '/v1/payments/{id}/capture': {
    post: {
      summary: 'Capture a manual-capture payment: charge what was used, release the rest',
      parameters: [pathParameter('id'), idempotencyKey()],
      requestBody: { required: true, ...json(schemaRef('Capture')) },
      responses: {
        '200': { description: 'The payment, processing; payment.completed follows by webhook.', ...json(schemaRef('Payment')) },
        ...errors(400, 401, 404, 409, 415, 422, 429, 503),
      },
    },
  },
  '/v1/payments/{id}/refunds': {
    post: {
      summary: 'Give back part or all of a completed payment',
      parameters: [pathParameter('id'), idempotencyKey()],
      requestBody: { required: true, ...json(schemaRef('RefundRequest')) },
      responses: {
        '201': {
          description: 'The refund, pending until the carrier has paid it back; payment.refunded follows by webhook.',
          ...json({
            type: 'object', required: ['refund', 'payment'], properties: { refund: schemaRef('Refund'), payment: schemaRef('Payment') },
          }),
        },
        ...errors(400, 401, 404, 409, 415, 422, 429, 503),
      },
    },
  },
  '/v1/payments/{id}': {
    get: {
      summary: 'One payment',
      parameters: [pathParameter('id')],
      responses: { '200': { description: 'The payment.', ...json(schemaRef('Payment')) }, ...errors(401, 404, 422, 429, 503) },
    },
  },
  '/v1/mandates': {
    post: {
      summary: 'Ask a subscriber for a standing permission to charge them, up to a cap per period',
      description: 'The subscriber gets an SMS with a code; their YES makes the mandate active (mandate.activated by webhook). STOP ' +
        'revokes it at once (mandate.revoked).',
      parameters: [idempotencyKey()],
      requestBody: { required: true, ...json(schemaRef('MandateRequest')) },
      responses: {
        '201': { description: 'The mandate, pending.', ...json(schemaRef('Mandate')) },
        ...errors(400, 401, 409, 415, 422, 429, 503),
      },
    },
  },
  '/v1/mandates/{id}': {
    get: {
      summary: 'One mandate',
      parameters: [pathParameter('id')],
      responses: { '200': { description: 'The mandate.', ...json(schemaRef('Mandate')) }, ...errors(401, 404, 422, 429, 503) },
    },
  },
  '/v1/mandates/{id}/charges': {
    post: {
      summary: 'Charge inside an active mandate: no confirmation asked, a receipt sent',
      parameters: [pathParameter('id'), idempotencyKey()],
      requestBody: { required: true, ...json(schemaRef('ChargeRequest')) },
      responses: {
        '201': { description: 'The payment, pending until captured; payment.completed follows.', ...json(schemaRef('Payment')) },
        ...errors(400, 401, 404, 409, 415, 422, 429, 503),
      },
    },
  },
};

const SETTLEMENT_LINE = {
  type: 'object', properties: {
    windowId: { type: 'string' }, operatorId: { type: 'string' },
    from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' },
    status: { type: 'string', enum: ['closed', 'settled'] }, currency: { type: 'string' },
    payments: { type: 'integer' }, refunds: { type: 'integer' },
    grossMinor: { type: 'integer' }, refundsMinor: { type: 'integer' }, feesMinor: { type: 'integer' },
    operatorShareMinor: { type: 'integer' },
    netPayableMinor: {
      type: 'integer',
      description: 'Negative when the window\'s refunds outweigh its payments; carried to the next. Your payouts in the window are ' +
        'already off it.',
    },
    paidOutMinor: {
      type: 'integer',
      description: 'Moved to settled for payment to you: the net, less any debt carried from earlier windows; never below zero.',
    },
    payouts: { type: 'integer', description: 'Your payouts to subscribers\' wallets (POST /v1/payouts) in the window.' },
    payoutsMinor: { type: 'integer', description: 'Their total, already off netPayableMinor.' },
  },
};

const BALANCE = {
  type: 'object', required: ['currency', 'amountMinor'], properties: { currency: { type: 'string' }, amountMinor: { type: 'integer' } },
};

const MONEY_OUT_PATHS = {
  '/v1/settlements': {
    get: {
      summary: 'Your lines of closed settlement windows (one per operator and day), newest first, the last 90',
      responses: {
        '200': {
          description: 'Settlement lines: gross, refunds, fees, operator share, payouts and net payable, in minor units. The ' +
            'settlement.closed webhook carries the same line.',
          ...json({ type: 'object', required: ['data'], properties: { data: { type: 'array', items: SETTLEMENT_LINE } } }),
        },
        ...errors(401, 422, 429, 503),
      },
    },
  },
  '/v1/balance': {
    get: {
      summary: 'What dialpay owes you, per currency: captured payments less fees, refunds and payouts',
      responses: {
        '200': {
          description: 'Balances per currency.',
          ...json({ type: 'object', required: ['balances'], properties: { balances: { type: 'array', items: BALANCE } } }),
        },
        ...errors(401, 422, 429, 503),
      },
    },
  },
  '/v1/payouts': {
    post: {
      summary: 'Pay a subscriber from your available balance, into their dialpay wallet',
      description: [
        'Within your payout limits (per payout, and per UTC day over payouts not failed). The subscriber must be on an operator you are ' +
          'served by. They get an SMS naming you, the amount and your reference; payout.completed (or payout.failed) follows by webhook.',
        'The answer waits a few seconds for the booking: 201 when the money is in the wallet; 409 /problems/insufficient-balance when ' +
          'your available balance (payable less refunds owed and not yet settled) does not cover it, with nothing moved; 202 when not ' +
          'answered yet (read it with GET /v1/payouts/{id}).',
        'The same Idempotency-Key and body answer the payout\'s current state; another body is a 409.',
      ].join('\n\n'),
      parameters: [idempotencyKey()],
      requestBody: { required: true, ...json(schemaRef('PayoutRequest')) },
      responses: {
        '201': { description: 'The payout, completed.', ...json(schemaRef('Payout')) },
        '202': { description: 'The payout, pending: not booked yet.', ...json(schemaRef('Payout')) },
        ...errors(400, 401, 403, 409, 413, 415, 422, 429, 503),
      },
    },
    get: {
      summary: 'Your payouts, newest first',
      parameters: Object.entries(PayoutListQuery.properties).map(([name, schema]) => ({ name, in: 'query', required: false, schema })),
      responses: { '200': { description: 'A page of payouts.', ...json(schemaRef('PayoutList')) }, ...errors(401, 422, 429, 503) },
    },
  },
  '/v1/payouts/{id}': {
    get: {
      summary: 'One payout',
      parameters: [pathParameter('id')],
      responses: { '200': { description: 'The payout.', ...json(schemaRef('Payout')) }, ...errors(401, 404, 422, 429, 503) },
    },
  },
};

const OPERATOR_PATHS = {
  '/v1/operator/deposits': {
    post: {
      summary: 'Operator API: credit one of your subscribers\' dialpay wallets (bank transfers in, salary runs, airtime conversion)',
      description: 'Booked from your funding account. The subscriber gets an SMS naming you. 201 when the money is in the wallet, 202 ' +
        'when not booked yet (read it with GET /v1/operator/deposits/{id}), 422 /problems/credit-refused when the wallet would pass its ' +
        'KYC tier\'s limit (nothing moved).',
      security: [{ operatorKey: [] }],
      parameters: [idempotencyKey()],
      requestBody: { required: true, ...json(schemaRef('DepositRequest')) },
      responses: {
        '201': { description: 'The deposit, completed.', ...json(schemaRef('Deposit')) },
        '202': { description: 'The deposit, pending: not booked yet.', ...json(schemaRef('Deposit')) },
        ...errors(400, 401, 409, 413, 415, 422, 429, 503),
      },
    },
  },
  '/v1/operator/deposits/{id}': {
    get: {
      summary: 'Operator API: one of your deposits',
      security: [{ operatorKey: [] }],
      parameters: [pathParameter('id')],
      responses: { '200': { description: 'The deposit.', ...json(schemaRef('Deposit')) }, ...errors(401, 404, 422, 429, 503) },
    },
  },
  '/v1/operator/agents/{agentId}/float-topups': {
    post: {
      summary: 'Operator API: top one of your agents\' floats up from your funding account (as `dialpay agent fund`)',
      description: [
        'Booked at once, from your funding account onto the agent\'s float: 201 with the float after it. The agent may be suspended (you ' +
          'may be settling with it).',
        'The reference books at most once: the same reference, agent and amount again (under any Idempotency-Key) answers 201 with the ' +
          'same transferId and books nothing; the same reference for another agent or amount is a 409 /problems/reference-conflict, ' +
          'nothing booked.',
        'An agent that is not yours is a 404, as an unknown one. A 503 means nothing is known to be booked: retry with the same ' +
          'Idempotency-Key.',
      ].join('\n\n'),
      security: [{ operatorKey: [] }],
      parameters: [pathParameter('agentId'), idempotencyKey()],
      requestBody: { required: true, ...json(schemaRef('FloatTopUpRequest')) },
      responses: {
        '201': { description: 'The top-up, completed.', ...json(schemaRef('FloatTopUp')) },
        ...errors(400, 401, 404, 409, 413, 415, 422, 429, 503),
      },
    },
  },
  '/v1/operator/agents/{agentId}': {
    get: {
      summary: 'Operator API: one of your agents and its float',
      security: [{ operatorKey: [] }],
      parameters: [pathParameter('agentId')],
      responses: { '200': { description: 'The agent.', ...json(schemaRef('OperatorAgent')) }, ...errors(401, 404, 422, 429, 503) },
    },
  },
};

const msisdnParameter = () => ({
  name: 'msisdn', in: 'path', required: true, schema: { type: 'string', pattern: '^\\+?[0-9]{6,15}$' },
  description: 'One of your own subscribers, in international form (+254712345678); another operator\'s number is a 404, nothing changed.',
});
const blockPath = (word: 'block' | 'unblock') => ({
  post: {
    summary: word === 'block'
      ? 'Operator API: block one of your subscribers (lost phone, court order), as `dialpay subscriber block`'
      : 'Operator API: lift a subscriber\'s block, as `dialpay subscriber unblock`',
    description: [
      'A blocked line can receive (transfers, cash-in, deposits, payouts, refunds) but not pay, send, withdraw or buy airtime, by SMS, ' +
        'USSD or a merchant\'s request or mandate; BAL and a PIN reset still work. The subscriber is told by SMS in their language; the ' +
        'change is audited (who, why, when) in an append-only table.',
      'Blocking a blocked line (or unblocking an unblocked one) answers 200 with changed false: nothing written, audited or sent. ' +
        'The same Idempotency-Key and body again answers as the first call did and changes nothing (even after a later change); ' +
        'the key with another body is a 409.',
    ].join('\n\n'),
    security: [{ operatorKey: [] }],
    parameters: [msisdnParameter(), idempotencyKey()],
    requestBody: { required: true, ...json(schemaRef('SubscriberBlockRequest')) },
    responses: {
      '200': { description: 'The line\'s block now.', ...json(schemaRef('SubscriberBlock')) },
      ...errors(400, 401, 404, 409, 413, 415, 422, 429, 503),
    },
  },
});

const SUBSCRIBER_PATHS = {
  '/v1/operator/subscribers/{msisdn}/kyc-tier': {
    put: {
      summary: 'Operator API: set one of your subscribers\' KYC tier, as `dialpay subscriber tier`',
      description: 'After checking their identity documents. The new tier\'s limits hold from the subscriber\'s next payment; a lower ' +
        'tier takes no money, it only limits what comes next. Each change is audited (who, from which tier, the evidence reference) in ' +
        'an append-only table; setting the tier the subscriber already has answers 200 with changed false and records nothing.',
      security: [{ operatorKey: [] }],
      parameters: [msisdnParameter()],
      requestBody: { required: true, ...json(schemaRef('KycTierRequest')) },
      responses: {
        '200': { description: 'The subscriber\'s tier now.', ...json(schemaRef('SubscriberKycTier')) },
        ...errors(400, 401, 404, 413, 415, 422, 429, 503),
      },
    },
  },
  '/v1/operator/subscribers/{msisdn}/block': blockPath('block'),
  '/v1/operator/subscribers/{msisdn}/unblock': blockPath('unblock'),
};

const LIST_PATHS = {
  '/v1/payments': {
    get: {
      summary: 'Payments to you, newest first',
      parameters: Object.entries(ListQuery.properties).map(([name, schema]) => ({ name, in: 'query', required: false, schema })),
      responses: { '200': { description: 'A page of payments.', ...json(schemaRef('PaymentList')) }, ...errors(401, 422, 429, 503) },
    },
  },
};

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'dialpay merchant API',
      version: '1.0.0',
      description: [
        'Ask a subscriber to pay: they get an SMS naming you, the amount and your reference, and confirm on their phone. Money comes off ' +
          'their carrier account.',
        'Every call needs `Authorization: Bearer <API key>`. Every POST needs an `Idempotency-Key` header: the same key with the same ' +
          'body returns the first response again; the same key with another body is refused with 409.',
        'Errors are RFC 9457 problem details. Amounts are integers in minor units.',
        'Payouts (`/v1/payouts`) send money from your available balance to a subscriber\'s dialpay wallet; they are off until your ' +
          'payout limits are configured (403).',
        'The operator API (`/v1/operator/...`) is for an operator\'s own systems: it takes the operator\'s key (security scheme ' +
          'operatorKey), never a merchant\'s, and a merchant key never opens it.',
      ].join('\n\n'),
    },
    components: {
      securitySchemes: {
        apiKey: {
          type: 'http', scheme: 'bearer',
          description: 'A merchant\'s key from `dialpay api-key` (dpk_<id>_<secret>), configured in merchants[].apiKeys.',
        },
        operatorKey: {
          type: 'http', scheme: 'bearer',
          description: 'An operator\'s key from `dialpay api-key`, configured in operators[].apiKeys: opens the /v1/operator routes only.',
        },
      },
      schemas: {
        PaymentRequest: PaymentRequestBody, Capture: CaptureBody, RefundRequest: RefundBody, Refund, MandateRequest: MandateBody, Mandate,
        ChargeRequest: ChargeBody, Payment, PaymentList,
        PayoutRequest: PayoutBody, Payout, PayoutList, DepositRequest: DepositBody, Deposit, FloatTopUpRequest: FloatTopUpBody, FloatTopUp,
        OperatorAgent, KycTierRequest: KycTierBody, SubscriberKycTier, SubscriberBlockRequest: SubscriberBlockBody, SubscriberBlock,
        Problem: ProblemSchema,
      },
      parameters: {
        IdempotencyKey: { name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 1, maxLength: 255 } },
      },
    },
    security: [{ apiKey: [] }],
    paths: { ...PAYMENT_PATHS, ...MONEY_OUT_PATHS, ...OPERATOR_PATHS, ...SUBSCRIBER_PATHS, ...LIST_PATHS },
  };
}
