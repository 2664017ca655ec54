// `dialpay operator-sim`: a simulated operator for every client-mode operator
// in the config (an SMSC the gateway binds to) with a small population of
// phones that text the short code now and then. Used by `make run`, tests and
// benchmarks. It also serves the CAMARA charging API (and the top-up API) of
// http-billed operators, and a
// phone line (phone-line.ts) through which `dialpay phone` becomes a subscriber.
// sim-swap.ts is a CAMARA SIM Swap API server, started for operators whose simSwap config is on
// loopback (sim-swap-servers.ts); `dialpay operator-sim swap` tells it that a line's SIM was swapped.
import type { Config, OperatorConfig } from '../runtime/config/index.js';
import { SmscSimulator } from './smsc.js';
import { EsmeSimulator } from './esme.js';
import { ChargingApiSimulator } from './charging-api.js';
import { PhoneLine } from './phone-line.js';
import { startSimSwapApis } from './sim-swap-servers.js';
import type { SimSwapApiSimulator } from './sim-swap.js';

// The one entry for everything outside this folder (cli, load-tests, tests).
export { SmscSimulator, NO_RESPONSE, type SmscFaults, type SubmittedMessage, type SmscOptions } from './smsc.js';
export { type UssdDialect, type UssdScreen } from './smsc-ussd.js';
export { EsmeSimulator, type ReceivedMessage } from './esme.js';
export {
  ChargingApiSimulator, CARRIER_BILLING_BASE, CARRIER_BILLING_REFUND_BASE, TOKEN_PATH, type ChargingApiOptions,
} from './charging-api.js';
export { type CamaraPaymentStatus, type SimPayment, type Exchange } from './charging-api-wire.js';
export {
  SimSwapApiSimulator, SIM_SWAP_ADMIN_PATH, SIM_SWAP_BASE, SIM_SWAP_MAX_AGE_HOURS, type SimSwapApiOptions,
} from './sim-swap.js';
export { SIM_SWAP_DEV_ORIGIN, startSimSwapApis } from './sim-swap-servers.js';
export { PhoneLine, PHONE_LINE_DEFAULT, msisdnDigits, operatorForNumber, type PhoneLineOperator, type UssdReply } from './phone-line.js';

export interface OperatorSim {
  readonly smscs: ReadonlyMap<string, SmscSimulator>;
  /** The charging API of every operator billed over http, at its configured address. */
  readonly chargingApis: ReadonlyMap<string, ChargingApiSimulator>;
  /** The SIM Swap API of every operator whose simSwap config is on loopback, by operator id (shared by address). */
  readonly simSwapApis: ReadonlyMap<string, SimSwapApiSimulator>;
  readonly esmes: ReadonlyMap<string, EsmeSimulator>;
  /** Where `dialpay phone` attaches (host:port), or null when the line is off. */
  readonly phoneLine: string | null;
  stop(): Promise<void>;
}

export interface OperatorSimOptions {
  /** Time between messages from the simulated phones; 0 for none. */
  readonly trafficIntervalMs: number;
  readonly say: (line: string) => void;
  /**
   * Plain passwords for server-mode operators (the config holds only their hash), by operator id.
   * Without one, that operator's simulated aggregator is not started.
   */
  readonly peerPasswords?: ReadonlyMap<string, string>;
  /** How long to wait before binding to server-mode operators (the gateway may still be starting). */
  readonly peerBindDelayMs?: number;
  /** Phones answer payment challenges with the code they received (default true). */
  readonly autoConfirm?: boolean;
  /** host:port for the phone line that `dialpay phone` attaches to; off when absent. */
  readonly phoneLine?: string;
  /** Agents' lines (`dialpay dev` seeds them, cli/demo-agents.ts): each cashes in to its operator's phones before they pay. */
  readonly demoAgents?: readonly DemoAgentLine[];
}

/** A simulated agent's line: it sends DEP to the demo phones and answers its PIN challenges. */
export interface DemoAgentLine {
  readonly operatorId: string;
  readonly agentId: string;
  /** International form, no '+'. */
  readonly msisdn: string;
  readonly pin: string;
}

