// A simulated carrier charging API for tests and the demo: balances per
// MSISDN, reservations per correlator (idempotent), and configurable latency
// and failures. Its money (balances, holds) is kept by a SimulatorState
// (simulator-state.ts): in PostgreSQL, shared by every billing replica, for
// billing as `dialpay` starts it, so a capture on another replica than its
// reserve finds the hold; or in this process, for tests that drive one billing
// and set balances directly (setBalance, balanceOf). The weather (latency,
// outages) and the lines made to fail (bar, down, refuseTopUps) are this
// process's, set by a test.
import type { Pool } from '../../../runtime/pg/index.js';
import { AccountIds } from '../ledger/rules.js';
import { MemorySimulatorState, PostgresSimulatorState, type SimulatorState } from './simulator-state.js';
import { CarrierOutcome, type CarrierAdapter, type CarrierResult, type ReserveRequest, type TopUpRequest } from './types.js';

export interface SimulatorOptions {
  /** Balance a subscriber the simulator has not seen starts with. */
  readonly openingBalanceMinor: bigint;
  readonly latencyMs?: number;
  /** Share of calls answered "unavailable", 0..1. */
  readonly unavailableRate?: number;
  /** MSISDNs whose lines are barred: every reserve is rejected. */
  readonly barred?: ReadonlySet<string>;
  /** Keep the carrier's money in billing's schema (billing.simulator_*), shared by every replica; else in this process. */
  readonly sharedPool?: Pool;
}

export class SimulatedCarrier implements CarrierAdapter {
  readonly name = 'simulator' as const;
  readonly fundsCheckedInLedger = false;
  readonly #o: SimulatorOptions;
  readonly #state: SimulatorState;
  readonly #memory: MemorySimulatorState | null;
  readonly #barred = new Set<string>();
  readonly #down = new Set<string>();
  /** Lines whose top-ups the carrier refuses (a line it does not sell airtime to). */
  readonly #noTopUps = new Set<string>();

