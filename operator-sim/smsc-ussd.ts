// The phones' USSD dialogues over the simulated SMSC's link: a phone dials a code (a deliver_sm with
// ussd_service_op), answers screens and aborts; the gateway's screens come back as submit_sm and are
// kept here, apart from SMS. The SMSC (smsc.ts) owns the link and hands each screen in.
import { decodeText, encodeText } from '../gateway/smpp/codec/index.js';

/** Where the SMSC keeps a USSD dialogue's identity (the operator's ussd.smppSessionInfo). */
export type UssdDialect = 'its_session_info' | 'user_message_reference' | 'msisdn';

/** A USSD screen the gateway sent to a phone (a submit_sm with ussd_service_op). */
export interface UssdScreen {
  readonly msisdn: string;
  /** The code the screen comes from (our dial's destination_addr, echoed). */
  readonly source: string;
  readonly text: string;
  readonly serviceOp: number;
  /** True for a PSSR response (op 17): the dialogue is over. */
  readonly end: boolean;
  /** The its_session_info session number, the user_message_reference, or 0 for the msisdn dialect. */
  readonly sessionNumber: number;
  /** its_session_info as received, or null when the screen has none. */
  readonly itsSessionInfo: { readonly sequenceNumber: number; readonly endBit: boolean } | null;
  readonly userMessageReference: number | null;
  readonly dataCoding: number;
  readonly receivedAtMs: number;
}

const USSD_OP = { PSSR_INDICATION: 1, PSSR_RESPONSE: 17, USSR_CONFIRM: 18 } as const;
/** Open dialogues the simulator tracks; the oldest is forgotten past this. */
const USSD_DIALOGUES_MAX = 10_000;
/** Callers waiting in nextUssdScreen at once. */
const USSD_WAITERS_MAX = 10_000;

interface UssdDialogue {
  readonly dialect: UssdDialect;
  readonly destination: string;
  /** Last its_session_info sequence number seen either way. */
  sequenceNumber: number;
  /** Order of the last screen nextUssdScreen handed out for this dialogue. */
  takenOrder: number;
}

export interface UssdDialOptions {
  readonly dialect?: UssdDialect;
  /** The dial's destination_addr; by default the code's number. */
  readonly destination?: string;
}

/** A dial's dialogue number (per its dialect) and the deliver_sm_resp status. */
export interface UssdDial {
  readonly sessionNumber: number;
  readonly status: number;
}

/** What the dialogues need of the SMSC. */
export interface UssdLink {
  /** Sends a deliver_sm on the first bound session; resolves with its command_status, rejects when no ESME is bound. */
  deliver(fields: Record<string, unknown>): Promise<number>;
  /** Keep only the newest this many screens (0: keep all): the SMSC's submittedKeepMax. */
  keepMax(): number;
}

export class UssdDialogues {
  /** USSD screens the gateway sent, in order. */
  readonly screens: UssdScreen[] = [];
  readonly #link: UssdLink;
  readonly #orders = new WeakMap<UssdScreen, number>();
  #order = 0;
  readonly #listeners: ((s: UssdScreen) => void)[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #dialogues = new Map<string, UssdDialogue>();
  #nextItsSession = Math.floor(Math.random() * 256);
  #nextUserMessageReference = Math.floor(Math.random() * 0x10000);

  constructor(link: UssdLink) {
    this.#link = link;
  }

  onScreen(listener: (s: UssdScreen) => void): void {
    this.#listeners.push(listener);
  }

  async dial(msisdn: string, serviceCode: string, options: UssdDialOptions = {}): Promise<UssdDial> {
    const dialect = options.dialect ?? 'its_session_info';
    // The SMSC addresses the dial to the code's number: *384*1# goes to 384.
    const destination = options.destination ?? (/^\*?(\d+)/.exec(serviceCode)?.[1] ?? serviceCode);
    let sessionNumber = 0;
    if (dialect === 'its_session_info') sessionNumber = this.#nextItsSession = (this.#nextItsSession + 1) % 256;
    if (dialect === 'user_message_reference') {
      sessionNumber = this.#nextUserMessageReference = (this.#nextUserMessageReference + 1) % 0x10000;
    }
    const key = `${msisdn}|${sessionNumber}`;
    this.#dialogues.delete(key); // a dial replaces an old dialogue with the same number
    this.#dialogues.set(key, { dialect, destination, sequenceNumber: 0, takenOrder: this.#order });
    if (this.#dialogues.size > USSD_DIALOGUES_MAX) this.#dialogues.delete(this.#dialogues.keys().next().value as string);
    const status = await this.#deliver(msisdn, destination, serviceCode, USSD_OP.PSSR_INDICATION,
      { dialect, sessionNumber, sequenceNumber: 0, endBit: false });
    return { sessionNumber, status };
  }

