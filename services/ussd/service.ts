// One USSD hop: find the session, replay the answers through the menu, save
// what the menu learned, answer with the screen. Every hop is answered, in
// time: a lost session, a late service or a broken menu each get a clear END.
import { offersAirtime } from '../../runtime/airtime.js';
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { dialpay } from '../../proto/index.js';
import type { Config, MerchantConfig, OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { maskMsisdn } from '../../runtime/log.js';
import { Counter, Histogram, LATENCY_BUCKETS_SECONDS, type Registry } from '../../runtime/metrics.js';
import { Requests, requestReply } from '../../runtime/nats/index.js';
import { MenuTimeoutError, asksForPin, fromPhone, runMenu } from './menu.js';
import { isConfirmationState } from './payment-states.js';
import type { Facts, MenuContext } from './walk.js';
import type { SessionStore } from './sessions.js';
import { text } from './texts.js';
import { shortcutAnswers } from './shortcut.js';
import { isSealed, openAnswer, sealAnswer } from './seal.js';
import { isE164 } from '../../runtime/msisdn.js';
import type { Language } from '../../runtime/language.js';

/** Kept back from the edge's deadline for saving the session and the reply's trip. */
const DEADLINE_MARGIN_MS = 150;
/** A hop with less time than this left is answered "unavailable" at once. */
const HOP_BUDGET_MIN_MS = 50;
/** When an edge sends no deadline. */
const HOP_BUDGET_DEFAULT_MS = 3_000;
/** Answers in one session; a longer one is someone leaning on the keypad. */
export const SESSION_ANSWERS_MAX = 40;

export class UssdMetrics {
  readonly hops: Counter<'operator' | 'outcome'>;
  readonly hopSeconds: Histogram<'operator'>;
  readonly callsFailed: Counter<'operator' | 'call'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.hops = new Counter({ name: 'dialpay_ussd_hops_total',
      help: 'USSD hops answered, by outcome (continue, end, timeout, error, rejected).', labelNames: ['operator', 'outcome'], registers });
    this.hopSeconds = new Histogram({ name: 'dialpay_ussd_hop_seconds', help: 'Time to answer a USSD hop in the ussd service.',
      labelNames: ['operator'], buckets: LATENCY_BUCKETS_SECONDS, registers });
    this.callsFailed = new Counter({ name: 'dialpay_ussd_service_calls_failed_total',
      help: 'Calls of the USSD menus to payments or billing (call) that failed or timed out: the screen said unavailable.',
      labelNames: ['operator', 'call'], registers });
  }
}

/** A menu's failed service call: logged (the masked number, the screen, the error) and counted. */
export function menuCallFailed(
  metrics: UssdMetrics, log: Logger, operatorId: string, msisdn: string,
): NonNullable<MenuContext['callFailed']> {
  return (call, state, err) => {
    metrics.callsFailed.inc({ operator: operatorId, call });
    log.warn({ err, msisdn: maskMsisdn(msisdn), state, call }, 'USSD menu call failed; the screen says unavailable');
  };
}

/** One hop's request, checked, with what it has left of its deadline. */
interface Hop {
  readonly operator: OperatorConfig;
  readonly msisdn: string;
  readonly sessionId: string;
  readonly language: Language;
  /** Counts the hop under `name` and records how long it took. */
  outcome(name: string): void;
  budgetMs(): number;
}

/** The answers so far, what the menu learned of them, and the dialogue's own id. */
interface Path {
  readonly answers: string[];
  readonly facts: Facts;
  readonly dialogueId: string;
}

export class UssdService {
  readonly #operators: ReadonlyMap<string, OperatorConfig>;
  readonly #merchants: ReadonlyMap<string, MerchantConfig>;
  readonly #config: Config;
  readonly #sessions: SessionStore;
  readonly #nc: NatsConnection;
  readonly #log: Logger;
  readonly #metrics: UssdMetrics;
  /** Seals the PINs a dialogue still needs in its kept path (seal.ts); never sent to NATS. */
  readonly #sealKey: Buffer;

  constructor(options: { config: Config; sessions: SessionStore; nc: NatsConnection; log: Logger; metrics: UssdMetrics; sealKey: Buffer }) {
    this.#sealKey = options.sealKey;
    this.#config = options.config;
    this.#operators = new Map(options.config.operators.map((o) => [o.id, o]));
    this.#merchants = new Map(options.config.merchants.map((m) => [m.id, m]));
    this.#sessions = options.sessions;
    this.#nc = options.nc;
    this.#log = options.log;
    this.#metrics = options.metrics;
  }

