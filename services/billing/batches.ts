// Batch runners for billing's consumers: a batch of requests costs a handful of
// commits, not several per request. Each runner works in phases:
//   1. reads and claims for the whole batch, one statement each (a reserve's claim
//      commits before the carrier is called, so a void arriving meanwhile finds it);
//   2. the carrier calls, concurrently (bounded), outside any transaction;
//   3. every request's bookings, state and result as units of one shared transaction
//      (inOneTransaction): one commit. Any unit failing inside it rolls it back and
//      each unit runs again alone, so one bad request fails alone.
// A unit's own failure outside its transaction (a debit still reserving) is that
// request's result and does not stop the others. Carrier calls are idempotent on the
// debit or refund id, so a request run again alone may call the carrier again.
import { inOneTransaction } from '../../runtime/pg/index.js';
import { settleBounded } from '../../runtime/settle-bounded.js';
import type { dialpay } from '../../proto/index.js';
import { PermanentHandlerError } from '../../runtime/nats/index.js';
import type { DebitRow } from './debit-rows.js';
import type { DebitService } from './debits.js';
import type { ReserveBooking, ReserveCheck } from './debit-reserves.js';
import { capsPayeeWallet, type CapturePlan } from './debit-captures.js';
import type { VoidPlan } from './debit-voids.js';
import type { RefundClaim, RefundPlan } from './debit-refunds.js';

/** Carrier calls of one batch in flight at once: enough to hide their latency, few enough to spare the carrier. */
export const CARRIER_CALLS_IN_FLIGHT_MAX = 32;

/** What a runner needs of a consumer's batch item (runtime/nats/consume.ts hands more). */
export interface MessageItem<M> {
  readonly message: M;
}

type Settled = PromiseSettledResult<void>;
const OK: Settled = { status: 'fulfilled', value: undefined };
const failed = (reason: unknown): Settled => ({ status: 'rejected', reason });

interface Phases<M, P> {
  /** What makes two requests the same (a debit id): a repeat in the batch shares the first one's result. */
  keyOf(message: M): string;
  /** Handled by the one-request path, outside the shared transaction (its carrier call follows a booking). */
  alone?(message: M): boolean;
  /** The one-request path: a unit that asks for it ('again'), and the requests handled alone. */
  single(message: M): Promise<void>;
  /** Phases 1 and 2 for the batch, outside any transaction; one outcome per message, in order. */
  prepare(messages: readonly M[]): Promise<PromiseSettledResult<P>[]>;
  /** The debit a plan's booking locks, if any: the batch locks them all up front (lockDebits). */
  lockOf?(plan: P): string | null;
  /** Phase 3 for one request: its withTransaction joins the shared transaction. */
  book(plan: P): Promise<'done' | 'again'>;
}

async function runPhases<M, P>(service: DebitService, items: readonly MessageItem<M>[], phases: Phases<M, P>): Promise<Settled[]> {
  const results = new Array<Settled>(items.length);
  const firstOf = new Map<string, number>();
  const repeats: [number, number][] = [];
  items.forEach((item, i) => {
    let key: string;
    try {
      key = phases.keyOf(item.message);
    } catch (err) {
      results[i] = failed(err);
      return;
    }
    const first = firstOf.get(key);
    if (first === undefined) firstOf.set(key, i);
    else repeats.push([i, first]);
  });
  // In key order: two batches lock the same debits in the same order, so they wait, never deadlock.
  const firsts = [...firstOf.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, i]) => i);
  const messageOf = (i: number) => (items[i] as MessageItem<M>).message;
  const aloneIndexes = firsts.filter((i) => phases.alone?.(messageOf(i)));
  const batched = firsts.filter((i) => !phases.alone?.(messageOf(i)));
  const aloneDone = Promise.allSettled(aloneIndexes.map((i) => phases.single(messageOf(i))));

  const prepared = await phases.prepare(batched.map(messageOf));
  const again = new Set<number>();
  const booking: { index: number; plan: P }[] = [];
  prepared.forEach((plan, j) => {
    const i = batched[j] as number;
    if (plan.status === 'rejected') results[i] = plan;
    else booking.push({ index: i, plan: plan.value });
  });
  // Never rejects: a failure inside the shared transaction poisons it (all units run again alone),
  // one outside it is this request's result alone.
  const book = async ({ index, plan }: { index: number; plan: P }) => {
    try {
      if ((await phases.book(plan)) === 'again') again.add(index);
      else again.delete(index);
      results[index] = OK;
    } catch (err) {
      again.delete(index);
      results[index] = failed(err);
    }
  };
  // In the shared transaction the bookings run side by side on its connection, so their ledger
  // transfers go in one statement (Ledger.applyIn); the first unit starts them all, each unit
  // waits for its own. Run again alone (a failure), each unit books its own.
  let pass = 0;
  let started: Promise<void>[] = [];
  const units = booking.map((b, k) => async () => {
    if (k === 0 && ++pass === 1) started = booking.map(book);
    await (pass === 1 ? started[k] : book(b));
  });
  const locks = prepared.flatMap((p) => (p.status === 'fulfilled' && phases.lockOf ? [phases.lockOf(p.value)] : []))
    .filter((id): id is string => !!id);
  // One statement locks every debit the units will change (in id order): worth it for two units or more.
  // Only for the shared attempt (no booking started yet); a failure poisons it, and the units run alone without it.
  if (units.length > 1 && locks.length > 0) {
    units.unshift(() => (pass === 0 ? service.lockDebits(locks).catch(() => undefined) : Promise.resolve()));
  }
  await inOneTransaction(service.pool, 'READ COMMITTED', units);

  const againIndexes = [...again];
  (await Promise.allSettled(againIndexes.map((i) => phases.single(messageOf(i)))))
    .forEach((r, k) => (results[againIndexes[k] as number] = r));
  (await aloneDone).forEach((r, k) => (results[aloneIndexes[k] as number] = r));
  for (const [i, first] of repeats) results[i] = results[first] as Settled;
  return results;
}

