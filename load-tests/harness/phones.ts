// Simulated phones on the operator's SMSC that pay each other by SMS: SEND,
// wait for the challenge, YES <code>, wait for the receipt. Used by the payment
// benchmark and the fault drills; every receipt is booked for the invariants.
import type { Cluster } from './cluster.js';
import { ReceiptBook } from './invariants.js';
import { LatencyRecorder } from './latency.js';
import { NO_RESPONSE } from '../../operator-sim/index.js';

/** A flow that waits longer than this for an SMS counts as an error, and the phone moves on. */
const SMS_WAIT_MS = 30_000;
const AMOUNT = '1.50';
/** Seconds a timeline keeps; later events are dropped (a drill run lasts minutes). */
const TIMELINE_SECONDS_MAX = 3_600;

/** Completed payments and failed flows per second since `startMs`: throughput over time, for the fault drills. */
export class Timeline {
  readonly completed: number[] = [];
  readonly errors: number[] = [];

  constructor(readonly startMs: number = performance.now()) {}

  /** The second (since the start) that `atMs` falls in. */
  secondOf(atMs: number): number {
    return Math.floor((atMs - this.startMs) / 1_000);
  }

  note(kind: 'completed' | 'errors', atMs: number = performance.now()): void {
    const second = this.secondOf(atMs);
    if (second < 0 || second >= TIMELINE_SECONDS_MAX) return;
    const series = this[kind];
    while (series.length <= second) series.push(0);
    series[second] = (series[second] ?? 0) + 1;
  }

  /** Sum of one series over whole seconds [fromSecond, toSecond). */
  sum(kind: 'completed' | 'errors', fromSecond: number, toSecond: number): number {
    let total = 0;
    for (let s = Math.max(0, fromSecond); s < toSecond; s++) total += this[kind][s] ?? 0;
    return total;
  }
}

export interface Phase {
  completed: number;
  errors: number;
  readonly latency: LatencyRecorder;
  /** When present, every completion and error is also counted per second. */
  readonly timeline?: Timeline;
}

export interface PhonesOptions {
  /** How long a flow waits for each SMS before it counts as an error. */
  readonly smsWaitMs?: number;
  /**
   * Waits before re-sending an MO the gateway refused with a temporary error (or never
   * answered), as an SMSC's retry schedule; empty (the default) sends each MO once.
   */
  readonly moRetryDelaysMs?: readonly number[];
}

/** deliver_sm_resp statuses after which an SMSC tries again: the gateway could not take the message now. */
const TEMPORARY_STATUSES = new Set<number>([
  NO_RESPONSE,
  0x04, // ESME_RINVBNDSTS: the bind is not up yet
  0x08, // ESME_RSYSERR
  0x14, // ESME_RMSGQFUL
  0x58, // ESME_RTHROTTLED
  0x64, // ESME_RX_T_APPN
]);

// What a flow waits for. Anything else (a late SMS of an earlier flow, another payment's expiry) is not its answer.
const isChallengeAnswer = (text: string) => /YES \d{4}/.test(text) || /^Payment refused/.test(text) || (/^Payment of .* failed/.test(text) && !/not confirmed in time/.test(text));
const isReceiptAnswer = (text: string) => /^Paid /.test(text) || /^Payment of .* failed/.test(text) || /^Wrong code/.test(text) || /^No payment is waiting/.test(text);

export class Phones {
  readonly #waiting = new Map<string, { accepts: (text: string) => boolean; resolve: (text: string) => void }>();
  readonly #smsWaitMs: number;
  readonly #moRetryDelaysMs: readonly number[];
  mosAccepted = 0;
  /** MOs given up on: refused for good, or still refused after every retry. */
  mosRefused = 0;
  /** Temporary refusals (or unanswered deliver_sm) that were sent again. */
  mosRetried = 0;
  readonly receipts = new ReceiptBook();

  constructor(private readonly cluster: Pick<Cluster, 'smsc'>, options: PhonesOptions = {}) {
    this.#smsWaitMs = options.smsWaitMs ?? SMS_WAIT_MS;
    this.#moRetryDelaysMs = options.moRetryDelaysMs ?? [];
    cluster.smsc.onMessage((m) => {
      this.receipts.note(m.text, m.messageId, m.destination);
      const waiter = this.#waiting.get(m.destination);
      if (waiter?.accepts(m.text)) {
        this.#waiting.delete(m.destination);
        waiter.resolve(m.text);
      }
    });
  }