  async hop(request: dialpay.v1.IUssdHopRequest): Promise<dialpay.v1.IUssdHopReply> {
    const startedMs = performance.now();
    const operator = this.#operators.get(request.operatorId ?? '');
    const msisdn = request.msisdn ?? '';
    const sessionId = request.sessionId ?? '';
    if (!operator?.ussd || !isE164(msisdn) || sessionId.length === 0 || sessionId.length > 200) {
      this.#metrics.hops.inc({ operator: operator?.id ?? 'unknown', outcome: 'rejected' });
      return { text: text('unknownService', operator?.defaultLanguage ?? 'en'), end: true };
    }
    const deadlineMs = Number(request.deadlineUnixMs ?? 0) || Date.now() + HOP_BUDGET_DEFAULT_MS;
    const hop: Hop = {
      operator, msisdn, sessionId, language: operator.defaultLanguage,
      outcome: (name) => {
        this.#metrics.hops.inc({ operator: operator.id, outcome: name });
        this.#metrics.hopSeconds.observe({ operator: operator.id }, (performance.now() - startedMs) / 1000);
      },
      budgetMs: () => deadlineMs - Date.now() - DEADLINE_MARGIN_MS,
    };
    if (hop.budgetMs() < HOP_BUDGET_MIN_MS) {
      hop.outcome('timeout');
      return { text: text('unavailable', hop.language), end: true };
    }
    if (request.released) {
      await this.#release(hop);
      return { text: '', end: true };
    }
    const path = await this.#path(hop, request);
    if (path === null || path.answers.length > SESSION_ANSWERS_MAX) {
      hop.outcome('end');
      return { text: text('sessionLost', hop.language), end: true };
    }
    return this.#answer(hop, request, path);
  }