/** Repeat the one-request path for this reserve (its claim was not found, or the wallet fell short). */
const AGAIN = 'again';

/**
 * Reserves: every claim in one statement (committed before any carrier call), the carrier-funded
 * ones reserved at the carrier concurrently, then all booked and settled in one transaction.
 */
export function runReserveBatch(
  service: DebitService, items: readonly MessageItem<dialpay.v1.IDebitReserveRequested>[],
): Promise<Settled[]> {
  return runPhases<dialpay.v1.IDebitReserveRequested, ReserveBooking | typeof AGAIN>(service, items, {
    keyOf: (m) => service.checkReserve(m).debitId,
    single: (m) => service.reserve(m),
    prepare: async (messages) => {
      const read = messages.map((m) => settle(() => service.checkReserve(m)));
      // The SIM-swap checks before any claim: a held payment is a refusal, never claimed.
      let checks: PromiseSettledResult<ReserveCheck>[];
      try {
        const screened = await service.screenSimSwaps(read.flatMap((c) => (c.status === 'fulfilled' ? [c.value] : [])));
        let next = 0; // screened holds the fulfilled checks, in order
        checks = read.map((c) => (c.status === 'fulfilled' ? { status: 'fulfilled', value: screened[next++] as ReserveCheck } : c));
      } catch (err) {
        return read.map(() => failed(err) as PromiseRejectedResult);
      }
      const toClaim = checks.flatMap((c) => (c.status === 'fulfilled' && c.value.kind === 'claim' ? [c.value] : []));
      let claimed: Map<string, DebitRow>;
      try {
        claimed = toClaim.length > 0 ? await service.claimReserves(toClaim) : new Map();
      } catch (err) {
        return checks.map((c) => (c.status === 'rejected' ? c : failed(err) as PromiseRejectedResult));
      }
      return settleBounded(checks, CARRIER_CALLS_IN_FLIGHT_MAX, async (c): Promise<ReserveBooking | typeof AGAIN> => {
        if (c.status === 'rejected') throw c.reason;
        const check: ReserveCheck = c.value;
        if (check.kind === 'refuse') return service.reserveAtCarrier(check);
        const debit = claimed.get(check.debitId);
        // Claimed by a concurrent statement that committed after this one's snapshot: take the one-request path.
        if (!debit) return AGAIN;
        return service.reserveAtCarrier({ kind: 'claimed', check, debit });
      });
    },
    lockOf: (plan) => (plan !== AGAIN && plan.kind === 'claimed' ? plan.check.debitId : null),
    book: (plan) => (plan === AGAIN ? Promise.resolve(AGAIN) : service.bookReserve(plan)),
  });
}

/**
 * The debits of a batch read in one statement, then each item's carrier call (at most
 * CARRIER_CALLS_IN_FLIGHT_MAX at once) with its debit as read: captures and voids alike.
 */
