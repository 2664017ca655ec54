// Every event subject and the protobuf type it carries: one table, so a
// publisher and a handler can never disagree about what a subject holds.
import { knownEnum, requireEnum, v1, type dialpay, type Envelope } from '../../proto/index.js';

/** What protobufjs generates for a message type, narrowed to what we use. */
export interface ProtoType<M> {
  encode(message: M): { finish(): Uint8Array };
  decode(bytes: Uint8Array): M;
}

/** Every event carries the envelope as field 1. */
export interface EventMessage {
  envelope?: Envelope | null;
}

export interface EventDef<M extends EventMessage> {
  readonly subject: string;
  readonly typeName: string;
  readonly type: ProtoType<M>;
  /**
   * The contract rules a decoded message must keep that its proto type cannot say (its enum fields
   * hold values this build knows, and the required ones are not UNSPECIFIED). Throws a ContractError;
   * a consumer treats such a message as one that does not decode: dead-lettered with the reason.
   */
  readonly validate?: (message: M) => void;
}

function event<M extends EventMessage>(
  subject: string, typeName: string, type: ProtoType<M>, validate?: (message: M) => void,
): EventDef<M> {
  return validate ? { subject, typeName, type, validate } : { subject, typeName, type };
}

const { CreditOutcome, CreditSource, DebitOutcome, FundingSource, SmsKind, SmsPriority, TopUpOutcome } = v1;
/** A result's outcome: every result says one. */
const outcomeSaid = (m: { outcome?: dialpay.v1.DebitOutcome | null }) => void requireEnum(DebitOutcome, m.outcome, 'outcome');

export const Events = {
  smsInbound: event('dialpay.sms.inbound', 'dialpay.v1.SmsInbound', v1.SmsInbound),
  // UNSPECIFIED kind and priority keep their documented meaning (an older publisher's: no kind label, normal priority).
  smsOutbound: event('dialpay.sms.outbound', 'dialpay.v1.SmsOutbound', v1.SmsOutbound, (m) => {
    knownEnum(SmsKind, m.kind, 'kind');
    knownEnum(SmsPriority, m.priority, 'priority');
  }),
  // UNSPECIFIED funding: billing chooses (wallet first).
  debitReserveRequested: event('dialpay.debit.reserve.requested', 'dialpay.v1.DebitReserveRequested', v1.DebitReserveRequested,
    (m) => void knownEnum(FundingSource, m.funding, 'funding')),
  debitReserveResult: event('dialpay.debit.reserve.result', 'dialpay.v1.DebitReserveResult', v1.DebitReserveResult, (m) => {
    outcomeSaid(m);
    knownEnum(FundingSource, m.funding, 'funding');
  }),
  debitCaptureRequested: event('dialpay.debit.capture.requested', 'dialpay.v1.DebitCaptureRequested', v1.DebitCaptureRequested),
  // UNSPECIFIED top_up: no airtime top-up followed.
  debitCaptureResult: event('dialpay.debit.capture.result', 'dialpay.v1.DebitCaptureResult', v1.DebitCaptureResult, (m) => {
    outcomeSaid(m);
    knownEnum(TopUpOutcome, m.topUp, 'topUp');
  }),
  debitVoidRequested: event('dialpay.debit.void.requested', 'dialpay.v1.DebitVoidRequested', v1.DebitVoidRequested),
  debitVoidResult: event('dialpay.debit.void.result', 'dialpay.v1.DebitVoidResult', v1.DebitVoidResult, outcomeSaid),
  /** An operator's deposit or a merchant's payout into a wallet (credit.proto): payments asks, billing books. */
  creditRequested: event('dialpay.debit.credit.requested', 'dialpay.v1.CreditRequested', v1.CreditRequested,
    (m) => void requireEnum(CreditSource, m.source, 'source')),
  creditResult: event('dialpay.debit.credit.result', 'dialpay.v1.CreditResult', v1.CreditResult,
    (m) => void requireEnum(CreditOutcome, m.outcome, 'outcome')),
  debitRefundRequested: event('dialpay.debit.refund.requested', 'dialpay.v1.DebitRefundRequested', v1.DebitRefundRequested),
  debitRefundResult: event('dialpay.debit.refund.result', 'dialpay.v1.DebitRefundResult', v1.DebitRefundResult, outcomeSaid),
  reconciliationCompleted: event('dialpay.reconciliation.completed', 'dialpay.v1.ReconciliationCompleted', v1.ReconciliationCompleted),
  merchantEvent: event('dialpay.merchant.event', 'dialpay.v1.MerchantEvent', v1.MerchantEvent),
} as const;

export type EventName = keyof typeof Events;

/**
 * Notifications: what no service needs to receive, published on core NATS at most once (notify.ts),
 * on subjects outside every stream, so they cost no durable write. An ops tool or a test sees them
 * while it is subscribed; the durable record of each is elsewhere (the payment row, the SMSC's ids).
 */
