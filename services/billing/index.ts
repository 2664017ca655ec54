// billing: carrier-account debits through adapters, and the double-entry
// ledger. Public surface of the service; nothing else in it may be imported.
import { fileURLToPath } from 'node:url';
import type { ComponentDefinition, ComponentContext, StartedComponent } from '../../runtime/component.js';
import { ConfigError, type Config, type OperatorConfig } from '../../runtime/config/index.js';
import { startServiceBase } from '../../runtime/service-base.js';
import { Requests, Events, serveRequests, type BatchRun, type Responder } from '../../runtime/nats/index.js';
import {
  BILLING_CONSUMERS, BILLING_CREDIT, BILLING_DEBIT_CAPTURE, BILLING_DEBIT_RESERVE, BILLING_DEBIT_VOID, BILLING_DEBIT_REFUND,
} from './consumers.js';
import type { NatsConnection } from '@nats-io/transport-node';
import { dialpay, v1 } from '../../proto/index.js';
import type { Logger } from '../../runtime/log.js';
import { DebitService } from './debits.js';
import { CreditService } from './credits.js';
import { runCaptureBatch, runRefundBatch, runReserveBatch, runVoidBatch, type MessageItem } from './batches.js';
import { warnAboutMissingTopUps } from './top-ups.js';
import { SettlementLedger } from './settlement-ledger.js';
import { interopPositionTotals } from './interop.js';
import { Ledger } from './ledger/store.js';
import { answerAgentFloat } from './agent-floats.js';
import { walletAdapter } from './adapters/wallet.js';
import { HttpChargingAdapter } from './adapters/http.js';
import { SimulatedCarrier } from './adapters/simulator.js';
import type { CarrierAdapter } from './adapters/types.js';
import { SimSwapChecks } from './sim-swap.js';

export { DebitService } from './debits.js';
export { SimulatedCarrier } from './adapters/simulator.js';
/** Agents' floats: `dialpay agent fund` tops one up (after checking the agent in payments' registry), and reads it. */
export {
  fundAgentFloat, returnAgentFloat, readAgentFloat, floatTopUpProblem, FLOAT_REFERENCE, type FloatTopUp, type FloatTopUpResult,
} from './agent-floats.js';
/**
 * For audits from outside billing (the chaos harness's invariants): the ledger's balances and self-check, and which
 * flow reads each kind of account.
 */
export { Ledger, type LedgerCheck } from './ledger/store.js';
/** `dialpay payment reverse` asks whether the payee's wallet holds anything before asking for a reversal. */
export { walletBalance } from './wallet-balance.js';
export { ACCOUNT_READERS, type AccountKind } from './ledger/rules.js';
/** Customer care's read-only lookups (`dialpay subscriber show`, `dialpay payment show`): wallet, holds, movements, a payment's ledger. */
export {
  readCareWallet, readCarePaymentLedger, CARE_MOVEMENTS_MAX, type CareWallet, type CareHold, type CareMovement, type CareTransfer,
  type CarePosting, type CareDebit, type CareDebitRefund, type CarePaymentLedger,
} from './care-lookup.js';

/** What a subscriber the simulated carrier has never seen starts with: 10,000.00 in a 2-decimal currency. */
const SIMULATOR_OPENING_BALANCE_MINOR = 1_000_000n;

export function adaptersFor(simulator: SimulatedCarrier, ledger: Ledger): (operator: OperatorConfig) => CarrierAdapter {
  const wallet = walletAdapter(ledger);
  const http = new Map<string, HttpChargingAdapter>();
  return (operator) => {
    switch (operator.billingAdapter) {
      case 'wallet':
        return wallet;
      case 'simulator':
        return simulator;
      case 'http': {
        let adapter = http.get(operator.id);
        if (!adapter) {
          const charging = operator.charging;
          // config validation forbids this
          if (!charging) throw new Error(`operator ${operator.id}: billingAdapter http needs charging.baseUrl`);
          adapter = new HttpChargingAdapter({ ...charging, topUp: operator.topUp });
          http.set(operator.id, adapter);
        }
        return adapter;
      }
    }
  };
}

