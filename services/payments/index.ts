// payments: SMS commands, challenges, limits and the payment state machine.
// Public surface of the service; nothing else in it may be imported.
import { fileURLToPath } from 'node:url';
import type { ComponentContext, ComponentDefinition, StartedComponent } from '../../runtime/component.js';
import { startServiceBase } from '../../runtime/service-base.js';
import { capUnconsentedHolds } from './merchant-requests-store.js';
import { Events, Requests, serveRequests } from '../../runtime/nats/index.js';
import {
  PAYMENTS_CONSUMERS, PAYMENTS_CAPTURE_RESULT, PAYMENTS_CREDIT_RESULT, PAYMENTS_RESERVE_RESULT, PAYMENTS_SMS_INBOUND, PAYMENTS_VOID_RESULT,
  PAYMENTS_REFUND_RESULT,
} from './consumers.js';
import { PaymentsService } from './service.js';
import { PaymentsMetrics } from './metrics.js';
import { inboundSmsDeadLetterMasker } from './dead-letter.js';
import { inboundEventId, isBalanceCommand, SMS_INBOUND_CONSUMER } from './sms-commands.js';
import { dialpay } from '../../proto/index.js';
import { isDataException } from '../../runtime/pg/index.js';
import type { Logger } from '../../runtime/log.js';

/** How often challenges past their expiry are looked for. */
const EXPIRY_SWEEP_MS = 500;
/** USSD commands (and, separately, merchant API calls) answered at once; past this a call gets "unavailable" at once. */
const SUBSCRIBER_COMMANDS_IN_FLIGHT_MAX = 256;

/**
 * A merchant call PostgreSQL refused for its data (a NUL in a description: SQLSTATE class 22) fails
 * the same way every time: answer "invalid", which the merchant API turns into a 422, not the
 * "unavailable" that tells the client to retry. Anything else is rethrown and stays retryable.
 */
function refuseBadData(
  err: unknown, request: { merchantId?: string | null; operatorId?: string | null }, log: Logger,
): { error: dialpay.v1.MerchantError; detail: string } {
  if (!isDataException(err)) throw err;
  log.warn({ err, merchantId: request.merchantId, operatorId: request.operatorId },
    'API call refused: PostgreSQL cannot store its data');
  return { error: dialpay.v1.MerchantError.MERCHANT_ERROR_INVALID,
    detail: 'the request holds text that cannot be stored (a NUL character or invalid UTF-8)' };
}

