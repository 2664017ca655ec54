// The operator simulator's phone line: how `dialpay phone`, a terminal phone in
// another process, becomes one of the simulated operator's subscribers. It
// speaks to the phone in small JSON over loopback HTTP, and to dialpay the way
// a real network would: SMS through the simulated SMSC (or the aggregator bound
// to a server-mode gateway), USSD through the gateway's HTTP edge as an
// Africa's Talking-style aggregator.
//
//   GET  /                       the operators: id, name, country code, short codes, USSD codes, linked
//   GET  /phones/<msisdn>/inbox  NDJSON, one {"from","text"} line per SMS the phone gets, while open
//   POST /phones/<msisdn>/sms    {"to","text"}         -> {"status"} (0: the network took it)
//   POST /phones/<msisdn>/ussd   {"dial"} | {"answer"} | {"release": true} -> {"text","end"}
import { randomUUID } from 'node:crypto';
import { operatorForNumber as operatorByRange } from '../runtime/msisdn.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Config, OperatorConfig } from '../runtime/config/index.js';
import { USSD_SECRET_HEADER } from '../gateway/index.js';
import type { EsmeSimulator } from './esme.js';
import type { SmscSimulator } from './smsc.js';

export const PHONE_LINE_DEFAULT = '127.0.0.1:9190';
/** Phones attached at once: a demo tool, not a load generator. */
const ATTACHED_PHONES_MAX = 64;
const BODY_BYTES_MAX = 4_096;
/** Longer than any operator's USSD timeout: the gateway answers a hop well inside it. */
const USSD_HOP_TIMEOUT_MS = 15_000;
const SMS_TEXT_CHARS_MAX = 1_000;
/** USSD sessions the line holds at once (the oldest is dropped past this), and answers in one. */
const USSD_SESSIONS_MAX = 1_000;
const USSD_ANSWERS_MAX = 64;
/** The line lets anyone who reaches it text as any number: it listens on loopback only. */
const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;

export interface PhoneLineOperator {
  readonly id: string;
  readonly name: string;
  readonly countryCallingCode: string;
  /** The operator's E.164 prefixes (digits): the phone's number picks its operator by these. */
  readonly numberRanges: readonly string[];
  readonly shortCodes: readonly string[];
  readonly ussdCodes: readonly string[];
  /** The network can carry this operator's SMS now: its SMSC has a bind from the gateway, or its aggregator is bound to the gateway. */
  readonly linked: boolean;
}

export interface UssdReply {
  readonly text: string;
  readonly end: boolean;
}

/** A USSD dialogue the line holds for one phone: the aggregator's session id and the answers so far. */
interface UssdDialogue {
  readonly operator: OperatorConfig;
  readonly sessionId: string;
  readonly serviceCode: string;
  readonly answers: string[];
}

class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Digits only: "+254 700 000123" and "254700000123" are the same phone. */
export function msisdnDigits(value: string): string | null {
  const digits = value.replace(/[\s+]/g, '');
  return /^\d{8,15}$/.test(digits) ? digits : null;
}

/** The operator holding the longest prefix of the number (its number ranges, as the gateway reads them), or null. Pure. */
export function operatorForNumber<O extends { readonly id: string; readonly numberRanges: readonly string[] }>(
  operators: readonly O[], msisdn: string,
): O | null {
  return operatorByRange(operators, msisdn);
}

export class PhoneLine {
  readonly #config: Config;
  readonly #smscs: ReadonlyMap<string, SmscSimulator>;
  readonly #esmes: ReadonlyMap<string, EsmeSimulator>;
  readonly #inboxes = new Map<string, Set<ServerResponse>>();
  readonly #ussd = new Map<string, UssdDialogue>();
  #server: Server | null = null;

  constructor(config: Config, smscs: ReadonlyMap<string, SmscSimulator>, esmes: ReadonlyMap<string, EsmeSimulator>) {
    this.#config = config;
    this.#smscs = smscs;
    this.#esmes = esmes;
  }

