// The merchant API's shapes, as JSON Schema: fastify validates requests with
// them and openapi.ts publishes them, so the document cannot drift from what
// the server accepts.

export const PaymentRequestBody = {
  type: 'object',
  additionalProperties: false,
  required: ['msisdn', 'amountMinor', 'currency'],
  properties: {
    msisdn: {
      type: 'string', minLength: 6, maxLength: 20,
      description: 'The payer, in international form (+254711000001) or national form for the merchant\'s country.',
    },
    amountMinor: {
      type: 'integer', minimum: 1, maximum: 1_000_000_000_000,
      description: 'Amount in minor units (cents): 1050 is 10.50 KES.',
    },
    currency: { type: 'string', pattern: '^[A-Z]{3}$' },
    reference: {
      type: 'string', maxLength: 40, pattern: '^[A-Za-z0-9 ._/#-]*$',
      description: 'Shown to the payer in the challenge SMS and the receipt.',
    },
    description: { type: 'string', maxLength: 140 },
    expiresInSeconds: {
      type: 'integer', minimum: 30, maximum: 86_400,
      description: 'How long the payer has to confirm (and the amount is held): at most the operator\'s challenge lifetime ' +
        '(`limits.challengeTtlMs`), which is also the default; the reply\'s expiresAt says when.',
    },
    capture: {
      type: 'string', enum: ['automatic', 'manual'],
      description: 'manual: amountMinor is the most the payer authorizes (a charging session, say); capture what was used with POST ' +
        '/v1/payments/{id}/capture. An authorization not captured in time is released.',
    },
  },
} as const;

export const CaptureBody = {
  type: 'object',
  additionalProperties: false,
  required: ['amountMinor'],
  properties: {
    amountMinor: {
      type: 'integer', minimum: 1, maximum: 1_000_000_000_000,
      description: 'What was used, at most the authorized amount; the rest goes back to the payer.',
    },
  },
} as const;

export const RefundBody = {
  type: 'object',
  additionalProperties: false,
  required: ['amountMinor'],
  properties: {
    amountMinor: {
      type: 'integer', minimum: 1, maximum: 1_000_000_000_000,
      description: 'At most what was captured minus what was refunded already (pending refunds count).',
    },
  },
} as const;

export const Refund = {
  type: 'object',
  required: ['id', 'status', 'amountMinor', 'currency', 'createdAt'],
  properties: {
    id: { type: 'string' },
    status: {
      type: 'string', enum: ['pending', 'completed', 'failed'],
      description: 'completed when the payer has the money back; payment.refunded follows by webhook.',
    },
    amountMinor: { type: 'integer' },
    currency: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

export const Payment = {
  type: 'object',
  required: [
    'id', 'status', 'amountMinor', 'feeMinor', 'currency', 'msisdn', 'reference', 'description', 'createdAt', 'updatedAt', 'expiresAt',
    'failureReason', 'captureMode', 'authorizedMinor', 'refundedMinor',
  ],
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'awaiting_confirmation', 'authorized', 'processing', 'completed', 'failed'] },
    amountMinor: { type: 'integer', description: 'For a manual capture, the captured amount once captured.' },
    feeMinor: { type: 'integer', description: 'Kept by dialpay and the operator; the merchant is paid amountMinor - feeMinor.' },
    currency: { type: 'string' },
    msisdn: { type: 'string' },
    reference: { type: 'string' },
    description: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: ['string', 'null'], format: 'date-time' },
    failureReason: { type: ['string', 'null'] },
    captureMode: { type: 'string', enum: ['automatic', 'manual'] },
    authorizedMinor: { type: ['integer', 'null'], description: 'Manual capture: the most the payer authorized.' },
    refundedMinor: { type: 'integer', description: 'Refunds asked for and not failed.' },
  },
} as const;

export const PaymentList = {
  type: 'object',
  required: ['data', 'nextCursor'],
  properties: {
    data: { type: 'array', items: Payment },
    nextCursor: { type: ['string', 'null'], description: 'Pass as cursor for the next page; null on the last page.' },
  },
} as const;

export const ListQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    status: { type: 'string', enum: ['pending', 'awaiting_confirmation', 'authorized', 'processing', 'completed', 'failed'] },
    cursor: { type: 'string', maxLength: 200 },
    limit: { type: 'string', pattern: '^(?:[1-9]|[1-9][0-9]|1[0-9][0-9]|200)$', description: '1 to 200; 50 when absent.' },
  },
} as const;

