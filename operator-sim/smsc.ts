// A simulated operator SMSC for tests, benchmarks and `make run`. Built on
// the `smpp` package's own server and session, not on our session code, so
// our client is not only tested against itself. Phones send messages as
// deliver_sm; submits get message ids (hex or decimal) and, when asked,
// delivery receipts. Faults on demand: no response, generic_nack, throttling
// above N/s, temporary errors, unbind, disconnect with requests in flight.
// Phones also dial USSD over the link (ussd_service_op, its_session_info):
// the gateway's screens come back as submit_sm and are kept apart from SMS.
import type { AddressInfo, Server } from 'node:net';
import smpp from 'smpp';
// The codec entry also leaves short_message as raw bytes, decoded here with our GSM 03.38 codec.
import { decodeText, encodeText, formatReceiptText, messageStateOf, parseUdh, splitForSubmit } from '../gateway/smpp/codec/index.js';
import { UssdDialogues, type UssdDial, type UssdDialOptions, type UssdScreen } from './smsc-ussd.js';

/** The parts of the package's session we drive. */
interface LibSession {
  on(event: string, listener: (pdu: LibPdu) => void): void;
  send(pdu: unknown): boolean;
  deliver_sm(fields: Record<string, unknown>, callback: (pdu: LibPdu) => void): boolean;
  unbind(fields: Record<string, unknown>, callback?: (pdu: LibPdu) => void): boolean;
  close(): void;
  destroy(): void;
  socket: import('node:net').Socket;
}
interface LibPdu {
  command: string;
  command_status: number;
  sequence_number: number;
  response(fields?: Record<string, unknown>): unknown;
  [field: string]: unknown;
}

export interface SmscFaults {
  /** Share of submits never answered, 0..1. */
  noResponseRate: number;
  /** Share of submits answered with generic_nack (status ESME_RSYSERR). */
  genericNackRate: number;
  /** Share of submits answered ESME_RX_T_APPN. */
  temporaryErrorRate: number;
  /** Submits per second above which the SMSC answers ESME_RTHROTTLED; 0 = unlimited. */
  throttleAboveTps: number;
  /** Drop the connection after this many more submits, leaving them unanswered; 0 = never. */
  disconnectAfterSubmits: number;
  /** Delay before each submit_sm_resp, as a slow SMSC. */
  responseDelayMs: number;
}

export interface SubmittedMessage {
  readonly messageId: string;
  readonly destination: string;
  readonly source: string;
  readonly text: string;
  readonly parts: number;
  readonly receivedAtMs: number;
}

export interface SmscOptions {
  readonly host?: string;
  readonly port?: number;
  readonly systemId: string;
  readonly password: string;
  readonly messageIdFormat?: 'hex' | 'decimal';
  readonly receiptDelayMs?: number;
  /** Put receipted_message_id and message_state TLVs on receipts (else text only). */
  readonly receiptTlvs?: boolean;
  readonly faults?: Partial<SmscFaults>;
  /** Seed of the fault dice: the same seed gives the same faults, so a test run can be repeated. */
  readonly seed?: number;
  /** A deliver_sm unanswered this long resolves as NO_RESPONSE, as an SMSC's response timer would. */
  readonly deliverResponseTimeoutMs?: number;
}

/** The status a phone's deliver_sm resolves with when it got no deliver_sm_resp (timeout, or the link dropped). */
export const NO_RESPONSE = -1;
const DELIVER_RESPONSE_TIMEOUT_MS = 30_000;
/**
 * A submit accepted this shortly before its link died (no unbind) may never have been recorded
 * by the ESME, which then sends it again: SMPP's at-least-once. Generous: an ESME records an
 * accepted submit within milliseconds.
 */
const ACCEPTED_BEFORE_DROP_MS = 1_000;
const ACCEPTED_BEFORE_DROP_KEPT_MAX = 100_000;

