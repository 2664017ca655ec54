// An SMSC for receipt tests, on the `smpp` package's own server: binds
// accepted, each submit_sm answered at once with a hex id, and a delivery
// receipt sent only when the test says, on the bound session it names. So a
// test can send a receipt to a gateway replica other than the one that submitted.
import type { AddressInfo, Server, Socket } from 'node:net';
import smpp from 'smpp';
import { decodeText, formatReceiptText, messageStateOf } from '../../gateway/smpp/codec/index.js'; // and raw short_message bytes

interface LibPdu {
  command: string;
  command_status: number;
  response(fields?: Record<string, unknown>): unknown;
  [field: string]: unknown;
}
interface LibSession {
  on(event: string, listener: (pdu: LibPdu) => void): void;
  send(pdu: unknown): boolean;
  deliver_sm(fields: Record<string, unknown>, callback: (pdu: LibPdu) => void): boolean;
  close(): void;
  destroy(): void;
  socket: Socket;
}

export interface Submit {
  readonly messageId: string;
  readonly text: string;
  readonly destination: string;
  /** The bound session it came on (index in `sessions` at the time). */
  readonly session: unknown;
}

export class ReceiptSmsc {
  #server: Server | null = null;
  #nextId = 0xa000;
  /** Bound sessions, oldest first; a closed one leaves. */
  readonly sessions: unknown[] = [];
  readonly submitted: Submit[] = [];

  async start(): Promise<number> {
    const server = smpp.createServer({}, (s: unknown) => this.#onSession(s as LibSession));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sessions as LibSession[]) s.destroy();
    this.sessions.length = 0;
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  /** Sends a DELIVERED receipt for messageId on `session`; resolves with the deliver_sm_resp's command_status. */
  sendReceipt(session: unknown, messageId: string, submittedAtUnixMs = Date.now()): Promise<number> {
    const now = Date.now();
    const text = formatReceiptText({ messageId, state: 'DELIVERED', submittedAtUnixMs, doneAtUnixMs: now, errorCode: '0', text: '' });
    return new Promise((resolve) => {
      (session as LibSession).deliver_sm(
        { source_addr: '254700000000', destination_addr: '384', esm_class: 0x04, short_message: Buffer.from(text, 'latin1'), receipted_message_id: messageId, message_state: messageStateOf('DELIVERED') },
        (resp) => resolve(resp.command_status),
      );
    });
  }

  #onSession(session: LibSession): void {
    session.on('error', () => undefined);
    session.socket.on('close', () => {
      const i = this.sessions.indexOf(session);
      if (i >= 0) this.sessions.splice(i, 1);
    });
    const bind = (pdu: LibPdu) => {
      this.sessions.push(session);
      session.send(pdu.response({ system_id: 'receipt-smsc' }));
    };
    session.on('bind_transceiver', bind);
    session.on('enquire_link', (pdu) => session.send(pdu.response()));
    session.on('unbind', (pdu) => {
      session.send(pdu.response());
      session.close();
    });
    session.on('submit_sm', (pdu) => {
      const messageId = (this.#nextId++).toString(16).toUpperCase();
      session.send(pdu.response({ message_id: messageId }));
      const raw = Buffer.isBuffer(pdu.short_message) ? pdu.short_message : Buffer.alloc(0);
      this.submitted.push({
        messageId, text: decodeText(raw, Number(pdu.data_coding ?? 0)), destination: String(pdu.destination_addr), session,
      });
    });
  }
}