/**
 * Demo phone `i` of an operator, in its national range (international form, no '+'): the SMSC's
 * phones for a client-mode operator, the aggregator's for a server-mode one.
 */
export function demoPhone(operator: Pick<OperatorConfig, 'countryCallingCode' | 'smpp'>, i: number): string {
  return `${operator.countryCallingCode}${nationalPhone(operator.smpp.mode, i)}`;
}

function nationalPhone(mode: 'client' | 'server', i: number): string {
  return mode === 'client' ? `7${String(100_000_000 + i).slice(1)}` : `77${String(10_000_000 + i).slice(1)}`;
}

/** Parses "operator-a=pw1,operator-b=pw2" (the DIALPAY_SIM_PEER_PASSWORDS variable). */
export function parsePeerPasswords(value: string | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const pair of (value ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at > 0) map.set(pair.slice(0, at).trim(), pair.slice(at + 1));
  }
  return map;
}

/** One phone per demo command (commandsFor). */
const PHONE_COUNT = 6;
/** Messages each simulated side remembers; the simulator runs for days under `make run`. */
const HISTORY_MAX = 10_000;
/** What a subscriber the simulated charging API has never seen starts with (10,000.00 in a 2-decimal currency). */
const CHARGING_OPENING_BALANCE_MINOR = 1_000_000n;
const PEER_BIND_ATTEMPTS_MAX = 15;
/**
 * What phone `i` of an operator sends, each of its turns (`national(3)` is phone 3's national
 * number, in the operator's own range): phone 2 sends phone 3 money, which lands in phone 3's
 * dialpay wallet, and phone 3 spends part of it (its challenge says "From your dialpay wallet").
 */
const commandsFor = (national: (phone: number) => string, shop: string): readonly string[] =>
  [`PAY ${shop} 150 coffee`, 'HELP', `SEND ${national(3)} 20`, `PAY ${shop} 15 snack`, 'PAY EVCHARGE 820 bay4', 'AIDE'];

/** The shop a demo phone pays: the first merchant that takes the phone's operator (SHOP42 at safaricom-ke, NEWSPLUS at orange-sn). */
const demoShop = (config: Config, operatorId: string): string =>
  config.merchants.find((m) => m.operatorIds.includes(operatorId) && m.id !== 'EVCHARGE')?.id ?? 'SHOP42';
/** Phones whose command spends (commandsFor): a demo agent cashes in to these, a turn ahead. */
const SPENDING_PHONES: ReadonlySet<number> = new Set([0, 2, 3, 4]);
/** What a demo agent deposits each time, in major units: covers any demo payment. */
const DEMO_DEPOSIT_MAJOR = 1_000;
/** A PIN challenge, in either language (services/payments/replies.ts). */
const PIN_CHALLENGE = /Reply with your PIN|Repondez avec votre PIN/;
/** How long a simulated person takes to answer a challenge. */
const ANSWER_DELAY_MS = 1_000;

export async function startOperatorSim(config: Config, options: OperatorSimOptions): Promise<OperatorSim> {
  const smscs = await startSmscs(config, options.say);
  const { chargingApis, topUpApis } = await startChargingApis(config, options.say);
  const simSwapApis = await startSimSwapApis(config, options.say);
  const esmes = new Map<string, EsmeSimulator>();
  const line = options.phoneLine === undefined ? null : new PhoneLine(config, smscs, esmes);
  // A phone line that can't listen (its port taken) leaves the rest of the simulator running.
  const lineAddress = line
    ? await line.listen(options.phoneLine as string).catch((err: Error) => {
      options.say(`phone line off: ${err.message}`);
      return null;
    })
    : null;
  if (lineAddress) {
    options.say(`phone line on ${lineAddress}: attach a terminal phone with `
      + `\`dialpay phone +${config.operators[0]?.countryCallingCode}700000123 --phone-line ${lineAddress}\``);
  }
  let stopped = false;
  const people = demoPeople(options);
  const peers = { config, esmes, line, people, options, isStopped: () => stopped };
  const peerTimer = setTimeout(() => void bindPeers(peers), options.peerBindDelayMs ?? 2_000);
  const timer = options.trafficIntervalMs > 0 ? startTraffic(config, smscs, esmes, people, options) : null;
  for (const [operatorId, smsc] of smscs) answerOnSmsc(config, operatorId, smsc, line, people, options);
  return {
    smscs,
    chargingApis,
    simSwapApis,
    esmes,
    phoneLine: lineAddress,
    stop: async () => {
      stopped = true;
      await line?.stop();
      clearTimeout(peerTimer);
      if (timer) clearInterval(timer);
      await Promise.all([...esmes.values()].map((e) => e.stop()));
      await Promise.all([...chargingApis.values(), ...topUpApis, ...new Set(simSwapApis.values())].map((a) => a.stop()));
      await Promise.all([...smscs.values()].map((s) => s.stop()));
    },
  };
}

