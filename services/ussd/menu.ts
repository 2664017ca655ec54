// The *384# menu. ussd-menu-builder replays the whole path of answers on every
// hop, so each screen is split in two:
//   - `next`: pure. Where an answer leads, from the answer and facts already
//     known; it never calls anything, so replaying it is free and repeatable.
//   - `load`: the side effect (ask payments or billing), run only when a hop
//     first arrives at a screen. Its result is stored in the session as that
//     screen's fact, keyed by the number of answers before it; later hops
//     replay through it without asking again, and an operator's retry of a
//     hop gets the same answer.
// An answer a screen cannot take re-shows that screen with an error line. A
// screen longer than one message is paged with "00 More".
import UssdMenu from 'ussd-menu-builder';
import { moneyFromProto } from '../../proto/index.js';
import { formatAmount } from '../../runtime/money.js';
import { operatorForNumber, toE164 } from '../../runtime/msisdn.js';
import { SCREEN_CHARS_MAX, paginate } from './screens.js';
import { text } from './texts.js';
import { languageOr } from '../../runtime/language.js';
import { balanceView } from '../../runtime/statement.js';
import { amountState, paymentStates } from './payment-states.js';
import {
  KEPT_PIN, KEPT_REFUSED, Outcome, Walk, ask, con, end, pinNext,
  type Fact, type Facts, type MenuContext, type Route, type Screen, type StateDef,
} from './walk.js';

/** The answer that shows the next page of a long screen. */
export const MORE = '00';
/** A PIN-shaped stand-in that routes a KEPT_PIN answer on replay; it is never sent anywhere (see pinAnswer). */
const KEPT_PIN_ROUTE = '0000';
const REFERENCE_PATTERN = /^[A-Za-z0-9._/-]{1,20}$/;
/** An agent's id as registered (payments' AGENT_ID), typed in either case; whether it names an agent, payments says. */
const AGENT_ID_PATTERN = /^[A-Z0-9-]{2,32}$/;
/** Lines of the mini statement. */
const STATEMENT_LINES = 5;

/** The agent id payments gave with the profile when the dialling line is an active agent's; '' otherwise. */
function agentOf(walk: Walk): string {
  return String(walk.facts[0]?.agentId ?? '');
}

/** The main menu: an agent's line also deposits and reads its float (issue 16). */
function mainText(walk: Walk): string {
  return walk.t(agentOf(walk) ? 'mainAgent' : 'main');
}

function mainNext(input: string, walk: Walk): Route {
  switch (input) {
    case '1': return 'pay.merchant';
    case '2': return 'send.msisdn';
    case '3': return 'airtime.who';
    case '4': return 'account';
    case '5': return 'withdraw.agent';
  }
  if (agentOf(walk) && input === '6') return 'deposit.msisdn';
  if (agentOf(walk) && input === '7') return 'agent.float';
  return { invalid: 'invalidChoice' };
}

async function balanceFact(walk: Walk, lines: number): Promise<Fact> {
  try {
    const reply = await walk.context.services.balance({
      operatorId: walk.context.operator.id, msisdn: walk.context.msisdn, statementLinesMax: lines,
    });
    const view = balanceView(reply, walk.context.operator.currency, walk.language);
    if (!view) return { ok: false };
    return {
      ok: true, balance: view.carrierUnavailable ? '' : view.shown,
      wallet: (view.balance || view.carrierUnavailable) && view.wallet ? view.wallet : undefined,
      lines: view.lines.join('\n'),
    };
  } catch (err) {
    walk.callFailed('balance', err);
    return { ok: false };
  }
}