export const NOTIFY_SUBJECT_PREFIX = 'dialpay.notify';
export const Notifications = {
  paymentRequested: event(`${NOTIFY_SUBJECT_PREFIX}.payment.requested`, 'dialpay.v1.PaymentRequested', v1.PaymentRequested),
  paymentChallenged: event(`${NOTIFY_SUBJECT_PREFIX}.payment.challenged`, 'dialpay.v1.PaymentChallenged', v1.PaymentChallenged),
  paymentConfirmed: event(`${NOTIFY_SUBJECT_PREFIX}.payment.confirmed`, 'dialpay.v1.PaymentConfirmed', v1.PaymentConfirmed),
  paymentCompleted: event(`${NOTIFY_SUBJECT_PREFIX}.payment.completed`, 'dialpay.v1.PaymentCompleted', v1.PaymentCompleted),
  paymentFailed: event(`${NOTIFY_SUBJECT_PREFIX}.payment.failed`, 'dialpay.v1.PaymentFailed', v1.PaymentFailed),
  smsSubmitResult: event(`${NOTIFY_SUBJECT_PREFIX}.sms.submit_result`, 'dialpay.v1.SmsSubmitResult', v1.SmsSubmitResult),
  deliveryReceipt: event(`${NOTIFY_SUBJECT_PREFIX}.sms.receipt`, 'dialpay.v1.DeliveryReceipt', v1.DeliveryReceipt),
} as const;

/** A core-NATS request/reply contract: a subject outside every stream, and its two message types. */
export interface RequestDef<Q, R> {
  readonly subject: string;
  readonly request: ProtoType<Q>;
  readonly reply: ProtoType<R>;
}

export const Requests = {
  /** payments (BAL) and ussd ask billing for a subscriber's balance and last payments. */
  billingBalance: {
    subject: 'dialpay.billing.balance', request: v1.BalanceRequest, reply: v1.BalanceReply,
  } as RequestDef<dialpay.v1.IBalanceRequest, dialpay.v1.IBalanceReply>,
  /** The merchant API asks billing what is owed to a merchant. */
  billingMerchantBalance: {
    subject: 'dialpay.billing.merchant_balance', request: v1.MerchantBalanceRequest, reply: v1.MerchantBalanceReply,
  } as RequestDef<dialpay.v1.IMerchantBalanceRequest, dialpay.v1.IMerchantBalanceReply>,
  /** Settlement reads a window's merchant movements from the ledger, then has billing book the window. */
  billingSettlementMovements: {
    subject: 'dialpay.billing.settlement_movements', request: v1.SettlementMovementsRequest, reply: v1.SettlementMovementsReply,
  } as RequestDef<dialpay.v1.ISettlementMovementsRequest, dialpay.v1.ISettlementMovementsReply>,
  billingBookSettlement: {
    subject: 'dialpay.billing.book_settlement', request: v1.BookSettlementRequest, reply: v1.BookSettlementReply,
  } as RequestDef<dialpay.v1.IBookSettlementRequest, dialpay.v1.IBookSettlementReply>,
  /** Settlement reads a UTC day's inter-operator positions (cross-operator transfers), summed per pair and currency. */
  billingInteropPositions: {
    subject: 'dialpay.billing.interop_positions', request: v1.InteropPositionsRequest, reply: v1.InteropPositionsReply,
  } as RequestDef<dialpay.v1.IInteropPositionsRequest, dialpay.v1.IInteropPositionsReply>,
  /** The operator API (through payments) tops an agent's float up from the operator's funding account, or reads it. */
  billingAgentFloat: {
    subject: 'dialpay.billing.agent_float', request: v1.AgentFloatRequest, reply: v1.AgentFloatReply,
  } as RequestDef<dialpay.v1.IAgentFloatRequest, dialpay.v1.IAgentFloatReply>,
  /** Reconciliation reads what we captured through an operator in a time range. */
  billingCharges: {
    subject: 'dialpay.billing.charges', request: v1.ChargesRequest, reply: v1.ChargesReply,
  } as RequestDef<dialpay.v1.IChargesRequest, dialpay.v1.IChargesReply>,
  /** The merchant API lists a merchant's settlement lines. */
  settlementMerchant: {
    subject: 'dialpay.settlement.merchant', request: v1.MerchantSettlementsRequest, reply: v1.MerchantSettlementsReply,
  } as RequestDef<dialpay.v1.IMerchantSettlementsRequest, dialpay.v1.IMerchantSettlementsReply>,
  /** The ussd menu asks payments to check a PIN, start, confirm or cancel a payment. */
  paymentsSubscriber: {
    subject: 'dialpay.payments.subscriber', request: v1.SubscriberCommandRequest, reply: v1.SubscriberCommandReply,
  } as RequestDef<dialpay.v1.ISubscriberCommandRequest, dialpay.v1.ISubscriberCommandReply>,
  /** The gateway's merchant API asks payments to create, read and list payments. */
  paymentsMerchant: {
    subject: 'dialpay.payments.merchant', request: v1.MerchantCommandRequest, reply: v1.MerchantCommandReply,
  } as RequestDef<dialpay.v1.IMerchantCommandRequest, dialpay.v1.IMerchantCommandReply>,
  /**
   * The gateway's operator API asks payments to credit an operator's subscriber (a deposit) and to read one, and to top up and
   * read its agents' floats.
   */
  paymentsOperator: {
    subject: 'dialpay.payments.operator', request: v1.OperatorCommandRequest, reply: v1.OperatorCommandReply,
  } as RequestDef<dialpay.v1.IOperatorCommandRequest, dialpay.v1.IOperatorCommandReply>,
  /** A USSD edge (HTTP or SMPP) forwards one hop to the ussd service. */
  ussdHop: {
    subject: 'dialpay.ussd.hop', request: v1.UssdHopRequest, reply: v1.UssdHopReply,
  } as RequestDef<dialpay.v1.IUssdHopRequest, dialpay.v1.IUssdHopReply>,
} as const;

const bySubject = new Map<string, EventDef<EventMessage>>(
  Object.values(Events).map((d) => [d.subject, d as EventDef<EventMessage>]),
);

export function eventBySubject(subject: string): EventDef<EventMessage> | undefined {
  return bySubject.get(subject);
}
