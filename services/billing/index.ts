// billing: carrier-account debits through adapters, and the double-entry
// ledger. Public surface of the service; nothing else in it may be imported.
import { fileURLToPath } from 'node:url';
import type { ComponentDefinition, ComponentContext, StartedComponent } from '../../runtime/component.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { startServiceBase } from '../../runtime/service-base.js';
import { BILLING_DEBIT_CAPTURE, BILLING_DEBIT_RESERVE, BILLING_DEBIT_VOID, Events, startConsumer, type ConsumerSpec, type EventDef, type EventMessage } from '../../runtime/nats/index.js';
import { DebitService } from './debits.js';
import { walletAdapter } from './adapters/wallet.js';
import { SimulatedCarrier } from './adapters/simulator.js';
import type { CarrierAdapter } from './adapters/types.js';

export { DebitService } from './debits.js';
export { SimulatedCarrier } from './adapters/simulator.js';

/** What a subscriber the simulated carrier has never seen starts with: 10,000.00 in a 2-decimal currency. */
const SIMULATOR_OPENING_BALANCE_MINOR = 1_000_000n;

export function adaptersFor(simulator: SimulatedCarrier): (operator: OperatorConfig) => CarrierAdapter {
  return (operator) => {
    switch (operator.billingAdapter) {
      case 'wallet':
        return walletAdapter;
      case 'simulator':
        return simulator;
      case 'http':
        throw new Error(`operator ${operator.id}: the http charging adapter is not built yet (issue 4)`);
    }
  };
}

async function startBilling(context: ComponentContext, simulator = new SimulatedCarrier({ openingBalanceMinor: SIMULATOR_OPENING_BALANCE_MINOR })): Promise<StartedComponent> {
  const { config, nats, log } = context;
  const base = startServiceBase(context, 'billing');
  const adapterFor = adaptersFor(simulator);
  for (const operator of config.operators) adapterFor(operator); // fail at start, not at the first payment
  const debits = new DebitService({ pool: context.pool as NonNullable<typeof context.pool>, operators: new Map(config.operators.map((o) => [o.id, o])), adapterFor, log });
  const consume = <M extends EventMessage>(spec: ConsumerSpec, event: EventDef<M>, handler: (m: M) => Promise<void>) =>
    startConsumer({
      nats, spec, event, log,
      handler: async (m) => {
        await handler(m);
        base.relay.nudge(); // results are in the outbox: send them now, not at the next poll
      },
      metrics: context.consumerMetrics,
      inFlightMax: config.consumers.inFlightMax,
      retryDelaysMs: config.consumers.retryDelaysMs,
      publishTimeoutMs: config.nats.publishTimeoutMs,
    });
  base.consumers.push(
    await consume(BILLING_DEBIT_RESERVE, Events.debitReserveRequested, (m) => debits.reserve(m)),
    await consume(BILLING_DEBIT_CAPTURE, Events.debitCaptureRequested, (m) => debits.capture(m)),
    await consume(BILLING_DEBIT_VOID, Events.debitVoidRequested, (m) => debits.void(m)),
  );
  return { readiness: base.readiness, stop: base.stop };
}

/** The billing component; tests pass their own simulated carrier to look at its balances. */
export function billingComponent(simulator?: SimulatedCarrier): ComponentDefinition {
  return {
    name: 'billing',
    schema: 'billing',
    migrationsDir: fileURLToPath(new URL('./migrations/', import.meta.url)),
    start: (context) => startBilling(context, simulator),
  };
}

export const billing: ComponentDefinition = billingComponent();