  answer(msisdn: string, sessionNumber: number, text: string): Promise<number> {
    const dialogue = this.#dialogue(msisdn, sessionNumber);
    dialogue.sequenceNumber = (dialogue.sequenceNumber + 1) % 128;
    return this.#deliver(msisdn, dialogue.destination, text, USSD_OP.USSR_CONFIRM,
      { dialect: dialogue.dialect, sessionNumber, sequenceNumber: dialogue.sequenceNumber, endBit: false });
  }

  abort(msisdn: string, sessionNumber: number): Promise<number> {
    const dialogue = this.#dialogue(msisdn, sessionNumber);
    dialogue.sequenceNumber = (dialogue.sequenceNumber + 1) % 128;
    this.#dialogues.delete(`${msisdn}|${sessionNumber}`);
    return this.#deliver(msisdn, dialogue.destination, '', USSD_OP.USSR_CONFIRM,
      { dialect: 'its_session_info', sessionNumber, sequenceNumber: dialogue.sequenceNumber, endBit: true });
  }

  async nextScreen(msisdn: string, sessionNumber: number, timeoutMs: number): Promise<UssdScreen> {
    const dialogue = this.#dialogue(msisdn, sessionNumber);
    const find = () => this.screens.find((s) => s.msisdn === msisdn && s.sessionNumber === sessionNumber
      && (this.#orders.get(s) ?? 0) > dialogue.takenOrder);
    let screen = find();
    if (!screen) {
      if (this.#waiters.size >= USSD_WAITERS_MAX) throw new Error('too many callers waiting for USSD screens');
      screen = await new Promise<UssdScreen>((resolve, reject) => {
        const check = () => {
          const found = find();
          if (!found) return;
          this.#waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          this.#waiters.delete(check);
          reject(new Error(`no USSD screen for ${msisdn} session ${sessionNumber} within ${timeoutMs} ms`));
        }, timeoutMs);
        this.#waiters.add(check);
      });
    }
    dialogue.takenOrder = this.#orders.get(screen) ?? dialogue.takenOrder;
    return screen;
  }

  /** A submit_sm with ussd_service_op the SMSC received: kept as a screen, handed to listeners and waiters. */
  record(pdu: Record<string, unknown>): void {
    const its = Buffer.isBuffer(pdu.its_session_info) && pdu.its_session_info.length === 2 ? pdu.its_session_info : null;
    const umr = pdu.user_message_reference === undefined ? null : Number(pdu.user_message_reference);
    const serviceOp = Number(pdu.ussd_service_op);
    const raw = Buffer.isBuffer(pdu.short_message) ? pdu.short_message : Buffer.alloc(0);
    const screen: UssdScreen = {
      msisdn: String(pdu.destination_addr),
      source: String(pdu.source_addr),
      text: decodeText(raw, Number(pdu.data_coding ?? 0)),
      serviceOp,
      end: serviceOp === USSD_OP.PSSR_RESPONSE,
      sessionNumber: its ? (its[0] as number) : umr ?? 0,
      itsSessionInfo: its ? { sequenceNumber: (its[1] as number) >> 1, endBit: ((its[1] as number) & 1) === 1 } : null,
      userMessageReference: umr,
      dataCoding: Number(pdu.data_coding ?? 0),
      receivedAtMs: Date.now(),
    };
    this.#orders.set(screen, ++this.#order);
    const dialogue = this.#dialogues.get(`${screen.msisdn}|${screen.sessionNumber}`);
    if (dialogue && screen.itsSessionInfo) dialogue.sequenceNumber = screen.itsSessionInfo.sequenceNumber;
    this.screens.push(screen);
    const keepMax = this.#link.keepMax();
    if (keepMax > 0 && this.screens.length > keepMax) this.screens.splice(0, this.screens.length - keepMax);
    for (const l of this.#listeners) l(screen);
    for (const check of [...this.#waiters]) check();
  }

  #dialogue(msisdn: string, sessionNumber: number): UssdDialogue {
    const dialogue = this.#dialogues.get(`${msisdn}|${sessionNumber}`);
    if (!dialogue) throw new Error(`no USSD dialogue ${sessionNumber} for ${msisdn}: dial first`);
    return dialogue;
  }

  #deliver(msisdn: string, destination: string, text: string, serviceOp: number,
    at: { dialect: UssdDialect; sessionNumber: number; sequenceNumber: number; endBit: boolean }): Promise<number> {
    const identity = at.dialect === 'its_session_info'
      ? { its_session_info: Buffer.from([at.sessionNumber, (at.sequenceNumber << 1) | (at.endBit ? 1 : 0)]) }
      : at.dialect === 'user_message_reference' ? { user_message_reference: at.sessionNumber } : {};
    const { dataCoding, bytes } = encodeText(text);
    return this.#link.deliver({
      service_type: 'USSD', source_addr: msisdn, source_addr_ton: 1, source_addr_npi: 1, destination_addr: destination,
      data_coding: dataCoding, short_message: bytes, ussd_service_op: serviceOp, ...identity,
    });
  }
}