export const ProblemSchema = {
  type: 'object',
  required: ['type', 'title', 'status'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string', description: 'The resource this problem is about, when there is one (a refused payout\'s URL).' },
    errors: { type: 'array', items: { type: 'object', properties: { pointer: { type: 'string' }, detail: { type: 'string' } } } },
  },
} as const;

export const MandateBody = {
  type: 'object',
  additionalProperties: false,
  required: ['msisdn', 'capMinor', 'currency', 'period'],
  properties: {
    msisdn: { type: 'string', minLength: 6, maxLength: 20 },
    capMinor: { type: 'integer', minimum: 1, maximum: 1_000_000_000_000, description: 'The most all charges may add up to in one period.' },
    currency: { type: 'string', pattern: '^[A-Z]{3}$' },
    period: { type: 'string', enum: ['day', 'week', 'month'], description: 'Calendar periods, UTC.' },
    reference: { type: 'string', maxLength: 40, pattern: '^[A-Za-z0-9 ._/#-]*$' },
    description: { type: 'string', maxLength: 140 },
  },
} as const;

export const Mandate = {
  type: 'object',
  required: [
    'id', 'status', 'capMinor', 'currency', 'period', 'msisdn', 'reference', 'description', 'chargedThisPeriodMinor', 'createdAt',
    'confirmBy',
  ],
  properties: {
    id: { type: 'string' },
    status: {
      type: 'string', enum: ['pending', 'active', 'declined', 'expired', 'revoked'],
      description: 'Only an active mandate can be charged; the subscriber makes it active by SMS and revokes it with STOP.',
    },
    capMinor: { type: 'integer' },
    currency: { type: 'string' },
    period: { type: 'string', enum: ['day', 'week', 'month'] },
    msisdn: { type: 'string' },
    reference: { type: 'string' },
    description: { type: 'string' },
    chargedThisPeriodMinor: { type: 'integer' },
    createdAt: { type: 'string', format: 'date-time' },
    confirmBy: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

export const ChargeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['amountMinor'],
  properties: {
    amountMinor: { type: 'integer', minimum: 1, maximum: 1_000_000_000_000 },
    reference: { type: 'string', maxLength: 40, pattern: '^[A-Za-z0-9 ._/#-]*$' },
  },
} as const;

const CreditBodyProperties = {
  msisdn: {
    type: 'string', minLength: 6, maxLength: 20,
    description: 'The subscriber credited, in international form (+254711000001) or national form.',
  },
  amountMinor: {
    type: 'integer', minimum: 1, maximum: 1_000_000_000_000,
    description: 'Amount in minor units (cents): 1050 is 10.50 KES.',
  },
  currency: { type: 'string', pattern: '^[A-Z]{3}$' },
  reference: {
    type: 'string', maxLength: 40, pattern: '^[A-Za-z0-9 ._/#-]*$',
    description: 'Your reference, shown to the subscriber in the SMS that tells them.',
  },
} as const;

export const PayoutBody = {
  type: 'object',
  additionalProperties: false,
  required: ['msisdn', 'amountMinor', 'currency'],
  properties: {
    ...CreditBodyProperties,
    msisdn: { ...CreditBodyProperties.msisdn, description: 'The subscriber paid: on an operator this merchant is served by.' },
  },
} as const;

export const DepositBody = {
  type: 'object',
  additionalProperties: false,
  required: ['msisdn', 'amountMinor', 'currency'],
  properties: {
    ...CreditBodyProperties,
    msisdn: { ...CreditBodyProperties.msisdn, description: 'One of the calling operator\'s own subscribers (its number ranges).' },
  },
} as const;

const CreditStatus = {
  type: 'string', enum: ['pending', 'completed', 'failed'],
  description: 'pending: not booked yet (read it again); completed: in the subscriber\'s wallet; failed: nothing moved.',
} as const;

const CreditProperties = {
  id: { type: 'string' },
  status: CreditStatus,
  amountMinor: { type: 'integer' },
  currency: { type: 'string' },
  msisdn: { type: 'string' },
  reference: { type: 'string' },
  failureReason: { type: ['string', 'null'], enum: ['insufficient-balance', 'wallet-balance-max', 'rejected', null] },
  createdAt: { type: 'string', format: 'date-time' },
  updatedAt: { type: 'string', format: 'date-time' },
} as const;

export const Payout = {
  type: 'object',
  required: ['id', 'status', 'amountMinor', 'currency', 'msisdn', 'reference', 'failureReason', 'createdAt', 'updatedAt'],
  properties: CreditProperties,
} as const;

export const Deposit = Payout;

export const PayoutList = {
  type: 'object',
  required: ['data', 'nextCursor'],
  properties: {
    data: { type: 'array', items: Payout },
    nextCursor: { type: ['string', 'null'], description: 'Pass as cursor for the next page; null on the last page.' },
  },
} as const;

export const PayoutListQuery = {
  ...ListQuery,
  properties: { ...ListQuery.properties, status: CreditStatus },
} as const;

/** POST /v1/operator/agents/{agentId}/float-topups: the reference is billing's FLOAT_REFERENCE. */
export const FloatTopUpBody = {
  type: 'object',
  additionalProperties: false,
  required: ['amountMinor', 'currency', 'reference'],
  properties: {
    amountMinor: {
      type: 'integer', minimum: 1, maximum: 1_000_000_000_000,
      description: 'Amount in minor units (cents): 500000 is 5,000.00 KES.',
    },
    currency: { type: 'string', pattern: '^[A-Z]{3}$', description: 'Your (the operator\'s) currency.' },
    reference: {
      type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$',
      description: 'Your own reference for this top-up (what your funding records call it): it books at most once. The same reference ' +
        'for another agent or amount is a 409, nothing booked.',
    },
  },
} as const;

export const FloatTopUp = {
  type: 'object',
  required: ['agentId', 'reference', 'amountMinor', 'currency', 'status', 'transferId', 'floatBalanceMinor'],
  properties: {
    agentId: { type: 'string' },
    reference: { type: 'string' },
    amountMinor: { type: 'integer' },
    currency: { type: 'string' },
    status: { type: 'string', enum: ['completed'], description: 'On the float: booked now, or before under the same reference.' },
    transferId: { type: 'string', description: 'The ledger transfer: float:<operator>:<reference>.' },
    floatBalanceMinor: { type: 'integer', description: 'The agent\'s float just after this call.' },
  },
} as const;

export const OperatorAgent = {
  type: 'object',
  required: ['agentId', 'name', 'state', 'msisdn', 'floatBalanceMinor', 'currency'],
  properties: {
    agentId: { type: 'string' },
    name: { type: 'string' },
    state: { type: 'string', enum: ['active', 'suspended'] },
    msisdn: { type: 'string', description: 'The agent\'s line, masked: +2547****01.' },
    floatBalanceMinor: { type: 'integer', description: 'The float now: what the agent can give out in CASHIN.' },
    currency: { type: 'string' },
  },
} as const;

/** Who made a change on a subscriber, as the audit keeps it: a name or a reference, never a document. */
const AuditText = (description: string) => ({ type: 'string', minLength: 1, maxLength: 200, pattern: '\\S', description }) as const;

export const KycTierBody = {
  type: 'object',
  additionalProperties: false,
  required: ['tier', 'by', 'evidenceRef'],
  properties: {
    tier: { type: 'integer', minimum: 0, maximum: 99, description: 'One of the configured KYC tiers (limits.tiers); another is a 422.' },
    by: AuditText('Who made the change: your care agent or system user.'),
    evidenceRef: AuditText('Where the identity evidence checked is kept (your KYC record\'s reference), never the document itself.'),
  },
} as const;

export const SubscriberBlockBody = {
  type: 'object',
  additionalProperties: false,
  required: ['by', 'reason'],
  properties: {
    by: AuditText('Who made the change: your care agent or system user.'),
    reason: AuditText('Why: the care case, or the court order\'s reference.'),
  },
} as const;

const SubscriberMsisdn = { type: 'string', description: 'The subscriber, E.164 with +: one of your own.' } as const;
const Changed = {
  type: 'boolean', description: 'false: it was so already; nothing was written, audited or sent (a repeat is harmless).',
} as const;

export const SubscriberKycTier = {
  type: 'object',
  required: ['msisdn', 'kycTier', 'previousKycTier', 'changed'],
  properties: {
    msisdn: SubscriberMsisdn,
    kycTier: { type: 'integer', description: 'The tier now: its limits hold from the subscriber\'s next payment.' },
    previousKycTier: { type: 'integer' },
    changed: Changed,
  },
} as const;

export const SubscriberBlock = {
  type: 'object',
  required: ['msisdn', 'blocked', 'changed'],
  properties: {
    msisdn: SubscriberMsisdn,
    blocked: { type: 'boolean', description: 'true: the line can receive but not pay, send or withdraw.' },
    changed: Changed,
  },
} as const;