  /** True while a terminal phone holds this number: the simulator's own phones then leave its challenges alone. */
  attached(msisdn: string): boolean {
    return (this.#inboxes.get(msisdn)?.size ?? 0) > 0;
  }

  /** An SMS for `msisdn` from the network: to every terminal holding that number. */
  deliver(msisdn: string, from: string, text: string): void {
    for (const res of this.#inboxes.get(msisdn) ?? []) res.write(`${JSON.stringify({ from, text })}\n`);
  }

  async listen(address: string): Promise<string> {
    const at = address.lastIndexOf(':');
    const host = at > 0 ? address.slice(0, at).replace(/^\[|\]$/g, '') : '127.0.0.1';
    const port = Number(address.slice(at + 1));
    if (!LOOPBACK.test(host)) throw new Error(`the phone line listens on loopback only (it has no authentication), not on ${host}`);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`bad phone line port in ${address}`);
    this.#server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.#server?.once('error', reject);
      this.#server?.listen(port, host, () => resolve());
    });
    const bound = this.#server.address();
    return typeof bound === 'object' && bound ? `${host}:${bound.port}` : address;
  }

  async stop(): Promise<void> {
    for (const set of this.#inboxes.values()) for (const res of set) res.end();
    this.#inboxes.clear();
    if (this.#server) await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
    this.#server = null;
  }

  operators(): PhoneLineOperator[] {
    return this.#config.operators.map((o) => ({
      id: o.id,
      name: o.name,
      countryCallingCode: o.countryCallingCode,
      numberRanges: o.numberRanges,
      shortCodes: o.shortCodes,
      ussdCodes: o.ussd?.serviceCodes ?? [],
      linked: (this.#smscs.get(o.id)?.boundSessions ?? 0) > 0 || this.#esmes.has(o.id),
    }));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://line');
      if (req.method === 'GET' && url.pathname === '/') return json(res, 200, { operators: this.operators() });
      const match = /^\/phones\/([^/]+)\/(inbox|sms|ussd)$/.exec(url.pathname);
      if (!match) throw new BadRequest(404, 'no such path');
      const msisdn = msisdnDigits(decodeURIComponent(match[1] as string));
      if (!msisdn) throw new BadRequest(400, 'the phone number must be 8 to 15 digits, with its country code');
      const operator = this.#operatorOf(msisdn);
      const what = match[2];
      if (what === 'inbox' && req.method === 'GET') return this.#attach(msisdn, res);
      if (req.method !== 'POST') throw new BadRequest(405, `${what} takes POST`);
      const body = await readJson(req);
      if (what === 'sms') return json(res, 200, { status: await this.#sendSms(operator, msisdn, body) });
      return json(res, 200, await this.#ussdHop(operator, msisdn, body));
    } catch (err) {
      const status = err instanceof BadRequest ? err.status : 502;
      if (!res.headersSent) json(res, status, { error: (err as Error).message });
      else res.end();
    }
  }

  /** The operator whose country code is the longest prefix of the number. */
  #operatorOf(msisdn: string): OperatorConfig {
    const operator = operatorForNumber(this.#config.operators, msisdn);
    if (!operator) {
      const ranges = this.#config.operators.flatMap((o) => o.numberRanges.map((r) => `+${r}`)).join(', ');
      throw new BadRequest(404, `no simulated operator serves +${msisdn}; number ranges: ${ranges}`);
    }
    return operator;
  }

  #attach(msisdn: string, res: ServerResponse): void {
    const attachedCount = [...this.#inboxes.values()].reduce((n, s) => n + s.size, 0);
    if (attachedCount >= ATTACHED_PHONES_MAX) throw new BadRequest(503, `${ATTACHED_PHONES_MAX} phones are attached already`);
    let set = this.#inboxes.get(msisdn);
    if (!set) this.#inboxes.set(msisdn, (set = new Set()));
    set.add(res);
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
    res.on('close', () => {
      set.delete(res);
      if (set.size === 0) this.#inboxes.delete(msisdn);
    });
  }

  async #sendSms(operator: OperatorConfig, msisdn: string, body: Record<string, unknown>): Promise<number> {
    const to = typeof body.to === 'string' && body.to !== '' ? body.to : operator.shortCodes[0];
    const text = body.text;
    if (typeof to !== 'string' || !/^\d{3,15}$/.test(to)) throw new BadRequest(400, '"to" must be a short code or number');
    if (typeof text !== 'string' || text.length === 0 || text.length > SMS_TEXT_CHARS_MAX) {
      throw new BadRequest(400, `"text" must be 1 to ${SMS_TEXT_CHARS_MAX} characters`);
    }
    const smsc = this.#smscs.get(operator.id);
    if (smsc) {
      if (smsc.boundSessions === 0) throw new BadRequest(503, `the gateway is not bound to ${operator.id}'s SMSC yet`);
      const statuses = await smsc.sendFromPhone(msisdn, to, text);
      return statuses.find((s) => s !== 0) ?? 0;
    }
    const esme = this.#esmes.get(operator.id);
    if (esme) return esme.submitFromPhone(msisdn, to, text);
    throw new BadRequest(503, `${operator.id} has no link to the gateway yet`);
  }

  async #ussdHop(operator: OperatorConfig, msisdn: string, body: Record<string, unknown>): Promise<UssdReply> {
    if (typeof body.dial === 'string') {
      if (!/^\*[0-9*]{1,20}#$/.test(body.dial)) throw new BadRequest(400, '"dial" must look like *384#');
      // The aggregator tells operators apart by network code, so an operator needs one to be reached here.
      if (this.#config.ussd.http.port === undefined) throw new BadRequest(503, 'the gateway\'s USSD HTTP edge is off (ussd.http.port)');
      if (!operator.ussd || operator.ussd.networkCodes.length === 0) {
        throw new BadRequest(404, `${operator.id} has no USSD network code for the HTTP edge`);
      }
      const dialogue: UssdDialogue = { operator, sessionId: `ATUid_${randomUUID()}`, serviceCode: body.dial, answers: [] };
      this.#ussd.delete(msisdn);
      if (this.#ussd.size >= USSD_SESSIONS_MAX) this.#ussd.delete(this.#ussd.keys().next().value as string);
      this.#ussd.set(msisdn, dialogue);
      return this.#postHop(msisdn, dialogue);
    }
    const dialogue = this.#ussd.get(msisdn);
    if (!dialogue) throw new BadRequest(409, 'no USSD session: dial first');
    if (body.release === true) {
      // An aggregator just stops posting; the menu's session expires on its own.
      this.#ussd.delete(msisdn);
      return { text: '', end: true };
    }
    if (typeof body.answer !== 'string' || body.answer.length > 182) {
      throw new BadRequest(400, '"answer" must be text of at most 182 characters');
    }
    if (dialogue.answers.length >= USSD_ANSWERS_MAX) {
      this.#ussd.delete(msisdn);
      throw new BadRequest(409, `a USSD session takes at most ${USSD_ANSWERS_MAX} answers: dial again`);
    }
    dialogue.answers.push(body.answer);
    return this.#postHop(msisdn, dialogue);
  }

  async #postHop(msisdn: string, d: UssdDialogue): Promise<UssdReply> {
    const edge = this.#config.ussd.http;
    const scheme = edge.tlsCertFile ? 'https' : 'http';
    const res = await fetch(`${scheme}://${edge.host}:${edge.port}${edge.path}`, {
      method: 'POST',
      // The aggregator sends the edge's shared secret, as a real one is set up to.
      headers: {
        'content-type': 'application/x-www-form-urlencoded', ...(edge.sharedSecret ? { [USSD_SECRET_HEADER]: edge.sharedSecret } : {}),
      },
      body: new URLSearchParams({
        sessionId: d.sessionId, serviceCode: d.serviceCode, phoneNumber: `+${msisdn}`,
        networkCode: d.operator.ussd?.networkCodes[0] ?? '', text: d.answers.join('*'),
      }).toString(),
      signal: AbortSignal.timeout(USSD_HOP_TIMEOUT_MS),
    });
    const answer = await res.text();
    if (!res.ok) {
      this.#ussd.delete(msisdn);
      throw new BadRequest(502, `the gateway's USSD edge answered ${res.status}: ${answer.slice(0, 200)}`);
    }
    const end = !answer.startsWith('CON ');
    if (end) this.#ussd.delete(msisdn);
    return { text: answer.replace(/^(CON|END) /, ''), end };
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_BYTES_MAX) throw new BadRequest(413, `the body is over ${BODY_BYTES_MAX} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new BadRequest(400, 'the body must be a JSON object');
  }
}