export const STATES: Readonly<Record<string, StateDef>> = {
  start: {
    load: async (walk) => {
      const r = await ask(walk, { profile: {} });
      if (r.outcome !== Outcome.OK) return { unavailable: true };
      return { hasPin: r.hasPin ?? false, language: r.language ?? walk.context.operator.defaultLanguage, agentId: r.agentId || undefined };
    },
    screen: (fact, walk) => {
      if (!fact || fact.unavailable) return end(walk.t('unavailable'));
      return con(fact.hasPin ? mainText(walk) : walk.t('choosePin'));
    },
    next: (input, fact, walk) => (fact?.hasPin ? mainNext(input, walk) : pinNext('pin.repeat')(input)),
  },
  'pin.repeat': { screen: (_f, walk) => con(walk.t('repeatPin')), next: pinNext('pin.saved') },
  'pin.saved': {
    load: async (walk) => {
      const chosen = walk.pinAnswer('pin.repeat');
      if (chosen === '' || chosen !== walk.pinAnswer('pin.saved')) return { result: 'differ' };
      const r = await ask(walk, { setPin: { newPin: chosen } });
      return { result: r.outcome === Outcome.OK ? 'ok' : r.outcome === Outcome.REFUSED ? 'weak' : 'unavailable' };
    },
    screen: (fact, walk) => {
      switch (fact?.result) {
        case 'ok': return con(`${walk.t('pinSaved')}\n${mainText(walk)}`);
        case 'differ': return con(walk.t('pinsDiffer'));
        case 'weak': return con(walk.t('pinWeak'));
        default: return end(walk.t(fact ? 'unavailable' : 'sessionLost'));
      }
    },
    next: (input, fact, walk) => (fact?.result === 'ok' ? mainNext(input, walk) : pinNext('pin.repeat')(input)),
  },
  'pay.merchant': {
    screen: (_f, walk) => con(walk.t('merchantCode')),
    next: (input, _f, walk) => {
      const merchant = walk.context.merchants.get(input.trim().toUpperCase());
      return merchant && merchant.operatorIds.includes(walk.context.operator.id) ? 'pay.amount' : { invalid: 'invalidMerchant' };
    },
  },
  'pay.amount': amountState('pay', 'pay.reference'),
  'pay.reference': {
    screen: (_f, walk) => con(walk.t('reference')),
    next: (input) => (REFERENCE_PATTERN.test(input) ? 'pay.pin' : { invalid: 'invalidReference' }),
  },
  ...paymentStates('pay'),
  'send.msisdn': {
    screen: (_f, walk) => con(walk.t('phoneNumber')),
    next: (input, _f, walk) => {
      // A national number is the payer's country's; its operator is the one whose range holds it (payments checks the rest).
      const e164 = toE164(input, walk.context.operator.countryCallingCode);
      if (!e164) return { invalid: 'invalidNumber' };
      return walk.context.operators && !operatorForNumber(walk.context.operators, e164) ? { invalid: 'unreachableNumber' } : 'send.amount';
    },
  },
  'send.amount': amountState('send', 'send.pin'),
  ...paymentStates('send'),
  'airtime.who': {
    screen: (_f, walk) => (walk.context.airtimeOffered ? con(walk.t('airtimeFor')) : end(walk.t('airtimeUnavailable'))),
    next: (input) => (input === '1' ? 'airtime.amount' : input === '2' ? 'airtime.msisdn' : { invalid: 'invalidChoice' }),
  },
  'airtime.msisdn': {
    screen: (_f, walk) => con(walk.t('phoneNumber')),
    next: (input, _f, walk) => (toE164(input, walk.context.operator.countryCallingCode) ? 'airtime.amount' : { invalid: 'invalidNumber' }),
  },
  'airtime.amount': amountState('airtime', 'airtime.pin'),
  ...paymentStates('airtime'),
  'withdraw.agent': {
    screen: (_f, walk) => con(walk.t('agentNumber')),
    next: (input) => (AGENT_ID_PATTERN.test(input.trim().toUpperCase()) ? 'withdraw.amount' : { invalid: 'invalidAgent' }),
  },
  'withdraw.amount': amountState('withdraw', 'withdraw.pin'),
  ...paymentStates('withdraw'),
  // The agent menu (mainNext offers these to an agent's line only; payments checks the agent again).
  'deposit.msisdn': {
    screen: (_f, walk) => con(walk.t('phoneNumber')),
    next: (input, _f, walk) => (toE164(input, walk.context.operator.countryCallingCode) ? 'deposit.amount' : { invalid: 'invalidNumber' }),
  },
  'deposit.amount': amountState('deposit', 'deposit.pin'),
  ...paymentStates('deposit'),
  'agent.float': {
    load: async (walk) => {
      try {
        const reply = await walk.context.services.balance({
          operatorId: walk.context.operator.id, msisdn: walk.context.msisdn, walletOnly: true, agentId: agentOf(walk),
        });
        if (!reply.available || !reply.wallet) return { ok: false };
        return { ok: true, balance: formatAmount(moneyFromProto(reply.wallet).amountMinor, walk.context.operator.currency, walk.language) };
      } catch (err) {
        walk.callFailed('balance', err);
        return { ok: false };
      }
    },
    screen: (fact, walk) => end(fact?.ok
      ? walk.t('floatBalance', { balance: String(fact.balance) }) : walk.t(fact ? 'unavailable' : 'sessionLost')),
  },
  account: {
    screen: (_f, walk) => con(walk.t('account')),
    next: (input) => ({ '1': 'account.balance', '2': 'account.statement', '3': 'pin.current', '4': 'language' })[input]
      ?? { invalid: 'invalidChoice' },
  },
  'account.balance': {
    load: (walk) => balanceFact(walk, 0),
    screen: (fact, walk) => {
      if (!fact?.ok) return end(walk.t('unavailable'));
      if (fact.wallet === undefined) return end(walk.t('balance', { balance: String(fact.balance) }));
      return end(walk.t('balances', {
        wallet: String(fact.wallet), operator: walk.context.operator.name, balance: String(fact.balance) || walk.t('notNow'),
      }));
    },
  },
  'account.statement': {
    load: (walk) => balanceFact(walk, STATEMENT_LINES),
    screen: (fact, walk) => {
      if (!fact?.ok) return end(walk.t('unavailable'));
      return end(fact.lines ? walk.t('statement', { lines: String(fact.lines) }) : walk.t('noStatement'));
    },
  },
  'pin.current': { screen: (_f, walk) => con(walk.t('currentPin')), next: pinNext('pin.new') },
  'pin.new': { screen: (_f, walk) => con(walk.t('newPin')), next: pinNext('pin.again') },
  'pin.again': { screen: (_f, walk) => con(walk.t('repeatNewPin')), next: pinNext('pin.changed') },
  'pin.changed': {
    load: async (walk) => {
      const newPin = walk.pinAnswer('pin.again');
      if (newPin === '' || newPin !== walk.pinAnswer('pin.changed')) return { result: 'differ' };
      const r = await ask(walk, { setPin: { currentPin: walk.pinAnswer('pin.new'), newPin } });
      const results: Readonly<Record<number, string>> = {
        [Outcome.OK]: 'ok', [Outcome.WRONG_PIN]: 'wrong', [Outcome.PIN_LOCKED]: 'locked', [Outcome.REFUSED]: 'weak',
      };
      const result = results[r.outcome ?? 0] ?? 'unavailable';
      return { result, left: r.attemptsLeft ?? 0 };
    },
    screen: (fact, walk) => {
      switch (fact?.result) {
        case 'ok': return end(walk.t('pinChanged'));
        case 'differ': return end(walk.t('newPinsDiffer'));
        case 'weak': return end(walk.t('newPinWeak'));
        case 'wrong': return end(walk.t('wrongPinEnd', { left: String(fact.left) }));
        case 'locked': return end(walk.t('pinLocked'));
        default: return end(walk.t(fact ? 'unavailable' : 'sessionLost'));
      }
    },
  },
  language: {
    screen: (_f, walk) => con(walk.t('language')),
    next: (input) => (input === '1' || input === '2' ? 'language.set' : { invalid: 'invalidChoice' }),
  },
  'language.set': {
    load: async (walk) => {
      const language = walk.enteredWith('language.set') === '2' ? 'fr' : 'en';
      const r = await ask(walk, { setLanguage: { language } });
      return { ok: r.outcome === Outcome.OK, language };
    },
    screen: (fact, walk) => (fact?.ok ? end(text('languageSet', languageOr(fact.language, 'en'))) : end(walk.t('unavailable'))),
  },
};

