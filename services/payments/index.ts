// payments: SMS commands, challenges, limits and the payment state machine.
// Public surface of the service; nothing else in it may be imported.
import { fileURLToPath } from 'node:url';
import type { ComponentContext, ComponentDefinition, StartedComponent } from '../../runtime/component.js';
import { startServiceBase } from '../../runtime/service-base.js';
import { Events, PAYMENTS_CAPTURE_RESULT, PAYMENTS_RESERVE_RESULT, PAYMENTS_SMS_INBOUND, PAYMENTS_VOID_RESULT } from '../../runtime/nats/index.js';
import { PaymentsService } from './service.js';

/** How often challenges past their expiry are looked for. */
const EXPIRY_SWEEP_MS = 500;

async function startPayments(context: ComponentContext): Promise<StartedComponent> {
  const { config, nats, log } = context;
  const base = startServiceBase(context, 'payments');
  const payments = new PaymentsService({ pool: context.pool as NonNullable<typeof context.pool>, nc: nats.nc, config, log });
  await base.consume(PAYMENTS_SMS_INBOUND, Events.smsInbound, (m) => payments.onInboundSms(m));
  await base.consume(PAYMENTS_RESERVE_RESULT, Events.debitReserveResult, (m) => payments.onReserveResult(m));
  await base.consume(PAYMENTS_CAPTURE_RESULT, Events.debitCaptureResult, (m) => payments.onCaptureResult(m));
  await base.consume(PAYMENTS_VOID_RESULT, Events.debitVoidResult, (m) => payments.onVoidResult(m));
  let sweeping = false;
  const sweep = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    payments
      .sweep()
      .then((n) => n > 0 && base.relay.nudge())
      .catch((err: unknown) => log.warn({ err }, 'payment sweep failed; will try again'))
      .finally(() => (sweeping = false));
  }, EXPIRY_SWEEP_MS);
  return {
    readiness: base.readiness,
    stop: async (timeoutMs) => {
      clearInterval(sweep);
      await base.stop(timeoutMs);
    },
  };
}

export const payments: ComponentDefinition = {
  name: 'payments',
  schema: 'payments',
  migrationsDir: fileURLToPath(new URL('./migrations/', import.meta.url)),
  start: (context) => startPayments(context),
};