/** An SMSC for every client-mode operator, at its configured address. */
async function startSmscs(config: Config, say: (line: string) => void): Promise<Map<string, SmscSimulator>> {
  const smscs = new Map<string, SmscSimulator>();
  for (const operator of config.operators) {
    if (operator.smpp.mode !== 'client') continue;
    const { host, port, systemId, password } = operator.smpp;
    const smsc = new SmscSimulator({ host, port, systemId, password, receiptDelayMs: 200 });
    await smsc.start();
    smscs.set(operator.id, smsc);
    say(`SMSC for ${operator.id} listening on ${operator.smpp.host}:${smsc.port}`);
  }
  return smscs;
}

interface ChargingApis {
  readonly chargingApis: Map<string, ChargingApiSimulator>;
  readonly topUpApis: ChargingApiSimulator[];
}

/** The charging API of every http-billed operator, and its top-up API (on the same server when they share an address). */
async function startChargingApis(config: Config, say: (line: string) => void): Promise<ChargingApis> {
  const chargingApis = new Map<string, ChargingApiSimulator>();
  const topUpApis: ChargingApiSimulator[] = [];
  for (const operator of config.operators) {
    if (operator.billingAdapter !== 'http' || !operator.charging) continue;
    const { charging, topUp } = operator;
    const url = new URL(charging.baseUrl);
    const topUpUrl = topUp ? new URL(topUp.baseUrl) : null;
    // The top-up contract is served by the same server when it shares the charging API's address.
    const sameServer = topUpUrl !== null && topUpUrl.host === url.host;
    const api = new ChargingApiSimulator({
      host: url.hostname, port: Number(url.port || 80), openingBalanceMinor: CHARGING_OPENING_BALANCE_MINOR,
      clientId: charging.clientId, clientSecret: charging.clientSecret,
      ...(sameServer && topUp ? { topUp: { path: topUpUrl.pathname.replace(/\/+$/, ''), apiKey: topUp.apiKey } } : {}),
    });
    await api.start();
    chargingApis.set(operator.id, api);
    say(`CAMARA charging API for ${operator.id} listening on ${charging.baseUrl} (token endpoint ${charging.tokenUrl})`);
    if (topUp && topUpUrl && !sameServer) {
      const topUps = new ChargingApiSimulator({
        host: topUpUrl.hostname, port: Number(topUpUrl.port || 80), openingBalanceMinor: CHARGING_OPENING_BALANCE_MINOR,
        carrier: api.carrier, topUp: { path: topUpUrl.pathname.replace(/\/+$/, ''), apiKey: topUp.apiKey },
      });
      await topUps.start();
      topUpApis.push(topUps);
    }
    if (topUp) say(`top-up API for ${operator.id} listening on ${topUp.baseUrl}`);
  }
  return { chargingApis, topUpApis };
}

/** What the simulated people do: demo agents cash in ahead of the phones' turns, phones and agents answer challenges. */
interface DemoPeople {
  /** The operator's demo agent cashes in to the phone whose turn is next, when that phone spends. */
  cashInAhead(operator: OperatorConfig, now: number, send: (from: string, text: string) => Promise<number>): void;
  /** What a simulated phone answers to an SMS it received: a challenge's code, or an agent's PIN; null when nothing. */
  answerTo(operatorId: string, to: string, text: string): string | null;
  answerLater(say: string, send: () => Promise<unknown>): void;
}