/** mulberry32: a small seeded PRNG, good enough for fault dice. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NO_FAULTS: SmscFaults = {
  noResponseRate: 0, genericNackRate: 0, temporaryErrorRate: 0, throttleAboveTps: 0, disconnectAfterSubmits: 0, responseDelayMs: 0,
};

export class SmscSimulator {
  readonly #o: SmscOptions;
  #server: Server | null = null;
  #faults: SmscFaults;
  readonly #random: () => number;
  readonly #bound = new Set<LibSession>();
  /** deliver_sm awaiting a response, per session: settled with NO_RESPONSE when the link drops. */
  readonly #unanswered = new WeakMap<LibSession, Set<(status: number) => void>>();
  readonly #partials = new Map<string, { total: number; bodies: Map<number, Buffer>; dataCoding: number }>();
  #nextId = 1_000;
  /** Submits accepted per session in the last ACCEPTED_BEFORE_DROP_MS, oldest first. */
  readonly #recentAccepts = new WeakMap<LibSession, { messageId: string; atMs: number }[]>();
  /** Sessions the ESME closed with an unbind: nothing in doubt. */
  readonly #unbound = new WeakSet<LibSession>();
  /**
   * Ids of submits accepted just before their link died without an unbind (the ESME killed, or
   * the link cut): a second copy of one of these messages is SMPP's at-least-once, not a bug.
   */
  readonly acceptedBeforeDrop = new Set<string>();
  /** Until then new connections are cut at once (disconnectAll with a down time). */
  #downUntilMs = 0;
  /** Successful binds so far: a re-bind after a fault shows here. */
  bindsAccepted = 0;
  #windowSecond = 0;
  #inWindow = 0;
  /** Whole messages received (parts joined), in order. */
  readonly submitted: SubmittedMessage[] = [];
  readonly #listeners: ((m: SubmittedMessage) => void)[] = [];
  /** Keep only the newest this many in `submitted` (0: keep all); a long run would grow it forever. */
  submittedKeepMax = 0;

  /** Calls `listener` with every whole message a phone receives. */
  onMessage(listener: (m: SubmittedMessage) => void): void {
    this.#listeners.push(listener);
  }

  #deliver(message: SubmittedMessage): void {
    this.submitted.push(message);
    if (this.submittedKeepMax > 0 && this.submitted.length > this.submittedKeepMax) {
      this.submitted.splice(0, this.submitted.length - this.submittedKeepMax);
    }
    for (const l of this.#listeners) l(message);
  }
  /** Counts of what the SMSC did, for tests. */
  readonly counters = {
    submits: 0, throttled: 0, unanswered: 0, nacked: 0, temporary: 0, bindFailures: 0, receiptsSent: 0, ussdScreens: 0,
  };
  readonly #ussd = new UssdDialogues({ deliver: (fields) => this.#deliverOnFirst(fields), keepMax: () => this.submittedKeepMax });

  constructor(options: SmscOptions) {
    this.#o = options;
    this.#faults = { ...NO_FAULTS, ...options.faults };
    this.#random = seededRandom(options.seed ?? 1);
  }

  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? 0;
  }
  get boundSessions(): number {
    return this.#bound.size;
  }

  setFaults(faults: Partial<SmscFaults>): void {
    this.#faults = { ...this.#faults, ...faults };
  }

  async start(): Promise<number> {
    const server = smpp.createServer({}, (s: unknown) => this.#onSession(s as LibSession));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#o.port ?? 0, this.#o.host ?? '127.0.0.1', () => resolve());
    });
    return this.port;
  }

  async stop(): Promise<void> {
    for (const s of this.#bound) s.destroy();
    this.#bound.clear();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  /** A phone sends `text` to a short code; resolves with the command_status of each deliver_sm_resp. */
  /**
   * `spread`: each part of a long message on the next bound session in turn, as an SMSC balancing
   * over binds does (with gateway replicas, parts land on different replicas).
   */
  async sendFromPhone(msisdn: string, shortCode: string, text: string,
    options: { split?: 'udh8' | 'udh16' | 'sar'; dataCoding?: number; spread?: boolean } = {}): Promise<number[]> {
    const bound = [...this.#bound];
    if (bound.length === 0) throw new Error('no ESME is bound to the simulator');
    const parts = options.split
      ? splitForSubmit(text, options.split, Math.floor(Math.random() * 0xffff))
      : [{ ...encodeText(text), esmClass: 0, shortMessage: encodeText(text).bytes }];
    return Promise.all(
      parts.map(
        (part, i) =>
          new Promise<number>((resolve) => {
            const session = bound[options.spread ? i % bound.length : 0] as LibSession;
            const p = part as {
              dataCoding: number; esmClass: number; shortMessage: Buffer; sar?: { refNum: number; totalSegments: number; seqNum: number };
            };
            this.#deliverSm(
              session,
              {
                source_addr: msisdn,
                source_addr_ton: 1,
                destination_addr: shortCode,
                esm_class: p.esmClass,
                data_coding: options.dataCoding ?? p.dataCoding,
                short_message: p.shortMessage,
                ...(p.sar
                  ? { sar_msg_ref_num: p.sar.refNum, sar_total_segments: p.sar.totalSegments, sar_segment_seqnum: p.sar.seqNum }
                  : {}),
              },
              resolve,
            );
          }),
      ),
    );
  }

  /** USSD screens the gateway sent, in order; never in `submitted`. Bounded by submittedKeepMax too. */
  get ussdScreens(): UssdScreen[] {
    return this.#ussd.screens;
  }

  /** Calls `listener` with every USSD screen a phone receives. */
  onUssdScreen(listener: (s: UssdScreen) => void): void {
    this.#ussd.onScreen(listener);
  }

  /**
   * A phone dials a USSD code (`*384#`, or a shortcut such as `*384*1#`): a deliver_sm with
   * ussd_service_op 1 (PSSR indication) and, per dialect, a fresh its_session_info session number
   * or user_message_reference. Resolves with the dialogue's number and the deliver_sm_resp status.
   */
  ussdDial(msisdn: string, serviceCode: string, options: UssdDialOptions = {}): Promise<UssdDial> {
    return this.#ussd.dial(msisdn, serviceCode, options);
  }

  /** The phone answers the last screen of a dialogue: ussd_service_op 18 (USSR confirm). Resolves with the deliver_sm_resp status. */
  ussdAnswer(msisdn: string, sessionNumber: number, text: string): Promise<number> {
    return this.#ussd.answer(msisdn, sessionNumber, text);
  }

  /** The network releases the dialogue (the subscriber cancelled): its_session_info with the end bit set. */
  ussdAbort(msisdn: string, sessionNumber: number): Promise<number> {
    return this.#ussd.abort(msisdn, sessionNumber);
  }

  /** The next screen of a dialogue not handed out yet, waiting up to timeoutMs for it. */
  nextUssdScreen(msisdn: string, sessionNumber: number, timeoutMs = 5_000): Promise<UssdScreen> {
    return this.#ussd.nextScreen(msisdn, sessionNumber, timeoutMs);
  }

  #deliverOnFirst(fields: Record<string, unknown>): Promise<number> {
    const session = [...this.#bound][0];
    if (!session) return Promise.reject(new Error('no ESME is bound to the simulator'));
    return new Promise<number>((resolve) => this.#deliverSm(session, fields, resolve));
  }

  /**
   * Sends a deliver_sm and calls `done` once with its command_status, or with NO_RESPONSE when
   * no response came in time or the link dropped first (the package would never call back then).
   */
  #deliverSm(session: LibSession, fields: Record<string, unknown>, done: (status: number) => void): void {
    let pending = this.#unanswered.get(session);
    if (!pending) {
      pending = new Set();
      this.#unanswered.set(session, pending);
    }
    const waiting = pending;
    const settle = (status: number) => {
      if (!waiting.delete(settle)) return;
      clearTimeout(timer);
      done(status);
    };
    const timer = setTimeout(() => settle(NO_RESPONSE), this.#o.deliverResponseTimeoutMs ?? DELIVER_RESPONSE_TIMEOUT_MS);
    waiting.add(settle);
    if (session.socket.destroyed) return settle(NO_RESPONSE);
    session.deliver_sm(fields, (resp) => settle(resp.command_status));
  }

  /** Asks every bound ESME to unbind, as an SMSC does before maintenance. */
  unbindAll(): void {
    for (const s of this.#bound) s.unbind({});
  }

  /**
   * Drops every connection without a word. For `downForMs` after, a new connection is cut as
   * soon as it is made: the link is down, and the ESME keeps trying until it comes back.
   */
  disconnectAll(downForMs = 0): void {
    this.#downUntilMs = Math.max(this.#downUntilMs, Date.now() + downForMs);
    for (const s of this.#bound) s.destroy();
  }

  #onSession(session: LibSession): void {
    session.on('error', () => undefined);
    if (Date.now() < this.#downUntilMs) {
      session.destroy();
      return;
    }
    session.socket.on('close', () => {
      this.#bound.delete(session);
      for (const settle of [...(this.#unanswered.get(session) ?? [])]) settle(NO_RESPONSE);
      if (this.#unbound.has(session)) return;
      for (const a of this.#recentAccepts.get(session) ?? []) {
        if (a.atMs < Date.now() - ACCEPTED_BEFORE_DROP_MS) continue;
        this.acceptedBeforeDrop.add(a.messageId);
        if (this.acceptedBeforeDrop.size > ACCEPTED_BEFORE_DROP_KEPT_MAX) {
          this.acceptedBeforeDrop.delete(this.acceptedBeforeDrop.values().next().value as string);
        }
      }
    });
    const bind = (pdu: LibPdu) => {
      if (pdu.system_id !== this.#o.systemId || pdu.password !== this.#o.password) {
        this.counters.bindFailures++;
        session.send(pdu.response({ command_status: 0x0d })); // ESME_RBINDFAIL
        return;
      }
      this.#bound.add(session);
      this.bindsAccepted++;
      session.send(pdu.response({ system_id: 'dialpay-sim' }));
    };
    session.on('bind_transceiver', bind);
    session.on('bind_transmitter', bind);
    session.on('bind_receiver', bind);
    session.on('enquire_link', (pdu) => session.send(pdu.response()));
    session.on('unbind', (pdu) => {
      this.#unbound.add(session);
      session.send(pdu.response());
      this.#bound.delete(session);
      session.close();
    });
    session.on('submit_sm', (pdu) => this.#onSubmit(session, pdu));
  }

  #onSubmit(session: LibSession, pdu: LibPdu): void {
    if (pdu.ussd_service_op !== undefined) {
      // A USSD screen: answered at once and kept apart from SMS (the SMS faults do not apply).
      session.send(pdu.response({ message_id: (this.#nextId++).toString(16).toUpperCase() }));
      this.counters.ussdScreens++;
      this.#ussd.record(pdu);
      return;
    }
    if (this.#faults.responseDelayMs > 0) {
      setTimeout(() => this.#answerSubmit(session, pdu), this.#faults.responseDelayMs);
      return;
    }
    this.#answerSubmit(session, pdu);
  }

  #answerSubmit(session: LibSession, pdu: LibPdu): void {
    this.counters.submits++;
    const f = this.#faults;
    if (f.disconnectAfterSubmits > 0) {
      f.disconnectAfterSubmits--;
      if (f.disconnectAfterSubmits === 0) {
        this.counters.unanswered++;
        session.destroy();
        return;
      }
    }
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.#windowSecond) {
      this.#windowSecond = second;
      this.#inWindow = 0;
    }
    if (f.throttleAboveTps > 0 && ++this.#inWindow > f.throttleAboveTps) {
      this.counters.throttled++;
      session.send(pdu.response({ command_status: 0x58 }));
      return;
    }
    const roll = this.#random();
    if (roll < f.noResponseRate) {
      this.counters.unanswered++;
      return;
    }
    if (roll < f.noResponseRate + f.genericNackRate) {
      this.counters.nacked++;
      session.send(new smpp.PDU('generic_nack', { sequence_number: pdu.sequence_number, command_status: 0x08 }));
      return;
    }
    if (roll < f.noResponseRate + f.genericNackRate + f.temporaryErrorRate) {
      this.counters.temporary++;
      session.send(pdu.response({ command_status: 0x64 }));
      return;
    }
    const id = this.#nextId++;
    const messageId = this.#o.messageIdFormat === 'decimal' ? String(id) : id.toString(16).toUpperCase();
    session.send(pdu.response({ message_id: messageId }));
    this.#noteAccepted(session, messageId);
    this.#record(pdu, messageId);
    if (Number(pdu.registered_delivery ?? 0) & 0x01) this.#scheduleReceipt(session, pdu, messageId);
  }

  #noteAccepted(session: LibSession, messageId: string): void {
    const nowMs = Date.now();
    let recent = this.#recentAccepts.get(session);
    if (!recent) {
      recent = [];
      this.#recentAccepts.set(session, recent);
    }
    recent.push({ messageId, atMs: nowMs });
    let stale = 0;
    while (stale < recent.length && (recent[stale] as { atMs: number }).atMs < nowMs - ACCEPTED_BEFORE_DROP_MS) stale++;
    if (stale > 0) recent.splice(0, stale);
  }

  #record(pdu: LibPdu, messageId: string): void {
    const dataCoding = Number(pdu.data_coding ?? 0);
    const raw = Buffer.isBuffer(pdu.message_payload) ? pdu.message_payload
      : Buffer.isBuffer(pdu.short_message) ? pdu.short_message : Buffer.alloc(0);
    let body = raw;
    let concat: { reference: number; total: number; seq: number } | null = null;
    if (Number(pdu.esm_class ?? 0) & 0x40) {
      const parsed = parseUdh(raw);
      body = parsed?.body ?? raw;
      concat = parsed?.concat ?? null;
    } else if (pdu.sar_msg_ref_num !== undefined) {
      concat = { reference: Number(pdu.sar_msg_ref_num), total: Number(pdu.sar_total_segments), seq: Number(pdu.sar_segment_seqnum) };
    }
    const destination = String(pdu.destination_addr);
    const base = { messageId, destination, source: String(pdu.source_addr), receivedAtMs: Date.now() };
    if (!concat || concat.total === 1) {
      this.#deliver({ ...base, text: decodeText(body, dataCoding), parts: 1 });
      return;
    }
    const key = `${destination}|${concat.reference}`;
    const entry = this.#partials.get(key) ?? { total: concat.total, bodies: new Map<number, Buffer>(), dataCoding };
    entry.bodies.set(concat.seq, body);
    this.#partials.set(key, entry);
    if (entry.bodies.size === entry.total) {
      this.#partials.delete(key);
      const joined = Buffer.concat([...entry.bodies.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]));
      this.#deliver({ ...base, text: decodeText(joined, entry.dataCoding), parts: entry.total });
    }
  }

  #scheduleReceipt(session: LibSession, pdu: LibPdu, messageId: string): void {
    const submittedAtMs = Date.now();
    setTimeout(() => {
      if (!this.#bound.has(session)) return;
      const text = formatReceiptText({
        messageId, state: 'DELIVERED', submittedAtUnixMs: submittedAtMs, doneAtUnixMs: Date.now(), errorCode: '0', text: '',
      });
      session.deliver_sm(
        {
          source_addr: pdu.destination_addr,
          destination_addr: pdu.source_addr,
          esm_class: 0x04,
          short_message: Buffer.from(text, 'latin1'),
          ...(this.#o.receiptTlvs === false ? {} : { receipted_message_id: messageId, message_state: messageStateOf('DELIVERED') }),
        },
        () => undefined,
      );
      this.counters.receiptsSent++;
    }, this.#o.receiptDelayMs ?? 50).unref();
  }
}