async function startBilling(context: ComponentContext, given?: SimulatedCarrier): Promise<StartedComponent> {
  const { config, nats, log } = context;
  const base = startServiceBase(context, 'billing');
  const pool = context.pool as NonNullable<typeof context.pool>;
  // Its holds in billing's schema, shared by every replica: a capture may land on another one than its reserve.
  // (billingSimulator.state process keeps them in this process: one replica only.)
  const simulator = given ?? new SimulatedCarrier({
    openingBalanceMinor: SIMULATOR_OPENING_BALANCE_MINOR, ...(config.billingSimulator.state === 'shared' ? { sharedPool: pool } : {}),
  });
  const ledger = new Ledger(pool);
  const adapterFor = adaptersFor(simulator, ledger);
  for (const operator of config.operators) adapterFor(operator); // fail at start, not at the first payment
  warnAboutMissingTopUps(config.operators, adapterFor, log);
  const simSwap = new SimSwapChecks({ registry: context.registry, log });
  const debits = new DebitService({ pool, ledger, operators: new Map(config.operators.map((o) => [o.id, o])), adapterFor, log, simSwap });
  const balances = serveBalances(nats.nc, debits, log);
  const settlementLedger = new SettlementLedger(pool, ledger);
  const settlementCalls = [
    serveRequests(nats.nc, Requests.billingSettlementMovements, { queue: 'billing', inFlightMax: 8, log,
      unavailable: () => ({ available: false }), handle: (r) => settlementLedger.movements(r) }),
    serveRequests(nats.nc, Requests.billingCharges, { queue: 'billing', inFlightMax: 8, log,
      unavailable: () => ({ available: false }), handle: (r) => settlementLedger.charges(r) }),
    serveRequests(nats.nc, Requests.billingBookSettlement, { queue: 'billing', inFlightMax: 8, log,
      unavailable: () => ({ ok: false, detail: 'billing is busy' }), handle: (r) => settlementLedger.book(r) }),
    serveRequests(nats.nc, Requests.billingInteropPositions, { queue: 'billing', inFlightMax: 8, log,
      unavailable: () => ({ available: false }), handle: (r) => interopPositionTotals(pool, r) }),
  ];
  // The operator API's agent float top-ups and reads (through payments): rare, each one transaction.
  const operators = new Map(config.operators.map((o) => [o.id, o]));
  const agentFloats = serveRequests(nats.nc, Requests.billingAgentFloat, { queue: 'billing', inFlightMax: 8, log,
    unavailable: () => ({ available: false }), handle: (r) => answerAgentFloat(pool, operators, r) });
  const merchantBalances = serveRequests(nats.nc, Requests.billingMerchantBalance, {
    queue: 'billing', inFlightMax: BALANCE_QUERIES_IN_FLIGHT_MAX, log,
    unavailable: () => ({ available: false }),
    handle: (request) => debits.merchantBalance(request),
  });
  const staleSweep = setInterval(() => {
    debits.resolveStaleClaims(STALE_CLAIM_MS).then(
      (n) => n > 0 && log.warn({ resolved: n }, 'stale debit claims released and refused'),
      (err: unknown) => log.warn({ err }, 'stale claim sweep failed; will try again'),
    );
  }, STALE_CLAIM_SWEEP_MS);
  staleSweep.unref();
  // Batches (batches.ts): claims in one statement, carrier calls side by side, bookings in one COMMIT.
  const batches = debitBatches(debits);
  await base.consume(BILLING_DEBIT_RESERVE, Events.debitReserveRequested, (m) => debits.reserve(m), { batch: batches.reserve });
  await base.consume(BILLING_DEBIT_CAPTURE, Events.debitCaptureRequested, (m) => debits.capture(m), { batch: batches.capture });
  await base.consume(BILLING_DEBIT_VOID, Events.debitVoidRequested, (m) => debits.void(m), { batch: batches.void });
  await base.consume(BILLING_DEBIT_REFUND, Events.debitRefundRequested, (m) => debits.refund(m), { batch: batches.refund });
  // Operator deposits and merchant payouts (credits.ts): rare next to payments, so one at a time, each in its own transaction.
  const credits = new CreditService({
    pool, ledger, operators: new Map(config.operators.map((o) => [o.id, o])),
    merchants: new Map(config.merchants.map((m) => [m.id, m])), log,
  });
  await base.consume(BILLING_CREDIT, Events.creditRequested, (m) => credits.credit(m));
  return {
    readiness: base.readiness,
    stop: async (timeoutMs) => {
      clearInterval(staleSweep);
      await balances.drain();
      await merchantBalances.drain();
      for (const c of settlementCalls) await c.drain();
      await agentFloats.drain();
      await base.stop(timeoutMs);
    },
  };
}