/** The screen as sent: the error line on top, then the page asked for, with "00 More" when more follow. */
function composed(name: string, fact: Fact | undefined, walk: Walk): { pages: string[]; end: boolean } {
  const def = STATES[name] as StateDef;
  const screen = def.screen(fact, walk);
  const full = walk.invalid ? `${walk.t(walk.invalid)}\n${screen.text}` : screen.text;
  return { pages: paginate(full, SCREEN_CHARS_MAX, walk.t('more')), end: screen.end };
}

export interface MenuResult {
  readonly screen: Screen;
  /** True when a fact was added and the session must be saved. */
  readonly factsChanged: boolean;
  /** The state whose screen this is. */
  readonly state: string;
  /** The answers as a session may keep them: each PIN masked once no later screen needs it. */
  readonly keptAnswers: readonly string[];
  /** Positions in keptAnswers of PINs a later screen still needs: kept sealed, never in clear (seal.ts). */
  readonly pinsWaitingAt: readonly number[];
}

/** Whether the screen of `state`, showing `fact`, asks for a PIN (also one shown again after a wrong or refused one). */
export function screenAsksForPin(state: string, fact: Fact | undefined): boolean {
  if (asksForPin(state)) return true;
  if (state === 'start') return fact !== undefined && !fact.unavailable && !fact.hasPin;
  if (state === 'pin.saved') return fact !== undefined && (fact.result === 'differ' || fact.result === 'weak');
  if (state.endsWith('.confirm')) return fact?.outcome === Outcome.WRONG_PIN;
  return false;
}