  constructor(options: SimulatorOptions) {
    this.#o = options;
    this.#memory = options.sharedPool ? null : new MemorySimulatorState(options.openingBalanceMinor);
    this.#state = options.sharedPool
      ? new PostgresSimulatorState(options.sharedPool, options.openingBalanceMinor)
      : (this.#memory as MemorySimulatorState);
  }

  payerAccountId(operatorId: string): string {
    return AccountIds.carrier(operatorId);
  }

  /** The line's balance, with the state in this process (tests); the shared state is read with `balance`. */
  balanceOf(msisdn: string): bigint {
    return this.#inMemory('balanceOf').balanceOf(msisdn);
  }

  setBalance(msisdn: string, amountMinor: bigint): void {
    this.#inMemory('setBalance').setBalance(msisdn, amountMinor);
  }

  #inMemory(what: string): MemorySimulatorState {
    if (!this.#memory) throw new Error(`SimulatedCarrier.${what} reads this process's state; this carrier's is shared in PostgreSQL`);
    return this.#memory;
  }

  /** The carrier refuses this line for good (barred, fraud block). */
  bar(msisdn: string): void {
    this.#barred.add(msisdn);
  }

  /** The carrier does not answer for this line (a timeout), until `up`. */
  down(msisdn: string): void {
    this.#down.add(msisdn);
  }

  up(msisdn: string): void {
    this.#down.delete(msisdn);
  }

  /** The carrier refuses every top-up of this line (it is barred too, or simply not sold airtime). */
  refuseTopUps(msisdn: string): void {
    this.#noTopUps.add(msisdn);
  }

  /** How many top-ups this carrier has credited, all lines together. */
  get topUpsCredited(): number {
    return this.#inMemory('topUpsCredited').topUpsCredited;
  }

  /**
   * Credits airtime to a line once per topUpId: a repeat answers OK and credits nothing. The same
   * weather as the other calls (latency, outages), a line that is down answers unavailable, and a
   * barred line or one set with refuseTopUps is refused.
   */
  readonly topUp = async (request: TopUpRequest): Promise<CarrierResult> => {
    const failure = await this.#weather();
    if (failure) return failure;
    if (this.#down.has(request.msisdn)) return { outcome: CarrierOutcome.UNAVAILABLE, detail: 'top-up API timed out' };
    if (await this.#state.toppedUp(request.topUpId)) return { outcome: CarrierOutcome.OK, detail: 'already credited' };
    if (this.#isBarred(request.msisdn)) return { outcome: CarrierOutcome.REJECTED, detail: 'line barred' };
    if (this.#noTopUps.has(request.msisdn)) return { outcome: CarrierOutcome.REJECTED, detail: 'top-up refused for this line' };
    if (request.amountMinor <= 0n) return { outcome: CarrierOutcome.REJECTED, detail: 'amount must be positive' };
    // Atomic: a repeat on another replica meanwhile is 'already' here, and credits nothing twice.
    const outcome = await this.#state.topUp(request.topUpId, request.msisdn, request.amountMinor);
    return { outcome: CarrierOutcome.OK, detail: outcome === 'already' ? 'already credited' : '' };
  };

  async balance(_operatorId: string, msisdn: string): Promise<bigint | null> {
    const failure = await this.#weather();
    return failure || this.#down.has(msisdn) ? null : this.#state.balance(msisdn);
  }

  async reserve(request: ReserveRequest): Promise<CarrierResult> {
    const failure = await this.#weather();
    if (failure) return failure;
    if (this.#down.has(request.msisdn)) return { outcome: CarrierOutcome.UNAVAILABLE, detail: 'charging API timed out' };
    if (this.#isBarred(request.msisdn)) {
      // A reserve made before the line was barred is still answered as made.
      return (await this.#state.held(request.debitId))
        ? { outcome: CarrierOutcome.OK, detail: 'already reserved' }
        : { outcome: CarrierOutcome.REJECTED, detail: 'line barred' };
    }
    switch (await this.#state.reserve(request.debitId, request.msisdn, request.amountMinor)) {
      case 'ok':
        return { outcome: CarrierOutcome.OK, detail: '' };
      case 'already':
        return { outcome: CarrierOutcome.OK, detail: 'already reserved' };
      case 'insufficient':
        return { outcome: CarrierOutcome.INSUFFICIENT_FUNDS, detail: '' };
    }
  }

  async capture(debitId: string, amountMinor: bigint): Promise<CarrierResult> {
    const failure = await this.#weather();
    if (failure) return failure;
    switch (await this.#state.capture(debitId, amountMinor)) {
      case 'ok':
        return { outcome: CarrierOutcome.OK, detail: '' };
      case 'already':
        return { outcome: CarrierOutcome.OK, detail: 'already captured' };
      case 'none':
        return { outcome: CarrierOutcome.REJECTED, detail: 'no such reservation' };
      case 'not-capturable':
        return { outcome: CarrierOutcome.REJECTED, detail: 'reservation not capturable' };
    }
  }

  async refund(refundId: string, debitId: string, amountMinor: bigint): Promise<CarrierResult> {
    const failure = await this.#weather();
    if (failure) return failure;
    switch (await this.#state.refund(refundId, debitId, amountMinor)) {
      case 'ok':
        return { outcome: CarrierOutcome.OK, detail: '' };
      case 'already':
        return { outcome: CarrierOutcome.OK, detail: 'already refunded' };
      case 'nothing':
        return { outcome: CarrierOutcome.REJECTED, detail: 'nothing captured to refund' };
    }
  }

  async release(debitId: string): Promise<CarrierResult> {
    const failure = await this.#weather();
    if (failure) return failure;
    switch (await this.#state.release(debitId)) {
      case 'ok':
        return { outcome: CarrierOutcome.OK, detail: '' };
      case 'nothing':
        return { outcome: CarrierOutcome.OK, detail: 'nothing held' };
      case 'captured':
        return { outcome: CarrierOutcome.REJECTED, detail: 'already captured' };
    }
  }

  #isBarred(msisdn: string): boolean {
    return this.#o.barred?.has(msisdn) === true || this.#barred.has(msisdn);
  }

  async #weather(): Promise<CarrierResult | null> {
    if (this.#o.latencyMs) await new Promise((r) => setTimeout(r, this.#o.latencyMs));
    if (this.#o.unavailableRate && Math.random() < this.#o.unavailableRate) {
      return { outcome: CarrierOutcome.UNAVAILABLE, detail: 'simulated outage' };
    }
    return null;
  }
}
