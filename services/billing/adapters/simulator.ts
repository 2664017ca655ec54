// A simulated carrier charging API for tests and the demo: balances per
// MSISDN, reservations per correlator (idempotent), and configurable latency
// and failures. State is in memory: a restart of billing forgets it, which is
// why crash tests use the operator simulator's charging API over HTTP instead.
import { AccountIds } from '../ledger/rules.js';
import { CarrierOutcome, type CarrierAdapter, type CarrierResult, type ReserveRequest, type TopUpRequest } from './types.js';

export interface SimulatorOptions {
  /** Balance a subscriber the simulator has not seen starts with. */
  readonly openingBalanceMinor: bigint;
  readonly latencyMs?: number;
  /** Share of calls answered "unavailable", 0..1. */
  readonly unavailableRate?: number;
  /** MSISDNs whose lines are barred: every reserve is rejected. */
  readonly barred?: ReadonlySet<string>;
}

/** Settled holds remembered for idempotent repeats; past this the oldest settled ones are forgotten. */
const SETTLED_HOLDS_MAX = 100_000;

interface Hold {
  readonly msisdn: string;
  readonly amountMinor: bigint;
  state: 'held' | 'captured' | 'released';
}

export class SimulatedCarrier implements CarrierAdapter {
  readonly name = 'simulator' as const;
  readonly fundsCheckedInLedger = false;
  readonly #o: SimulatorOptions;
  readonly #balances = new Map<string, bigint>();
  readonly #holds = new Map<string, Hold>();
  /** Refund ids already paid back, so a retried refund pays nothing twice. */
  readonly #refunds = new Set<string>();
  readonly #barred = new Set<string>();
  readonly #down = new Set<string>();
  /** Top-up ids already credited, so a retried top-up credits nothing twice. */
  readonly #topUps = new Set<string>();
  /** Lines whose top-ups the carrier refuses (a line it does not sell airtime to). */
  readonly #noTopUps = new Set<string>();

  constructor(options: SimulatorOptions) {
    this.#o = options;
  }

  payerAccountId(operatorId: string): string {
    return AccountIds.carrier(operatorId);
  }

  balanceOf(msisdn: string): bigint {
    return this.#balances.get(msisdn) ?? this.#o.openingBalanceMinor;
  }

  setBalance(msisdn: string, amountMinor: bigint): void {
    this.#balances.set(msisdn, amountMinor);
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
    return this.#topUps.size;
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
    if (this.#topUps.has(request.topUpId)) return { outcome: CarrierOutcome.OK, detail: 'already credited' };
    if (this.#o.barred?.has(request.msisdn) || this.#barred.has(request.msisdn)) return { outcome: CarrierOutcome.REJECTED, detail: 'line barred' };
    if (this.#noTopUps.has(request.msisdn)) return { outcome: CarrierOutcome.REJECTED, detail: 'top-up refused for this line' };
    if (request.amountMinor <= 0n) return { outcome: CarrierOutcome.REJECTED, detail: 'amount must be positive' };
    this.#topUps.add(request.topUpId);
    if (this.#topUps.size > SETTLED_HOLDS_MAX) this.#topUps.delete(this.#topUps.values().next().value as string);
    this.#balances.set(request.msisdn, this.balanceOf(request.msisdn) + request.amountMinor);
    return { outcome: CarrierOutcome.OK, detail: '' };
  };

  async balance(_operatorId: string, msisdn: string): Promise<bigint | null> {
    const failure = await this.#weather();
    return failure || this.#down.has(msisdn) ? null : this.balanceOf(msisdn);
  }

  async reserve(request: ReserveRequest): Promise<CarrierResult> {
    const failure = await this.#weather();
    if (failure) return failure;
    if (this.#down.has(request.msisdn)) return { outcome: CarrierOutcome.UNAVAILABLE, detail: 'charging API timed out' };
    if (this.#holds.has(request.debitId)) return { outcome: CarrierOutcome.OK, detail: 'already reserved' };
    if (this.#o.barred?.has(request.msisdn) || this.#barred.has(request.msisdn)) return { outcome: CarrierOutcome.REJECTED, detail: 'line barred' };
    const balance = this.balanceOf(request.msisdn);
    if (balance < request.amountMinor) return { outcome: CarrierOutcome.INSUFFICIENT_FUNDS, detail: '' };
    this.#balances.set(request.msisdn, balance - request.amountMinor);
    this.#holds.set(request.debitId, { msisdn: request.msisdn, amountMinor: request.amountMinor, state: 'held' });
    this.#forgetOldSettled();
    return { outcome: CarrierOutcome.OK, detail: '' };
  }

  async capture(debitId: string, amountMinor: bigint): Promise<CarrierResult> {
    const failure = await this.#weather();
    if (failure) return failure;
    const hold = this.#holds.get(debitId);
    if (!hold) return { outcome: CarrierOutcome.REJECTED, detail: 'no such reservation' };
    if (hold.state === 'captured') return { outcome: CarrierOutcome.OK, detail: 'already captured' };
    if (hold.state === 'released' || amountMinor > hold.amountMinor) return { outcome: CarrierOutcome.REJECTED, detail: 'reservation not capturable' };
    hold.state = 'captured';
    this.#balances.set(hold.msisdn, this.balanceOf(hold.msisdn) + (hold.amountMinor - amountMinor));
    return { outcome: CarrierOutcome.OK, detail: '' };
  }

  async refund(refundId: string, debitId: string, amountMinor: bigint): Promise<CarrierResult> {
    const failure = await this.#weather();
    if (failure) return failure;
    const hold = this.#holds.get(debitId);
    if (!hold || hold.state !== 'captured') return { outcome: CarrierOutcome.REJECTED, detail: 'nothing captured to refund' };
    if (this.#refunds.has(refundId)) return { outcome: CarrierOutcome.OK, detail: 'already refunded' };
    this.#refunds.add(refundId);
    if (this.#refunds.size > SETTLED_HOLDS_MAX) this.#refunds.delete(this.#refunds.values().next().value as string);
    this.#balances.set(hold.msisdn, this.balanceOf(hold.msisdn) + amountMinor);
    return { outcome: CarrierOutcome.OK, detail: '' };
  }

  async release(debitId: string): Promise<CarrierResult> {
    const failure = await this.#weather();
    if (failure) return failure;
    const hold = this.#holds.get(debitId);
    if (!hold || hold.state === 'released') return { outcome: CarrierOutcome.OK, detail: 'nothing held' };
    if (hold.state === 'captured') return { outcome: CarrierOutcome.REJECTED, detail: 'already captured' };
    hold.state = 'released';
    this.#balances.set(hold.msisdn, this.balanceOf(hold.msisdn) + hold.amountMinor);
    return { outcome: CarrierOutcome.OK, detail: '' };
  }

  /** Open holds are never forgotten; settled ones are kept only for repeats, oldest first out. */
  #forgetOldSettled(): void {
    if (this.#holds.size <= SETTLED_HOLDS_MAX) return;
    for (const [id, hold] of this.#holds) {
      if (this.#holds.size <= SETTLED_HOLDS_MAX) break;
      if (hold.state !== 'held') this.#holds.delete(id);
    }
  }

  async #weather(): Promise<CarrierResult | null> {
    if (this.#o.latencyMs) await new Promise((r) => setTimeout(r, this.#o.latencyMs));
    if (this.#o.unavailableRate && Math.random() < this.#o.unavailableRate) return { outcome: CarrierOutcome.UNAVAILABLE, detail: 'simulated outage' };
    return null;
  }
}