/**
 * States whose load compares or sends PINs typed on earlier hops: choosing a PIN (typed, then
 * repeated) and changing it (current, new, repeated). Until that load has run, the PINs typed on the
 * way stay in the kept path, for at most those two hops; everything else is masked at once.
 */
const PINS_WAITING_FOR: Readonly<Record<string, readonly string[]>> = {
  'pin.repeat': ['pin.repeat'],
  'pin.new': ['pin.new'],
  'pin.again': ['pin.new', 'pin.again'],
};

function pinsWaiting(walk: Walk): Set<number> {
  const waiting = new Set<number>();
  const here = walk.moves.at(-1);
  for (const state of (here && PINS_WAITING_FOR[here.to]) ?? []) {
    for (let i = walk.moves.length - 1; i >= 0; i--) {
      const move = walk.moves[i];
      if (move?.to === state) {
        waiting.add(move.factKey - 1);
        break;
      }
    }
  }
  return waiting;
}

function keptAnswers(answers: readonly string[], walk: Walk, waiting: ReadonlySet<number>): string[] {
  return answers.map((answer, position) => {
    const took = walk.pinAnswers.get(position);
    if (took === undefined || waiting.has(position)) return answer;
    return took ? KEPT_PIN : KEPT_REFUSED;
  });
}

/**
 * An answer from the phone that reads like a mask or a sealed entry ("<...") is an answer no screen
 * takes: those only come from a kept path.
 */
export function fromPhone(answer: string): string {
  return answer.startsWith('<') ? '' : answer;
}

/** States whose screen asks for a PIN: a shortcut dial never types an answer into one (DESIGN: the PIN is asked last, and typed then). */
export function asksForPin(state: string): boolean {
  return /\.pin$/.test(state) || ['pin.repeat', 'pin.current', 'pin.new', 'pin.again'].includes(state);
}

