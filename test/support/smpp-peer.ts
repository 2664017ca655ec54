// A scriptable SMPP peer over a raw socket, for the edge cases an honest peer
// never sends: bad lengths, unknown commands, PDUs before bind.
import { connect, type Socket } from 'node:net';
import { decodePdu, encodePdu, FrameParser, type Pdu } from '../../gateway/smpp/codec/index.js';

export class RawPeer {
  readonly #socket: Socket;
  readonly #parser = new FrameParser(70_000);
  readonly #received: Pdu[] = [];
  #closed = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.#parser.push(chunk)) if (f.kind === 'pdu') this.#received.push(decodePdu(f.bytes));
    });
    socket.on('close', () => (this.#closed = true));
    socket.on('error', () => undefined);
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawPeer(socket);
  }

  get closed(): boolean {
    return this.#closed;
  }
  get received(): readonly Pdu[] {
    return this.#received;
  }

  write(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  send(command: string, fields: Record<string, unknown>): void {
    this.write(encodePdu(command, fields));
  }

  /** Waits for the first received PDU matching `match` (a command name or a predicate). */
  async expect(match: string | ((p: Pdu) => boolean), timeoutMs = 5_000): Promise<Pdu> {
    const test = typeof match === 'string' ? (p: Pdu) => p.command === match : match;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.#received.findIndex(test);
      if (index >= 0) return this.#received.splice(index, 1)[0] as Pdu;
      if (Date.now() > deadline) throw new Error(`no matching PDU within ${timeoutMs} ms; got ${this.#received.map((p) => p.command).join(', ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Sends a request and waits for the response with its sequence number. */
  async request(command: string, fields: Record<string, unknown>, sequence: number): Promise<Pdu> {
    this.send(command, { ...fields, sequence_number: sequence });
    return this.expect((p) => p.sequence_number === sequence && (p.command === `${command}_resp` || p.command === 'generic_nack'));
  }

  close(): void {
    this.#socket.destroy();
  }
}