/** The batch runs of billing's four debit consumers (batches.ts); their size and linger come from consumers.* in config. */
export function debitBatches(debits: DebitService) {
  const batch = <M>(
    runner: (service: DebitService, items: readonly MessageItem<M>[]) => Promise<PromiseSettledResult<void>[]>,
  ): BatchRun<M> => (items) => runner(debits, items);
  return {
    reserve: batch<dialpay.v1.IDebitReserveRequested>(runReserveBatch),
    capture: batch<dialpay.v1.IDebitCaptureRequested>(runCaptureBatch),
    void: batch<dialpay.v1.IDebitVoidRequested>(runVoidBatch),
    refund: batch<dialpay.v1.IDebitRefundRequested>(runRefundBatch),
  };
}

/** A reserve claimed this long ago and never settled has failed for good (its retries ran out). */
const STALE_CLAIM_MS = 5 * 60_000;
const STALE_CLAIM_SWEEP_MS = 30_000;

/** Balance queries being answered at once; past this a query gets "unavailable" at once. */
const BALANCE_QUERIES_IN_FLIGHT_MAX = 256;

function serveBalances(nc: NatsConnection, debits: DebitService, log: Logger): Responder {
  return serveRequests(nc, Requests.billingBalance, {
    queue: 'billing', inFlightMax: BALANCE_QUERIES_IN_FLIGHT_MAX, log,
    unavailable: () => ({ available: false }),
    handle: (request) => debits.balance(request),
  });
}

/** An operator billed over CAMARA, or SIM-swap checked, needs its OAuth2 client secret, which comes from the environment. */
export function assertChargingSecrets(config: Config): void {
  config.operators.forEach((op, i) => {
    if (op.billingAdapter === 'http' && op.charging && !op.charging.clientSecret) {
      throw new ConfigError(`operators[${i}].charging.clientSecret`,
        `operator ${op.id} is billed over http but has no OAuth2 client secret (DIALPAY__operators__${i}__charging__clientSecret)`);
    }
    if (op.simSwap && !op.simSwap.clientSecret) {
      throw new ConfigError(`operators[${i}].simSwap.clientSecret`,
        `operator ${op.id} has a SIM Swap API but no OAuth2 client secret (DIALPAY__operators__${i}__simSwap__clientSecret)`);
    }
  });
}

/**
 * The billing component. Without a simulator, billing makes one whose state is shared in PostgreSQL (every
 * replica's); tests pass their own, with its state in this process, to set and read its balances.
 */
export function billingComponent(simulator?: SimulatedCarrier): ComponentDefinition {
  return {
    name: 'billing',
    schema: 'billing',
    checkConfig: assertChargingSecrets,
    migrationsDir: fileURLToPath(new URL('./migrations/', import.meta.url)),
    consumers: BILLING_CONSUMERS,
    start: (context) => startBilling(context, simulator),
  };
}

export const billing: ComponentDefinition = billingComponent();