async function startPayments(context: ComponentContext): Promise<StartedComponent> {
  const { config, nats, log } = context;
  const base = startServiceBase(context, 'payments');
  const payments = new PaymentsService({
    pool: context.pool as NonNullable<typeof context.pool>, nc: nats.nc, config, log, metrics: new PaymentsMetrics(context.registry),
  });
  const capped = await capUnconsentedHolds(context.pool as NonNullable<typeof context.pool>, config.limits.challengeTtlMs);
  if (capped > 0) log.info({ capped }, 'merchant requests from before the hold cap shortened to one challenge');
  // A subscriber's text may be a PIN or a code: the DLQ keeps it masked.
  // Each handler's database work is withTransaction / handleOnce on this pool: messages that
  // arrive together commit in one transaction (runtime/pg/batch-runner.ts).
  const batch = 'shared-transaction';
  // A BAL asks billing (up to a couple of seconds) before its transaction: it runs beside the
  // batch, so the batch's transaction and the subscriber locks it holds do not wait with it.
  const operators = new Map(config.operators.map((o) => [o.id, o]));
  const asksBilling = (m: dialpay.v1.ISmsInbound) => {
    const operator = operators.get(m.operatorId ?? '');
    return operator !== undefined && isBalanceCommand(m.text ?? '', operator);
  };
  await base.consume(PAYMENTS_SMS_INBOUND, Events.smsInbound, (m) => payments.onInboundSms(m), {
    deadLetterData: inboundSmsDeadLetterMasker(config.operators), batch, runAlone: asksBilling,
    handledOnce: { consumer: SMS_INBOUND_CONSUMER, eventIdOf: inboundEventId },
  });
  await base.consume(PAYMENTS_RESERVE_RESULT, Events.debitReserveResult, (m) => payments.onReserveResult(m), { batch });
  await base.consume(PAYMENTS_CAPTURE_RESULT, Events.debitCaptureResult, (m) => payments.onCaptureResult(m), { batch });
  await base.consume(PAYMENTS_VOID_RESULT, Events.debitVoidResult, (m) => payments.onVoidResult(m), { batch });
  await base.consume(PAYMENTS_REFUND_RESULT, Events.debitRefundResult, (m) => payments.onRefundResult(m), { batch });
  await base.consume(PAYMENTS_CREDIT_RESULT, Events.creditResult, (m) => payments.onCreditResult(m), { batch });
  const commands = serveRequests(nats.nc, Requests.paymentsSubscriber, {
    queue: 'payments', inFlightMax: SUBSCRIBER_COMMANDS_IN_FLIGHT_MAX, log,
    unavailable: () => ({ outcome: dialpay.v1.CommandOutcome.COMMAND_OUTCOME_UNAVAILABLE }),
    // A command may have queued events (a reserve, a capture): send them now, not at the next poll.
    handle: (request) => payments.onSubscriberCommand(request),
  });
  const merchantCalls = serveRequests(nats.nc, Requests.paymentsMerchant, {
    queue: 'payments', inFlightMax: SUBSCRIBER_COMMANDS_IN_FLIGHT_MAX, log,
    unavailable: () => ({ error: dialpay.v1.MerchantError.MERCHANT_ERROR_UNAVAILABLE, detail: 'payments is busy; try again' }),
    handle: (request) => payments.onMerchantCommand(request).catch((err: unknown) => refuseBadData(err, request, log)),
  });
  const operatorCalls = serveRequests(nats.nc, Requests.paymentsOperator, {
    queue: 'payments', inFlightMax: SUBSCRIBER_COMMANDS_IN_FLIGHT_MAX, log,
    unavailable: () => ({ error: dialpay.v1.MerchantError.MERCHANT_ERROR_UNAVAILABLE, detail: 'payments is busy; try again' }),
    handle: (request) => payments.onOperatorCommand(request).catch((err: unknown) => refuseBadData(err, request, log)),
  });
  let sweeping = false;
  const sweep = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    payments
      .sweep()
      .catch((err: unknown) => log.warn({ err }, 'payment sweep failed; will try again'))
      .finally(() => (sweeping = false));
  }, EXPIRY_SWEEP_MS);
  return {
    readiness: base.readiness,
    stop: async (timeoutMs) => {
      clearInterval(sweep);
      await commands.drain();
      await merchantCalls.drain();
      await operatorCalls.drain();
      await base.stop(timeoutMs);
    },
  };
}

export const payments: ComponentDefinition = {
  name: 'payments',
  schema: 'payments',
  migrationsDir: fileURLToPath(new URL('./migrations/', import.meta.url)),
  consumers: PAYMENTS_CONSUMERS,
  start: (context) => startPayments(context),
};
export { resetPin, type PinResetResult } from './pin-reset.js';
export {
  addAgent, auditActor, auditOf, fundAgent, listAgents, readAgent, setAgentState, type AgentRow, type AuditLine, type FloatTopUp,
  type FloatTopUpResult,
} from './agents.js';
/** The durable consumer of subscribers' texts: the drills read its backlog. */
export { PAYMENTS_SMS_INBOUND } from './consumers.js';
export { setKycTier, type KycTierChange, type KycTierResult } from './kyc.js';
/** Customer care's read-only lookups (`dialpay subscriber show`, `dialpay payment show`). */
export {
  careNumber, readCareSubscriber, readOpenPayments, readPaymentReferences, readCarePayment, CARE_OPEN_PAYMENTS_MAX, type CareSubscriber,
  type CarePayment, type CarePaymentView, type CareStateChange, type CareRefund, type PinState,
} from './care-lookup.js';
export { reversePayment, waitForReversal, type ReversalAsk, type ReversalResult } from './reversals.js';
export type { ReversalView } from './reversals-store.js';
export { blockSubscriber, unblockSubscriber, type SubscriberBlockChange, type SubscriberBlockResult } from './blocks.js';
export {
  decideCareCase, listCareCases, CARE_LIST_MAX, type CareCaseRow, type CareCaseStatus, type CareDecisionRequest, type CareDecisionResult,
} from './care.js';