  /** The network ended the dialogue: nothing to show; payments this session left unconfirmed are cancelled now. */
  async #release(hop: Hop): Promise<void> {
    const { operator, msisdn, sessionId } = hop;
    try {
      // The dialogue's own id names its payments; with no session left there is nothing of it to cancel.
      const released = await this.#sessions.get(sessionId);
      if (!released || released.msisdn !== msisdn || released.operatorId !== operator.id) {
        hop.outcome('released');
        return;
      }
      const dialogueId = released.dialogueId ?? sessionId;
      const reply = await requestReply(this.#nc, Requests.paymentsSubscriber,
        { operatorId: operator.id, msisdn, releaseSession: { sessionId: dialogueId } }, Math.max(1, hop.budgetMs()))
        // Over or not, the dialogue is gone: so is its session, with any PIN typed toward a PIN choice or change.
        .finally(() => this.#sessions.forget(sessionId).catch((err: unknown) => this.#log.warn(
          { err, msisdn: maskMsisdn(msisdn) }, 'could not remove a released USSD session; its TTL does')));
      if ((reply.cancelled ?? 0) > 0) {
        this.#log.info({ msisdn: maskMsisdn(msisdn), cancelled: reply.cancelled },
          'USSD dialogue released by the network; its unconfirmed payment cancelled');
      }
      hop.outcome('released');
    } catch (err) {
      // The payment still expires with its challenge.
      this.#log.warn({ err, msisdn: maskMsisdn(msisdn) }, 'could not cancel what a released USSD dialogue left; it expires instead');
      hop.outcome('error');
    }
  }

  /** The answers so far and what the menu learned of them; null when the session behind them is lost. */
  async #path(hop: Hop, request: dialpay.v1.IUssdHopRequest): Promise<Path | null> {
    const { operator, msisdn, sessionId } = hop;
    const input = request.text ?? '';
    // A dial starts afresh and an HTTP hop right after one this process answered is in memory:
    // only the others read the session from KV.
    const fresh = request.inputOnly ? request.begins === true : input === '';
    const pathLength = request.inputOnly ? null : input === '' ? 0 : input.split('*').length;
    const recent = () => (pathLength !== null ? this.#sessions.recent(sessionId, pathLength - 1) : null);
    const record = fresh ? null : (recent() ?? (await this.#sessions.get(sessionId)));
    const sameOwner = record !== null && record.msisdn === msisdn && record.operatorId === operator.id;
    // A new dialogue gets a new id, even where the edge reuses its session id (see MenuContext.dialogueId).
    const continues = request.inputOnly ? request.begins !== true && sameOwner : input !== '' && sameOwner;
    const dialogueId = continues ? (record?.dialogueId ?? sessionId) : `${sessionId}~${randomUUID()}`;
    if (request.inputOnly) {
      const begins = request.begins === true || !sameOwner;
      const kept = begins ? [] : this.#opened(sessionId, record.answers ?? []);
      // Sealed by another key (a replica without the shared ussd.sessionSealKey) or altered: start again, never guess.
      if (kept === null) return null;
      return { answers: begins ? [] : [...kept, fromPhone(input)], facts: begins ? {} : { ...record.facts }, dialogueId };
    }
    const answers = input === '' ? [] : input.split('*').map(fromPhone);
    // A path with no session behind it: the session expired, or another replica's write was lost.
    if (answers.length > 0 && !sameOwner) return null;
    return { answers, facts: answers.length === 0 || !sameOwner ? {} : { ...record.facts }, dialogueId };
  }

  /** Runs the menu over the path, keeps what it learned, and answers with its screen. */
  async #answer(hop: Hop, request: dialpay.v1.IUssdHopRequest, path: Path): Promise<dialpay.v1.IUssdHopReply> {
    const { operator, msisdn, sessionId } = hop;
    const { facts, dialogueId } = path;
    let answers = path.answers;
    try {
      const menuContext = this.#menuContext(hop, dialogueId);
      let result = await runMenu(menuContext, facts, answers, Math.max(1, hop.budgetMs()));
      // A shortcut dial (*384*1*SHOP42#) types its answers ahead, once the home screen is the main menu:
      // a subscriber still to choose a PIN, or a profile that did not load, sees the home screen instead.
      const typedAhead = answers.length === 0 && request.inputOnly
        ? shortcutAnswers(request.serviceCode ?? '', operator.ussd?.serviceCodes ?? []) : [];
      if (typedAhead.length > 0 && (facts[0] as { hasPin?: boolean } | undefined)?.hasPin === true) {
        // One answer at a time, stopping at a screen that asks for the PIN: that is typed on the phone, never in the dial.
        for (const part of typedAhead) {
          if (result.screen.end || asksForPin(result.state)) break;
          answers = [...answers, part];
          result = await runMenu(menuContext, facts, answers, Math.max(1, hop.budgetMs()));
        }
        result = { ...result, factsChanged: true };
      }
      // An SMPP edge sends only the newest answer, so the path is kept, with its PINs masked (menu.ts keptAnswers).
      // A PIN a later screen still needs is sealed (seal.ts): no PIN rests in KV in clear.
      const waiting = new Set(result.pinsWaitingAt);
      const keptAnswers = result.keptAnswers.map((answer, position) => (
        waiting.has(position) ? sealAnswer(this.#sealKey, sessionId, position, answer) : answer));
      const saved = { operatorId: operator.id, msisdn, answers: request.inputOnly ? keptAnswers : null, facts, dialogueId };
      await this.#sessions.save(sessionId, saved, answers.length, result.factsChanged || request.inputOnly === true);
      hop.outcome(result.screen.end ? 'end' : 'continue');
      return { text: result.screen.text, end: result.screen.end };
    } catch (err) {
      const timedOut = err instanceof MenuTimeoutError;
      hop.outcome(timedOut ? 'timeout' : 'error');
      this.#log.warn({ err, msisdn: maskMsisdn(msisdn), answers: answers.length, state: timedOut ? err.state : undefined },
        timedOut ? 'USSD hop ran out of time' : 'USSD menu failed');
      // Out of time at "1 Confirm": payments may have the confirmation, so not "try again" (the subscriber could pay twice).
      const unsure = timedOut && isConfirmationState(err.state);
      return { text: text(unsure ? 'confirmUnsure' : 'unavailable', hop.language), end: true };
    }
  }

  /** What the menu may ask of the rest of dialpay for this hop, each call bounded by what is left of its deadline. */
  #menuContext(hop: Hop, dialogueId: string): MenuContext {
    const { operator, msisdn, sessionId } = hop;
    return {
      sessionId, dialogueId, operator, msisdn, merchants: this.#merchants,
      airtimeOffered: offersAirtime(operator),
      operators: this.#config.operators,
      callFailed: menuCallFailed(this.#metrics, this.#log, operator.id, msisdn),
      services: {
        payments: (q) => requestReply(this.#nc, Requests.paymentsSubscriber, q, Math.max(1, hop.budgetMs())),
        balance: (q) => requestReply(this.#nc, Requests.billingBalance, q, Math.max(1, hop.budgetMs())),
      },
    };
  }

  /** The kept path with its sealed PINs opened; null when one cannot be opened here. */
  #opened(sessionId: string, kept: readonly string[]): string[] | null {
    const opened: string[] = [];
    for (const [position, answer] of kept.entries()) {
      const plain = isSealed(answer) ? openAnswer(this.#sealKey, sessionId, position, answer) : answer;
      if (plain === null) return null;
      opened.push(plain);
    }
    return opened;
  }
}
