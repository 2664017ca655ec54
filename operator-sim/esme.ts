// The simulated operator for a server-mode link: an aggregator that binds to
// the gateway (on the `smpp` package's client session), submits its
// subscribers' messages as submit_sm, and takes our messages as deliver_sm.
import smpp from 'smpp';
import { decodeText, encodeText, parseUdh } from '../gateway/smpp/codec/index.js';

interface LibSession {
  on(event: string, listener: (pdu: LibPdu) => void): void;
  bind_transceiver(fields: Record<string, unknown>, cb: (pdu: LibPdu) => void): void;
  submit_sm(fields: Record<string, unknown>, cb: (pdu: LibPdu) => void): void;
  unbind(fields: Record<string, unknown>, cb?: (pdu: LibPdu) => void): void;
  send(pdu: unknown): void;
  destroy(): void;
}
interface LibPdu {
  command_status: number;
  response(fields?: Record<string, unknown>): unknown;
  [field: string]: unknown;
}

const BIND_TIMEOUT_MS = 5_000;
/** Long messages waiting for their other parts; the oldest is dropped past this. */
const PARTIALS_MAX = 1_000;

export interface ReceivedMessage {
  readonly destination: string;
  readonly text: string;
  readonly receipt: boolean;
}

export class EsmeSimulator {
  readonly received: ReceivedMessage[] = [];
  /** Keep only the newest this many in `received` (0: keep all); a long run would grow it forever. */
  receivedKeepMax = 0;
  readonly #listeners: ((m: ReceivedMessage) => void)[] = [];
  readonly #partials = new Map<string, { total: number; bodies: Map<number, Buffer> }>();
  #session: LibSession | null = null;

  /** Calls `listener` with every message the aggregator receives. */
  onMessage(listener: (m: ReceivedMessage) => void): void {
    this.#listeners.push(listener);
  }

  constructor(private readonly options: { host: string; port: number; systemId: string; password: string }) {}

  /**
   * The message a deliver_sm completes, as a phone shows it: a part of a concatenated message
   * (UDH, esm_class 0x40) is held until every part is in, then the parts are joined without their
   * headers; null while parts are missing. At most PARTIALS_MAX messages wait for parts.
   */
  #joined(pdu: LibPdu): ReceivedMessage | null {
    const raw = Buffer.isBuffer(pdu.short_message) ? pdu.short_message : Buffer.alloc(0);
    const dataCoding = Number(pdu.data_coding ?? 0);
    const esmClass = Number(pdu.esm_class ?? 0);
    const destination = String(pdu.destination_addr);
    const receipt = (esmClass & 0x04) !== 0;
    const parsed = esmClass & 0x40 ? parseUdh(raw) : null;
    const concat = parsed?.concat ?? null;
    if (!concat || concat.total <= 1) return { destination, text: decodeText(parsed?.body ?? raw, dataCoding), receipt };
    const key = `${destination}|${concat.reference}`;
    const entry = this.#partials.get(key) ?? { total: concat.total, bodies: new Map<number, Buffer>() };
    entry.bodies.set(concat.seq, parsed?.body ?? raw);
    this.#partials.delete(key);
    if (entry.bodies.size < entry.total) {
      this.#partials.set(key, entry);
      if (this.#partials.size > PARTIALS_MAX) this.#partials.delete(this.#partials.keys().next().value as string);
      return null;
    }
    const joined = Buffer.concat([...entry.bodies.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]));
    return { destination, text: decodeText(joined, dataCoding), receipt };
  }

  /** Binds as a transceiver; resolves with the bind_resp command_status. */
  bind(): Promise<number> {
    const session = smpp.connect({ host: this.options.host, port: this.options.port }) as unknown as LibSession;
    this.#session = session;
    session.on('error', () => undefined);
    session.on('deliver_sm', (pdu) => {
      const message = this.#joined(pdu);
      if (!message) {
        session.send(pdu.response()); // one part of a long message: the phone shows it once all are in
        return;
      }
      this.received.push(message);
      if (this.receivedKeepMax > 0 && this.received.length > this.receivedKeepMax) {
        this.received.splice(0, this.received.length - this.receivedKeepMax);
      }
      for (const l of this.#listeners) l(message);
      session.send(pdu.response());
    });
    session.on('enquire_link', (pdu) => session.send(pdu.response()));
    return new Promise((resolve) => {
      // The package never calls back when the connection fails: settle on error, close or timeout too.
      const timer = setTimeout(() => resolve(-1), BIND_TIMEOUT_MS);
      const fail = () => {
        clearTimeout(timer);
        resolve(-1);
      };
      session.on('error', fail);
      session.on('close', fail);
      session.bind_transceiver({ system_id: this.options.systemId, password: this.options.password }, (pdu) => {
        clearTimeout(timer);
        resolve(pdu.command_status);
      });
    });
  }

  /** A subscriber's message, submitted to the gateway; resolves with the submit_sm_resp command_status. */
  submitFromPhone(msisdn: string, shortCode: string, text: string): Promise<number> {
    const session = this.#session;
    if (!session) return Promise.reject(new Error('not bound'));
    const { dataCoding, bytes } = encodeText(text);
    return new Promise((resolve) =>
      session.submit_sm({
        source_addr: msisdn, source_addr_ton: 1, destination_addr: shortCode,
        data_coding: dataCoding, registered_delivery: 1, short_message: bytes,
      }, (pdu) => resolve(pdu.command_status)),
    );
  }

  async stop(): Promise<void> {
    const session = this.#session;
    if (!session) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1_000);
      session.unbind({}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    session.destroy();
  }
}
