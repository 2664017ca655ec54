// The SIM-swap check before money leaves: a reserve whose request asks for it
// (DebitReserveRequested.sim_swap_max_age_hours, set by payments) is checked with the payer's
// operator's CAMARA SIM Swap API before its claim. Swapped within maxAge: the payment is held
// (DEBIT_OUTCOME_RISK_HOLD, detail "sim-swap"), nothing is claimed, reserved or booked. The API
// down or erroring after its retries: operators[].simSwap.onUnavailable says hold (detail
// "sim-swap-unavailable") or allow. The checks of a batch run side by side, each bounded in time.
// A debit already on record (an earlier delivery claimed or refused it) is not checked again: its
// row holds the decision, so a redelivered request gets the same answer.
import type pg from 'pg';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { maskMsisdn, type Logger } from '../../runtime/log.js';
import { Counter, type Registry } from '../../runtime/metrics.js';
import { settleBounded } from '../../runtime/settle-bounded.js';
import { SimSwapApi, type SimSwapAnswer } from './adapters/sim-swap-http.js';

export const SIM_SWAP_HOLD = 'sim-swap';
export const SIM_SWAP_UNAVAILABLE_HOLD = 'sim-swap-unavailable';

/** The most a batch's checks may take together, whatever the config: far under the reserve consumer's 30 s ack wait. */
export const SIM_SWAP_BATCH_DEADLINE_MS_MAX = 10_000;

/** Checks of one batch in flight at once. */
export const SIM_SWAP_CHECKS_IN_FLIGHT_MAX = 32;

/** What a reserve needs checked: the debit, its operator, the payer's number and the window. */
export interface SimSwapAsk {
  readonly debitId: string;
  readonly paymentId: string;
  readonly operator: OperatorConfig;
  readonly msisdn: string;
  readonly maxAgeHours: number;
}

export type SimSwapOutcome = 'swapped' | 'not-swapped' | 'unavailable' | 'skipped';

export class SimSwapChecks {
  readonly #apis = new Map<string, SimSwapApi>();
  readonly #checks: Counter<'operator' | 'outcome'> | null;
  readonly #log: Logger;

  constructor(options: { readonly registry?: Registry; readonly log: Logger }) {
    this.#log = options.log;
    this.#checks = options.registry ? new Counter({
      name: 'dialpay_sim_swap_checks_total',
      help: 'SIM-swap checks before money leaves, by operator and outcome (swapped, not-swapped, unavailable: billing; '
        + 'skipped: the operator has no SIM Swap API).',
      labelNames: ['operator', 'outcome'],
      registers: [options.registry],
    }) : null;
  }

  /**
   * The holds among these asks: debit id -> the hold's detail. Debits already in billing.debits are
   * not asked (their row says what was decided). Never throws for the API's sake: its failures are
   * 'unavailable', decided by the operator's onUnavailable.
   */
  async holds(pool: pg.Pool, asks: readonly SimSwapAsk[]): Promise<Map<string, string>> {
    const held = new Map<string, string>();
    if (asks.length === 0) return held;
    const { rows } = await pool.query<{ debit_id: string }>(
      'SELECT debit_id FROM billing.debits WHERE debit_id = ANY ($1::text[])', [asks.map((a) => a.debitId)],
    );
    const recorded = new Set(rows.map((r) => r.debit_id));
    const fresh = [...new Map(asks.filter((a) => !recorded.has(a.debitId)).map((a) => [a.debitId, a])).values()];
    // One deadline for the whole batch: checks queued behind slow ones do not add up past it.
    const deadlineAt = Date.now() + Math.max(0, ...fresh.map((a) => (a.operator.simSwap ? deadlineMs(a.operator.simSwap) : 0)));
    const outcomes = await settleBounded(fresh, SIM_SWAP_CHECKS_IN_FLIGHT_MAX, (ask) => this.#checkOne(ask, deadlineAt));
    outcomes.forEach((outcome, i) => {
      const ask = fresh[i] as SimSwapAsk;
      const answer: SimSwapAnswer = outcome.status === 'fulfilled' ? outcome.value
        : { kind: 'unavailable', detail: String((outcome.reason as Error)?.message ?? outcome.reason) };
      const detail = holdFor(ask.operator, answer);
      if (detail) held.set(ask.debitId, detail);
    });
    return held;
  }

  async #checkOne(ask: SimSwapAsk, deadlineAt: number): Promise<SimSwapAnswer> {
    const config = ask.operator.simSwap;
    if (!config) {
      // payments asked, this billing's config has no API for the operator (replicas on different configs)
      this.#count(ask.operator.id, 'skipped');
      return { kind: 'not-swapped' };
    }
    const leftMs = Math.min(deadlineMs(config), deadlineAt - Date.now());
    const answer = leftMs <= 0 ? { kind: 'unavailable' as const, detail: 'no time left in this batch' }
      : await withDeadline(this.#api(ask.operator).check(ask.msisdn, ask.maxAgeHours, ask.debitId), leftMs);
    this.#count(ask.operator.id, answer.kind);
    if (answer.kind === 'unavailable') {
      this.#log.warn({ paymentId: ask.paymentId, operatorId: ask.operator.id, payer: maskMsisdn(ask.msisdn), detail: answer.detail,
        onUnavailable: config.onUnavailable }, 'SIM-swap check unavailable');
    } else if (answer.kind === 'swapped') {
      this.#log.warn({ paymentId: ask.paymentId, operatorId: ask.operator.id, payer: maskMsisdn(ask.msisdn), maxAgeHours: ask.maxAgeHours },
        'SIM swapped recently: payment held');
    }
    return answer;
  }

  #api(operator: OperatorConfig): SimSwapApi {
    let api = this.#apis.get(operator.id);
    if (!api) {
      api = new SimSwapApi(operator.simSwap as NonNullable<OperatorConfig['simSwap']>);
      this.#apis.set(operator.id, api);
    }
    return api;
  }

  #count(operatorId: string, outcome: SimSwapOutcome): void {
    this.#checks?.inc({ operator: operatorId, outcome });
  }
}

/** The hold's detail an answer earns, or null to reserve as usual. Pure. */
export function holdFor(operator: Pick<OperatorConfig, 'simSwap'>, answer: SimSwapAnswer): string | null {
  if (answer.kind === 'swapped') return SIM_SWAP_HOLD;
  if (answer.kind === 'unavailable' && operator.simSwap?.onUnavailable !== 'allow') return SIM_SWAP_UNAVAILABLE_HOLD;
  return null;
}

/**
 * The most one check may take: every try's timeout and its token's, and the waits between tries
 * (defaults: 2 x 2 x 2 s + 0.1 s), at most SIM_SWAP_BATCH_DEADLINE_MS_MAX.
 */
function deadlineMs(config: NonNullable<OperatorConfig['simSwap']>): number {
  const { attemptsMax, timeoutMs, retryDelayMs } = config;
  return Math.min(SIM_SWAP_BATCH_DEADLINE_MS_MAX, attemptsMax * 2 * timeoutMs + (attemptsMax * (attemptsMax - 1) / 2) * retryDelayMs);
}

async function withDeadline(check: Promise<SimSwapAnswer>, ms: number): Promise<SimSwapAnswer> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<SimSwapAnswer>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'unavailable', detail: `no answer within ${ms} ms` }), ms);
  });
  try {
    return await Promise.race([check, late]);
  } finally {
    clearTimeout(timer);
  }
}
