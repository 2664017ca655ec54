// One hop's walk through the *384# menu (see menu.ts for how a hop replays
// the path), and what every screen is built from: its fact, its route, the
// payments call it may make.
import type { dialpay } from '../../proto/index.js';
import type { MerchantConfig, OperatorConfig } from '../../runtime/config/index.js';
import { text, type TextKey } from './texts.js';
import { languageOr, type Language } from '../../runtime/language.js';
import { ReplyError } from '../../runtime/nats/index.js';

export const PIN_PATTERN = /^\d{4}$/;
/**
 * What a kept path (the session in KV) holds instead of an answer typed at a PIN screen, so a PIN
 * rests there no longer than the step that needs it (see keptAnswers). Replaying it takes the same
 * route: the screen took a PIN (KEPT_PIN) or refused what was typed (KEPT_REFUSED). The fact stored
 * for the screen it led to means it is never needed again.
 */
export const KEPT_PIN = '<pin>';
export const KEPT_REFUSED = '<not-a-pin>';

/** JSON, so it can live in the session. Amounts are decimal strings. */
export type Fact = Readonly<Record<string, string | number | boolean | undefined>>;
export type Facts = Record<number, Fact>;

export interface Screen {
  readonly text: string;
  readonly end: boolean;
}

/** What the menu may ask of the rest of dialpay; each call is bounded by the hop's deadline. */
export interface MenuServices {
  payments(request: dialpay.v1.ISubscriberCommandRequest): Promise<dialpay.v1.ISubscriberCommandReply>;
  balance(request: dialpay.v1.IBalanceRequest): Promise<dialpay.v1.IBalanceReply>;
}

export interface MenuContext {
  readonly sessionId: string;
  /**
   * This dialogue's own id: the edge's session id plus a nonce made at the dial. Edges reuse
   * session ids (SMPP its_session_info numbers repeat, the msisdn dialect has one per subscriber),
   * and a payment's request id must never meet an earlier dialogue's.
   */
  readonly dialogueId: string;
  readonly operator: OperatorConfig;
  readonly msisdn: string;
  readonly merchants: ReadonlyMap<string, MerchantConfig>;
  /** Whether the operator sells airtime through dialpay (runtime/airtime.ts offersAirtime). */
  readonly airtimeOffered: boolean;
  readonly services: MenuServices;
  /** Every operator, to tell whether a number typed for SEND is on a network we reach (their number ranges). */
  readonly operators?: readonly OperatorConfig[];
  /** A service call failed at screen `state` (the screen shows it as unavailable): the service logs and counts it. */
  readonly callFailed?: (call: MenuCall, state: string, err: unknown) => void;
}

export type MenuCall = keyof MenuServices;

export type Route = string | { readonly invalid: TextKey };

/** One hop's walk through the menu: the path so far, and what each answer did. */
export class Walk {
  /** Answers consumed so far while replaying. */
  position = 0;
  /** Where the current screen's fact is stored: the number of answers before the screen was entered. */
  factKey = 0;
  invalid: TextKey | null = null;
  page = 0;
  /** Each accepted answer and the screen it led to, in order. */
  readonly moves: { readonly input: string; readonly to: string; readonly factKey: number }[] = [];
  /** Answers typed at a screen that asks for a PIN, by position: whether the screen took them. */
  readonly pinAnswers = new Map<number, boolean>();
  dirty = false;
  /** The screen being rendered (and whose load may call a service). */
  state = 'start';

  constructor(readonly context: MenuContext, readonly facts: Facts) {}

  /** A service call of this screen failed: told to the service, which logs and counts it. */
  callFailed(call: MenuCall, err: unknown): void {
    this.context.callFailed?.(call, this.state, err);
  }

  get language(): Language {
    const profile = this.facts[0];
    return languageOr(profile?.language, this.context.operator.defaultLanguage);
  }

  /** The newest answer that led to `state`. */
  enteredWith(state: string): string {
    for (let i = this.moves.length - 1; i >= 0; i--) if (this.moves[i]?.to === state) return this.moves[i]?.input as string;
    return '';
  }

  /** The fact of the newest arrival at `state`. */
  factOf(state: string): Fact | undefined {
    for (let i = this.moves.length - 1; i >= 0; i--) {
      const move = this.moves[i];
      if (move?.to === state) return this.facts[move.factKey];
    }
    return undefined;
  }

  /** The PIN typed to reach `state` on this hop; '' when it is one a kept path masked (then it is not this hop's). */
  pinAnswer(state: string): string {
    const pin = this.enteredWith(state);
    return pin === KEPT_PIN || pin === KEPT_REFUSED ? '' : pin;
  }

  visited(state: string): boolean {
    return this.moves.some((m) => m.to === state);
  }

  t(key: TextKey, args: Record<string, string> = {}): string {
    return text(key, this.language, args);
  }
}

export interface StateDef {
  /** The side effect of arriving here; its result becomes this screen's fact. */
  load?: (walk: Walk) => Promise<Fact>;
  screen: (fact: Fact | undefined, walk: Walk) => Screen;
  /** Pure: where an answer leads. Absent on screens that end the session. */
  next?: (input: string, fact: Fact | undefined, walk: Walk) => Route;
}

export const con = (text: string): Screen => ({ text, end: false });
export const end = (text: string): Screen => ({ text, end: true });
export const Outcome = {
  OK: 1, WRONG_PIN: 2, PIN_LOCKED: 3, REFUSED: 4, NOT_FOUND: 5, ENDED: 6, UNAVAILABLE: 7,
} as const satisfies Record<string, dialpay.v1.CommandOutcome>;

type Command = Omit<dialpay.v1.ISubscriberCommandRequest, 'operatorId' | 'msisdn'>;

/** A service call that failed or timed out is a fact too: the screen says "try later". */
export async function ask(walk: Walk, request: Command): Promise<dialpay.v1.ISubscriberCommandReply> {
  return (await askOrUnsure(walk, request)).reply;
}

/**
 * As ask, and whether payments may have the request though no answer came (`unsure`): a timeout, or
 * any failure but those refused before the request left (503: nobody listens or the connection is
 * closed; 429: too many requests waiting). A confirmation that is unsure may be being paid.
 */
export async function askOrUnsure(walk: Walk, request: Command): Promise<{ reply: dialpay.v1.ISubscriberCommandReply; unsure: boolean }> {
  try {
    const reply = await walk.context.services.payments({ ...request, operatorId: walk.context.operator.id, msisdn: walk.context.msisdn });
    return { reply, unsure: false };
  } catch (err) {
    walk.callFailed('payments', err);
    const neverSent = err instanceof ReplyError && (err.code === 503 || err.code === 429);
    return { reply: { outcome: Outcome.UNAVAILABLE }, unsure: !neverSent };
  }
}

export const pinNext = (to: string) => (input: string): Route => (PIN_PATTERN.test(input) ? to : { invalid: 'invalidPin' });