function demoPeople(options: OperatorSimOptions): DemoPeople {
  const agents = new Map((options.demoAgents ?? []).map((a) => [a.operatorId, a]));
  return {
    cashInAhead: (operator, now, send) => {
      const agent = agents.get(operator.id);
      const next = (now + 1) % PHONE_COUNT;
      if (!agent || !SPENDING_PHONES.has(next)) return;
      const text = `DEP 0${nationalPhone(operator.smpp.mode, next)} ${DEMO_DEPOSIT_MAJOR}`;
      send(agent.msisdn, text).then(
        (status) => options.say(`agent ${agent.agentId} +${agent.msisdn} -> ${operator.shortCodes[0]}: "${text}" `
          + `${status === 0 ? 'accepted' : `answered 0x${status.toString(16)}`}`),
        (err: Error) => options.say(`agent ${agent.agentId}: ${err.message}`),
      );
    },
    answerTo: (operatorId, to, text) => {
      const agent = agents.get(operatorId);
      if (agent && agent.msisdn === to) return PIN_CHALLENGE.test(text) ? agent.pin : null;
      const code = /(YES|OUI) (\d{4,8})/.exec(text);
      return code ? `${code[1]} ${code[2]}` : null;
    },
    answerLater: (say, send) => {
      const timer = setTimeout(() => send().then(() => options.say(say), () => undefined), ANSWER_DELAY_MS);
      timer.unref();
    },
  };
}

interface Peers {
  readonly config: Config;
  readonly esmes: Map<string, EsmeSimulator>;
  readonly line: PhoneLine | null;
  readonly people: DemoPeople;
  readonly options: OperatorSimOptions;
  readonly isStopped: () => boolean;
}

/** A simulated aggregator binds to every server-mode operator whose password we were given. */
async function bindPeers(peers: Peers): Promise<void> {
  const { config, esmes, options } = peers;
  for (const operator of config.operators) {
    const password = options.peerPasswords?.get(operator.id);
    if (operator.smpp.mode !== 'server' || password === undefined) continue;
    const { host, port, systemId } = operator.smpp;
    let esme = new EsmeSimulator({ host, port, systemId, password });
    let status = await esme.bind().catch(() => -1);
    // The gateway may still be starting: try a few more times before giving up.
    for (let attempt = 1; status !== 0 && attempt < PEER_BIND_ATTEMPTS_MAX && !peers.isStopped(); attempt++) {
      await esme.stop().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1_000));
      esme = new EsmeSimulator({ host, port, systemId, password });
      status = await esme.bind().catch(() => -1);
    }
    if (status === 0) {
      esmes.set(operator.id, esme);
      options.say(`aggregator for ${operator.id} bound to the gateway on port ${operator.smpp.port}`);
      answerOnEsme(operator, esme, peers);
    } else {
      options.say(`aggregator for ${operator.id} could not bind (status ${status})`);
    }
  }
}

/** The aggregator's phones show what they receive and answer their challenges. */
function answerOnEsme(operator: OperatorConfig, esme: EsmeSimulator, { line, people, options }: Peers): void {
  const shortCode = operator.shortCodes[0] as string;
  esme.receivedKeepMax = HISTORY_MAX;
  esme.onMessage((m) => {
    if (m.receipt) return;
    options.say(`phone +${m.destination} (via ${operator.id}) received: "${m.text}"`);
    line?.deliver(m.destination, shortCode, m.text);
    const answer = options.autoConfirm === false || line?.attached(m.destination)
      ? null : people.answerTo(operator.id, m.destination, m.text);
    if (answer) {
      people.answerLater(`phone +${m.destination} -> ${shortCode} via ${operator.id}: "${answer.replace(/^\d+$/, '****')}"`,
        () => esme.submitFromPhone(m.destination, shortCode, answer));
    }
  });
}