async function readThenCallCarrier<T, P>(
  service: DebitService, items: readonly T[], debitIdOf: (item: T) => string, call: (item: T, debit: DebitRow | null) => Promise<P>,
): Promise<PromiseSettledResult<P>[]> {
  let debits: Map<string, DebitRow>;
  try {
    debits = await service.peekDebits(items.map(debitIdOf));
  } catch (err) {
    return items.map(() => failed(err) as PromiseRejectedResult);
  }
  return settleBounded(items, CARRIER_CALLS_IN_FLIGHT_MAX, (item) => call(item, debits.get(debitIdOf(item)) ?? null));
}

/**
 * Captures: the batch's debits read in one statement, the carrier-funded ones captured at the
 * carrier concurrently, then all booked in one transaction. An airtime capture runs alone: its
 * top-up is a carrier call that must follow the capture's booking. So does a cash-in with a
 * wallet cap: it locks the wallet's row before its booking, which in the shared transaction
 * would come after other units' locks, out of id order.
 */
export function runCaptureBatch(
  service: DebitService, items: readonly MessageItem<dialpay.v1.IDebitCaptureRequested>[],
): Promise<Settled[]> {
  return runPhases<dialpay.v1.IDebitCaptureRequested, CapturePlan>(service, items, {
    keyOf: (m) => service.checkCapture(m).debitId,
    alone: (m) => !!m.topUpMsisdn || capsPayeeWallet(m),
    single: (m) => service.capture(m),
    prepare: (messages) => {
      const checks = messages.map((m) => service.checkCapture(m)); // keyOf checked each already
      return readThenCallCarrier(service, checks, (c) => c.debitId, (c, debit) => service.captureAtCarrier(c, debit));
    },
    lockOf: (plan) => (plan.seen === null ? null : plan.check.debitId),
    book: (plan) => service.bookCapture(plan).then(() => 'done' as const),
  });
}

/** Voids: the batch's debits read in one statement, released at the carrier concurrently, then all settled in one transaction. */
export function runVoidBatch(service: DebitService, items: readonly MessageItem<dialpay.v1.IDebitVoidRequested>[]): Promise<Settled[]> {
  return runPhases<dialpay.v1.IDebitVoidRequested, VoidPlan>(service, items, {
    keyOf: (m) => required(m.debitId, 'debitId'),
    single: (m) => service.void(m),
    prepare: (messages) =>
      readThenCallCarrier(service, messages, (m) => m.debitId as string, (m, debit) => service.voidAtCarrier(m, debit)),
    lockOf: (plan) => (plan.seen === null ? null : plan.debitId),
    book: (plan) => service.bookVoid(plan).then(() => 'done' as const),
  });
}

/**
 * Refunds: every claim under its debit's lock in one transaction, the carrier's refunds
 * concurrently, then all booked in one transaction.
 */
export function runRefundBatch(
  service: DebitService, items: readonly MessageItem<dialpay.v1.IDebitRefundRequested>[],
): Promise<Settled[]> {
  return runPhases<dialpay.v1.IDebitRefundRequested, RefundPlan>(service, items, {
    keyOf: (m) => required(m.refundId, 'refundId'),
    single: (m) => service.refund(m),
    prepare: async (messages) => {
      const claims = new Array<PromiseSettledResult<RefundClaim>>(messages.length);
      const units = messages.map((m, i) => async () => {
        claims[i] = await settleAsync(() => service.claimRefund(m));
        // roll back the others' claims with it: each runs again alone
        if (claims[i]?.status === 'rejected') throw (claims[i] as PromiseRejectedResult).reason;
      });
      await inOneTransaction(service.pool, 'READ COMMITTED', units);
      return settleBounded(claims, CARRIER_CALLS_IN_FLIGHT_MAX, async (c) => {
        if (c.status === 'rejected') throw c.reason;
        return service.refundAtCarrier(c.value);
      });
    },
    book: (plan) => service.bookRefund(plan).then(() => 'done' as const),
  });
}

function settle<T>(fn: () => T): PromiseSettledResult<T> {
  try {
    return { status: 'fulfilled', value: fn() };
  } catch (reason) {
    return { status: 'rejected', reason };
  }
}

async function settleAsync<T>(fn: () => Promise<T>): Promise<PromiseSettledResult<T>> {
  try {
    return { status: 'fulfilled', value: await fn() };
  } catch (reason) {
    return { status: 'rejected', reason };
  }
}

function required(value: string | null | undefined, field: string): string {
  if (!value) throw new PermanentHandlerError(`${field} is missing`);
  return value;
}