  /**
   * The next SMS to `phone` that `accepts` takes (one waiter per phone), or null after the SMS wait. Set it up before the MO it answers.
   */
  next(phone: string, accepts: (text: string) => boolean): Promise<string | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(phone);
        resolve(null);
      }, this.#smsWaitMs);
      this.#waiting.set(phone, {
        accepts,
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
      });
    });
  }

  /** An MO from `phone` to the short code, sent again on a temporary refusal per the retry schedule; true once accepted. */
  async send(phone: string, text: string): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const statuses = await this.cluster.smsc.sendFromPhone(phone, '384', text).catch(() => [NO_RESPONSE]);
      if (statuses.every((s) => s === 0)) {
        this.mosAccepted++;
        return true;
      }
      const delayMs = this.#moRetryDelaysMs[attempt];
      if (delayMs === undefined || !statuses.every((s) => s === 0 || TEMPORARY_STATUSES.has(s))) {
        this.mosRefused++;
        return false;
      }
      this.mosRetried++;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }

  /** One whole payment; true when the payer's receipt arrived. */
  async pay(payer: string, payee: string, phase: Phase): Promise<void> {
    const fail = () => {
      phase.errors++;
      phase.timeline?.note('errors');
    };
    let reply = this.next(payer, isChallengeAnswer);
    if (!(await this.send(payer, `SEND 0${payee.slice(3)} ${AMOUNT}`))) return fail();
    const challenge = await reply;
    const code = challenge && /YES (\d{4})/.exec(challenge)?.[1];
    if (!code) return fail();
    reply = this.next(payer, isReceiptAnswer);
    const sentAtMs = performance.now();
    if (!(await this.send(payer, `YES ${code}`))) return fail();
    const receipt = await reply;
    if (!receipt?.startsWith('Paid')) return fail();
    phase.latency.recordMs(performance.now() - sentAtMs);
    phase.completed++;
    phase.timeline?.note('completed');
  }
}

export const payerPhone = (i: number) => `2547${String(10_000_000 + i)}`;
export const payeePhone = (i: number) => `2547${String(60_000_000 + i)}`;

export interface RateOptions {
  readonly perSecond: number;
  readonly seconds: number;
  /** Distinct paying phones; each pays one payment at a time. */
  readonly phoneCount: number;
  /**
   * Payments in flight at most. A payment due while this many are in flight is not started
   * (counted in notStarted) rather than queued, so a rate the system cannot keep up with still
   * ends soon after `seconds`. Without it, the bound is the phones: with none idle, a due
   * payment counts as an error.
   */
  readonly inFlightMax?: number;
  /** Stops starting payments early (those in flight still finish); `seconds` stays the upper bound. */
  readonly signal?: AbortSignal;
  /** Counts into this phase (a drill keeps one timeline over many phases); a fresh one when absent. */
  readonly phase?: Phase;
}

export interface RateResult extends Phase {
  /** From the first start to the last flow's end. */
  readonly elapsedMs: number;
  /** Payments that came due. */
  readonly offered: number;
  /** Payments due while inFlightMax were in flight: never started. */
  readonly notStarted: number;
}

/**
 * Open loop: payment k starts at k/perSecond seconds whatever is still in flight,
 * so a slow system shows as latency (and, past inFlightMax or the phones, as
 * payments not started).
 */
export async function payAtRate(phones: Phones, options: RateOptions): Promise<RateResult> {
  const phase: Phase = options.phase ?? { completed: 0, errors: 0, latency: new LatencyRecorder() };
  const busy = new Set<number>();
  const flows = new Set<Promise<void>>();
  const started = performance.now();
  const total = options.perSecond * options.seconds;
  const inFlightMax = options.inFlightMax ?? Number.POSITIVE_INFINITY;
  let cursor = 0;
  let offered = 0;
  let notStarted = 0;
  for (let k = 0; k < total && !options.signal?.aborted; k++) {
    const due = started + (k * 1_000) / options.perSecond;
    const waitMs = due - performance.now();
    if (waitMs > 1) await new Promise((r) => setTimeout(r, waitMs));
    if (options.signal?.aborted) break;
    offered++;
    if (flows.size >= inFlightMax) {
      notStarted++;
      continue;
    }
    // A phone pays one payment at a time; with none idle the offered load is beyond what we can take.
    let tries = 0;
    while (busy.has(cursor % options.phoneCount) && tries++ < options.phoneCount) cursor++;
    if (tries >= options.phoneCount) {
      phase.errors++;
      phase.timeline?.note('errors');
      continue;
    }
    const i = cursor++ % options.phoneCount;
    busy.add(i);
    const flow: Promise<void> = phones.pay(payerPhone(i), payeePhone(i), phase).finally(() => {
      busy.delete(i);
      flows.delete(flow);
    });
    flows.add(flow);
  }
  await Promise.all(flows);
  return { ...phase, elapsedMs: performance.now() - started, offered, notStarted };
}

/** Closed loop: `phoneCount` phones each pay again as soon as their last payment ended, for `seconds`. */
export async function payClosedLoop(phones: Phones, phoneCount: number, seconds: number): Promise<Phase & { readonly elapsedMs: number }> {
  const phase: Phase = { completed: 0, errors: 0, latency: new LatencyRecorder() };
  const started = performance.now();
  const endAt = started + seconds * 1_000;
  await Promise.all(Array.from({ length: phoneCount }, async (_, i) => {
    while (performance.now() < endAt) await phones.pay(payerPhone(i), payeePhone(i), phase);
  }));
  // Completed within the phase's own time: flows that ran past the end still count, over their real span.
  return { ...phase, elapsedMs: performance.now() - started };
}