/** The SMSC's phones show what they receive and answer their challenges. */
function answerOnSmsc(config: Config, operatorId: string, smsc: SmscSimulator, line: PhoneLine | null, people: DemoPeople,
  options: OperatorSimOptions): void {
  const shortCode = config.operators.find((o) => o.id === operatorId)?.shortCodes[0] ?? '';
  smsc.submittedKeepMax = HISTORY_MAX;
  smsc.onMessage((m) => {
    options.say(`phone +${m.destination} received: "${m.text}"`);
    line?.deliver(m.destination, m.source, m.text);
    // A simulated subscriber says yes to the payments it started, after a human-ish pause; a terminal phone answers for itself.
    const answer = options.autoConfirm === false || line?.attached(m.destination)
      ? null : people.answerTo(operatorId, m.destination, m.text);
    if (answer) {
      people.answerLater(`phone +${m.destination} -> ${shortCode}: "${answer.replace(/^\d+$/, '****')}"`,
        () => smsc.sendFromPhone(m.destination, shortCode, answer));
    }
  });
}

/**
 * Every interval, one turn for every operator whose link is up: phone `now` of each sends its command, and each
 * operator's agent funds phone now + 1. Each operator counts its own turns from its link's first tick, which only
 * funds phone 0: a link that binds late (a server-mode operator's ESME) still funds before the first payment.
 */
function startTraffic(config: Config, smscs: ReadonlyMap<string, SmscSimulator>, esmes: ReadonlyMap<string, EsmeSimulator>,
  people: DemoPeople, options: OperatorSimOptions): NodeJS.Timeout {
  // -1: an operator's first tick only funds phone 0, so every spending phone has money before its turn.
  const turns = new Map<string, number>();
  const nextTurn = (operatorId: string): number => {
    const now = turns.get(operatorId) ?? -1;
    turns.set(operatorId, now + 1);
    return now;
  };
  return setInterval(() => {
    for (const [operatorId, smsc] of smscs) {
      if (smsc.boundSessions === 0) continue;
      const operator = config.operators.find((o) => o.id === operatorId);
      if (!operator) continue;
      const now = nextTurn(operatorId);
      const shortCode = operator.shortCodes[0] as string;
      const commands = commandsFor((i) => `0${nationalPhone('client', i)}`, demoShop(config, operatorId));
      const phone = demoPhone(operator, now % PHONE_COUNT);
      const text = commands[now % PHONE_COUNT] as string;
      people.cashInAhead(operator, now, (from, t) => smsc.sendFromPhone(from, shortCode, t).then((statuses) => statuses[0] ?? 0));
      if (now < 0) continue;
      smsc.sendFromPhone(phone, shortCode, text).then(
        (statuses) => options.say(`phone +${phone} -> ${operator.shortCodes[0]}: "${text}" `
          + `${statuses.every((s) => s === 0) ? 'accepted, durable in NATS' : `answered 0x${statuses[0]?.toString(16)}`}`),
        (err: Error) => options.say(`phone +${phone}: ${err.message}`),
      );
    }
    for (const [operatorId, esme] of esmes) {
      const operator = config.operators.find((o) => o.id === operatorId);
      if (!operator) continue;
      const now = nextTurn(operatorId);
      const shortCode = operator.shortCodes[0] as string;
      const commands = commandsFor((i) => `0${nationalPhone('server', i)}`, demoShop(config, operatorId));
      const phone = demoPhone(operator, now % PHONE_COUNT);
      const text = commands[now % PHONE_COUNT] as string;
      people.cashInAhead(operator, now, (from, t) => esme.submitFromPhone(from, shortCode, t));
      if (now < 0) continue;
      esme.submitFromPhone(phone, shortCode, text).then(
        (status) => options.say(`phone +${phone} -> ${operator.shortCodes[0]} via ${operatorId}: "${text}" `
          + `${status === 0 ? 'accepted, durable in NATS' : `answered 0x${status.toString(16)}`}`),
        (err: Error) => options.say(`phone +${phone}: ${err.message}`),
      );
    }
  }, options.trafficIntervalMs);
}
