// The payments service's entry: wires the engine (engine.ts: open, step, act,
// sweep, emit) to the channels that feed it (sms-commands.ts,
// ussd-commands.ts, merchant-commands.ts, mandates.ts, refunds.ts, pin.ts,
// credits.ts).
// The payer's subscriber row is locked for each command's transaction, so one
// MSISDN's commands are handled one at a time and limits cannot be raced.
import type { dialpay } from '../../proto/index.js';
import { PaymentEngine, type EngineOptions } from './engine.js';
import { SmsCommands } from './sms-commands.js';
import { onSubscriberCommand } from './ussd-commands.js';
import { onMerchantCommand } from './merchant-commands.js';
import { onRefundResult } from './refunds.js';
import { onCreditResult, onOperatorCommand } from './credits.js';

export { PRODUCER } from './engine.js';
export { hashCode } from './challenge.js';
export { isAcceptablePin } from './pin.js';
export { PaymentState } from './state.js';

export class PaymentsService {
  readonly #engine: PaymentEngine;
  readonly #sms: SmsCommands;

  constructor(options: EngineOptions) {
    this.#engine = new PaymentEngine(options);
    this.#sms = new SmsCommands(this.#engine);
  }

  /** A subscriber's SMS: exactly once per event, whatever the redeliveries. */
  onInboundSms(message: dialpay.v1.ISmsInbound): Promise<void> {
    return this.#sms.onInboundSms(message);
  }

  onReserveResult(result: dialpay.v1.IDebitReserveResult): Promise<void> {
    return this.#engine.onReserveResult(result);
  }

  onCaptureResult(result: dialpay.v1.IDebitCaptureResult): Promise<void> {
    return this.#engine.onCaptureResult(result);
  }

  onVoidResult(result: dialpay.v1.IDebitVoidResult): Promise<void> {
    return this.#engine.onVoidResult(result);
  }

  /** Billing gave the money back (or could not): tell the payer and the merchant. */
  onRefundResult(result: dialpay.v1.IDebitRefundResult): Promise<void> {
    return onRefundResult(this.#engine, result);
  }

  /** Billing booked an operator's deposit or a merchant's payout (or refused it): tell the subscriber and the merchant. */
  onCreditResult(result: dialpay.v1.ICreditResult): Promise<void> {
    return onCreditResult(this.#engine, result);
  }

  /** The operator API's calls (deposits, agents' floats). */
  onOperatorCommand(request: dialpay.v1.IOperatorCommandRequest): Promise<dialpay.v1.IOperatorCommandReply> {
    return onOperatorCommand(this.#engine, request);
  }

  /** Fails expired challenges and unanswered reserves, asks again for stuck captures and voids. */
  sweep(): Promise<number> {
    return this.#engine.sweep();
  }

  /** What the USSD menu asks. */
  onSubscriberCommand(request: dialpay.v1.ISubscriberCommandRequest): Promise<dialpay.v1.ISubscriberCommandReply> {
    return onSubscriberCommand(this.#engine, request);
  }

  /** The merchant API's calls. */
  onMerchantCommand(request: dialpay.v1.IMerchantCommandRequest): Promise<dialpay.v1.IMerchantCommandReply> {
    return onMerchantCommand(this.#engine, request);
  }
}