/**
 * Runs one hop: a fresh UssdMenu (the library keeps per-request state on its instance), the
 * answers so far replayed through `next`, then the final screen's `load` (once) and `screen`.
 */
export function runMenu(context: MenuContext, facts: Facts, answers: readonly string[], timeoutMs: number): Promise<MenuResult> {
  const walk = new Walk(context, facts);
  const menu = new UssdMenu();
  for (const [name, def] of Object.entries(STATES)) {
    const options = {
      run: () => {
        render(name, def).then(
          (screen) => (screen.end ? menu.end(screen.text) : menu.con(screen.text)),
          (err: unknown) => menu.emit('error', err),
        );
      },
      next: { '*[\\s\\S]*': () => route(name, def) },
    };
    if (name === 'start') menu.startState(options);
    else menu.state(name, options);
  }

  function route(name: string, def: StateDef): string {
    const input: string = menu.val;
    const position = walk.position++;
    const fact = walk.facts[walk.factKey];
    if (input === MORE && composed(name, fact, walk).pages.length > walk.page + 1) {
      walk.page++;
      return name === 'start' ? UssdMenu.START_STATE : name;
    }
    // A masked PIN from the kept path routes as it did when typed: taken, or refused.
    const routed = input === KEPT_PIN ? KEPT_PIN_ROUTE : input === KEPT_REFUSED ? '' : input;
    const target = def.next ? def.next(routed, fact, walk) : { invalid: 'invalidChoice' as const };
    if (screenAsksForPin(name, fact)) walk.pinAnswers.set(position, typeof target === 'string');
    walk.page = 0;
    if (typeof target !== 'string') {
      walk.invalid = target.invalid;
      return name === 'start' ? UssdMenu.START_STATE : name;
    }
    walk.invalid = null;
    walk.factKey = position + 1;
    walk.moves.push({ input, to: target, factKey: walk.factKey });
    return target;
  }

  async function render(name: string, def: StateDef): Promise<Screen> {
    walk.state = name;
    let fact = walk.facts[walk.factKey];
    if (fact === undefined && def.load && walk.invalid === null && walk.page === 0) {
      fact = await def.load(walk);
      walk.facts[walk.factKey] = fact;
      walk.dirty = true;
    }
    const { pages, end: ends } = composed(name, fact, walk);
    const page = Math.min(walk.page, pages.length - 1);
    const last = page === pages.length - 1;
    return { text: pages[page] as string, end: ends && last };
  }

  const args = { sessionId: context.sessionId, phoneNumber: `+${context.msisdn}`, serviceCode: '', text: answers.join('*') };
  return new Promise<MenuResult>((resolve, reject) => {
    // run() never settles after an error inside the library: the timer and the error event end it.
    const timer = setTimeout(() => reject(new MenuTimeoutError(timeoutMs, walk.moves.at(-1)?.to ?? 'start')), timeoutMs);
    menu.on('error', (err: unknown) => {
      clearTimeout(timer);
      reject(err instanceof Error ? err : new Error(String(err)));
    });
    menu.run(args).then((result: string) => {
      clearTimeout(timer);
      const ended = result.startsWith('END ');
      const waiting = pinsWaiting(walk);
      resolve({
        screen: { text: result.slice(4), end: ended }, factsChanged: walk.dirty, state: walk.moves.at(-1)?.to ?? 'start',
        keptAnswers: keptAnswers(answers, walk, waiting), pinsWaitingAt: [...waiting].sort((a, b) => a - b),
      });
    }, reject);
  });
}

export class MenuTimeoutError extends Error {
  /** The screen the hop was at: its load was still waiting. */
  constructor(timeoutMs: number, readonly state: string) {
    super(`menu did not answer within ${timeoutMs} ms`);
    this.name = 'MenuTimeoutError';
  }
}
