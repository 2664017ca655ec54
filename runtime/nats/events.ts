// Every event subject and the protobuf type it carries: one table, so a
// publisher and a handler can never disagree about what a subject holds.
import { v1, type dialpay, type Envelope } from '../../proto/index.js';

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
}

function event<M extends EventMessage>(subject: string, typeName: string, type: ProtoType<M>): EventDef<M> {
  return { subject, typeName, type };
}

export const Events = {
  smsInbound: event('dialpay.sms.inbound', 'dialpay.v1.SmsInbound', v1.SmsInbound),
  smsOutbound: event('dialpay.sms.outbound', 'dialpay.v1.SmsOutbound', v1.SmsOutbound),
  smsSubmitResult: event('dialpay.sms.submit_result', 'dialpay.v1.SmsSubmitResult', v1.SmsSubmitResult),
  deliveryReceipt: event('dialpay.sms.receipt', 'dialpay.v1.DeliveryReceipt', v1.DeliveryReceipt),
  paymentRequested: event('dialpay.payment.requested', 'dialpay.v1.PaymentRequested', v1.PaymentRequested),
  paymentChallenged: event('dialpay.payment.challenged', 'dialpay.v1.PaymentChallenged', v1.PaymentChallenged),
  paymentConfirmed: event('dialpay.payment.confirmed', 'dialpay.v1.PaymentConfirmed', v1.PaymentConfirmed),
  paymentCompleted: event('dialpay.payment.completed', 'dialpay.v1.PaymentCompleted', v1.PaymentCompleted),
  paymentFailed: event('dialpay.payment.failed', 'dialpay.v1.PaymentFailed', v1.PaymentFailed),
  debitReserveRequested: event('dialpay.debit.reserve.requested', 'dialpay.v1.DebitReserveRequested', v1.DebitReserveRequested),
  debitReserveResult: event('dialpay.debit.reserve.result', 'dialpay.v1.DebitReserveResult', v1.DebitReserveResult),
  debitCaptureRequested: event('dialpay.debit.capture.requested', 'dialpay.v1.DebitCaptureRequested', v1.DebitCaptureRequested),
  debitCaptureResult: event('dialpay.debit.capture.result', 'dialpay.v1.DebitCaptureResult', v1.DebitCaptureResult),
  debitVoidRequested: event('dialpay.debit.void.requested', 'dialpay.v1.DebitVoidRequested', v1.DebitVoidRequested),
  debitVoidResult: event('dialpay.debit.void.result', 'dialpay.v1.DebitVoidResult', v1.DebitVoidResult),
} as const;

export type EventName = keyof typeof Events;

/** A core-NATS request/reply contract: a subject outside every stream, and its two message types. */
export interface RequestDef<Q, R> {
  readonly subject: string;
  readonly request: ProtoType<Q>;
  readonly reply: ProtoType<R>;
}

export const Requests = {
  /** payments (BAL) and ussd ask billing for a subscriber's balance and last payments. */
  billingBalance: { subject: 'dialpay.billing.balance', request: v1.BalanceRequest, reply: v1.BalanceReply } as RequestDef<dialpay.v1.IBalanceRequest, dialpay.v1.IBalanceReply>,
} as const;

const bySubject = new Map<string, EventDef<EventMessage>>(
  Object.values(Events).map((d) => [d.subject, d as EventDef<EventMessage>]),
);

export function eventBySubject(subject: string): EventDef<EventMessage> | undefined {
  return bySubject.get(subject);
}
