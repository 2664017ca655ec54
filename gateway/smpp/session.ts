// One SMPP session over one socket, either side of a bind. Owns framing, the
// send window, response expiry and sequence numbers. Every request resolves
// or rejects: on response, on timeout, or when the session closes. It knows
// nothing about binds, operators or NATS.
import type { Socket } from 'node:net';
import { FrameParser } from './codec/frame.js';
import { checkPduBody, type BodyProblem } from './body-check.js';
import { canEncode, decodePdu, encodePdu, isResponse, type Pdu } from './codec/pdu.js';
import { CommandStatus, statusName } from './status.js';
import type { SmppMetrics } from './metrics.js';
import type { Logger } from '../../runtime/log.js';

export class SessionClosedError extends Error {
  override readonly name = 'SessionClosedError';
  constructor(readonly label: string) {
    super(`SMPP session ${label} closed`);
  }
}
export class ResponseTimeoutError extends Error {
  override readonly name = 'ResponseTimeoutError';
  constructor(readonly label: string, readonly command: string, readonly timeoutMs: number) {
    super(`no ${command}_resp on ${label} within ${timeoutMs} ms`);
  }
}
export class WindowFullError extends Error {
  override readonly name = 'WindowFullError';
  constructor(readonly label: string) {
    super(`SMPP window and its wait queue are full on ${label}`);
  }
}

export interface SessionOptions {
  readonly socket: Socket;
  readonly label: string;
  readonly operatorId: string;
  readonly pduBytesMax: number;
  /** Requests awaiting a response at once. */
  readonly windowSize: number;
  /** Requests waiting for a window slot; beyond this, request() rejects at once. */
  readonly windowWaitersMax: number;
  readonly responseTimeoutMs: number;
  readonly log: Logger;
  readonly metrics: SmppMetrics;
  /** A request PDU from the peer (not a response). The owner must answer it with respond(). */
  readonly onRequest: (pdu: Pdu) => void;
  readonly onClose: () => void;
}

interface Pending {
  readonly command: string;
  readonly resolve: (pdu: Pdu) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
  readonly windowed: boolean;
}

/** Responses not yet taken by a peer that stopped reading; past this the session is dropped. */
const WRITE_BUFFER_BYTES_MAX = 4 * 1024 * 1024;

const SEQUENCE_MAX = 0x7fffffff;

export class SmppSession {
  readonly #o: SessionOptions;
  readonly #parser: FrameParser;
  readonly #pending = new Map<number, Pending>();
  readonly #waiters: (() => void)[] = [];
  #sequence = 0;
  #closed = false;
  #corked = false;
  /** Pending requests that count against the window (not link upkeep). */
  #windowed = 0;

  constructor(options: SessionOptions) {
    this.#o = options;
    this.#parser = new FrameParser(options.pduBytesMax);
    const socket = options.socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => options.log.warn({ err, bind: options.label }, 'smpp socket error'));
    socket.on('close', () => this.#onClose());
  }

  get label(): string {
    return this.#o.label;
  }
  get closed(): boolean {
    return this.#closed;
  }
  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * Sends a request and resolves with its response PDU (whatever its command_status).
   * `outsideWindow` is for link upkeep (enquire_link, unbind): a window full of submits must not
   * make a healthy link look dead.
   */
  async request(
    command: string, fields: Record<string, unknown>, timeoutMs = this.#o.responseTimeoutMs, outsideWindow = false,
  ): Promise<Pdu> {
    // Closing (end() called, the 'close' event not yet in): nothing written now would be read.
    const closing = () => this.#closed || this.#o.socket.writableEnded;
    if (closing()) throw new SessionClosedError(this.#o.label);
    if (!outsideWindow && this.#windowed >= this.#o.windowSize) {
      if (this.#waiters.length >= this.#o.windowWaitersMax) throw new WindowFullError(this.#o.label);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
      if (closing()) throw new SessionClosedError(this.#o.label);
    }
    const sequence = this.#nextSequence();
    const windowed = !outsideWindow;
    return new Promise<Pdu>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#pending.delete(sequence)) {
          this.#releaseSlot(windowed);
          reject(new ResponseTimeoutError(this.#o.label, command, timeoutMs));
        }
      }, timeoutMs);
      this.#pending.set(sequence, { command, resolve, reject, timer, windowed });
      if (windowed) {
        this.#windowed++;
        this.#o.metrics.windowInUse.inc({ operator: this.#o.operatorId });
      }
      this.#write(command, { ...fields, sequence_number: sequence }, 0);
    });
  }

  /** Answers a request from the peer. Commands with no response PDU (outbind, alert_notification) get generic_nack. */
  respond(request: Pdu, commandStatus: number, fields: Record<string, unknown> = {}): void {
    if (request.command === 'unknown' || !canEncode(`${request.command}_resp`)) {
      this.sendGenericNack(request.sequence_number, commandStatus || CommandStatus.ESME_RINVCMDID);
      return;
    }
    const response = { ...fields, sequence_number: request.sequence_number, command_status: commandStatus };
    this.#write(`${request.command}_resp`, response, commandStatus);
  }

  sendGenericNack(sequenceNumber: number, commandStatus: number): void {
    this.#write('generic_nack', { sequence_number: sequenceNumber, command_status: commandStatus }, commandStatus);
  }

  /** Graceful: lets written data flush, then closes. */
  close(): void {
    if (!this.#closed) this.#o.socket.end();
  }

  destroy(): void {
    this.#o.socket.destroy();
  }

  #write(command: string, fields: Record<string, unknown>, status: number): void {
    // Once closing (our end() or the peer's unbind), an answer cannot arrive: the SMSC re-sends what went unanswered.
    if (this.#closed || this.#o.socket.destroyed || this.#o.socket.writableEnded) return;
    // With a non-zero status the library writes the header only, which is what SMPP wants for most error responses.
    // Writes within one tick leave in one segment: one syscall for a burst of responses, not one each.
    const socket = this.#o.socket;
    if (socket.writableLength > WRITE_BUFFER_BYTES_MAX) {
      this.#o.log.warn({ bind: this.#o.label, bufferedBytes: socket.writableLength }, 'peer stopped reading; dropping the session');
      socket.destroy();
      return;
    }
    let bytes: Buffer;
    try {
      bytes = encodePdu(command, fields);
    } catch (err) {
      // A PDU we cannot build is our bug; it must never take the socket's data handler down with it.
      this.#o.log.error({ err, bind: this.#o.label, command }, 'cannot encode PDU');
      return;
    }
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        socket.uncork();
      });
    }
    socket.write(bytes);
    this.#o.metrics.pdus.inc({ operator: this.#o.operatorId, direction: 'out', command, status: statusName(status) });
  }

  #nextSequence(): number {
    this.#sequence = this.#sequence >= SEQUENCE_MAX ? 1 : this.#sequence + 1;
    return this.#sequence;
  }

  #releaseSlot(windowed: boolean): void {
    if (!windowed) return;
    this.#windowed--;
    this.#o.metrics.windowInUse.dec({ operator: this.#o.operatorId });
    this.#waiters.shift()?.();
  }

  #onData(chunk: Buffer): void {
    for (const frame of this.#parser.push(chunk)) {
      if (frame.kind === 'bad-length') {
        this.#o.log.warn({ bind: this.#o.label, commandLength: frame.commandLength }, 'PDU with a bad command_length');
        this.#o.metrics.pdus.inc({ operator: this.#o.operatorId, direction: 'in', command: 'malformed', status: 'ESME_RINVCMDLEN' });
        this.sendGenericNack(frame.sequenceNumber, CommandStatus.ESME_RINVCMDLEN);
        continue;
      }
      const bodyProblem = checkPduBody(frame.bytes);
      if (bodyProblem) {
        this.#refuseBody(bodyProblem);
        continue;
      }
      let pdu: Pdu;
      try {
        pdu = decodePdu(frame.bytes);
      } catch (err) {
        this.#o.log.warn({ err, bind: this.#o.label }, 'PDU body does not decode');
        this.#o.metrics.pdus.inc({ operator: this.#o.operatorId, direction: 'in', command: 'malformed', status: 'ESME_RINVCMDLEN' });
        this.sendGenericNack(frame.bytes.readUInt32BE(12), CommandStatus.ESME_RINVCMDLEN);
        continue;
      }
      const status = statusName(pdu.command_status);
      this.#o.metrics.pdus.inc({ operator: this.#o.operatorId, direction: 'in', command: pdu.command, status });
      try {
        if (isResponse(pdu.command_id)) this.#onResponse(pdu);
        else if (pdu.command === 'unknown') this.sendGenericNack(pdu.sequence_number, CommandStatus.ESME_RINVCMDID);
        // alert_notification has no response PDU in SMPP: note it and answer nothing.
        else if (pdu.command === 'alert_notification') this.#o.log.info({ bind: this.#o.label }, 'alert_notification from the SMSC');
        else this.#o.onRequest(pdu);
      } catch (err) {
        // Nothing a peer sends may crash the process; this PDU gets a system error instead.
        this.#o.log.error({ err, bind: this.#o.label, command: pdu.command }, 'PDU handling failed');
        if (!isResponse(pdu.command_id)) this.sendGenericNack(pdu.sequence_number, CommandStatus.ESME_RSYSERR);
      }
    }
  }

  /**
   * A request whose lengths run past its body is never handed on as a message: sm_length gets the command's own response
   * with ESME_RINVMSGLEN, the rest generic_nack.
   */
  #refuseBody(problem: BodyProblem): void {
    const { command, sequenceNumber, fault, field, commandStatus } = problem;
    this.#o.log.warn({ bind: this.#o.label, command, sequence: sequenceNumber, fault, field }, 'PDU lengths run past its body; refused');
    this.#o.metrics.pdus.inc({ operator: this.#o.operatorId, direction: 'in', command: 'malformed', status: statusName(commandStatus) });
    if (commandStatus === CommandStatus.ESME_RINVMSGLEN && canEncode(`${command}_resp`)) {
      this.#write(`${command}_resp`, { sequence_number: sequenceNumber, command_status: commandStatus }, commandStatus);
    } else {
      this.sendGenericNack(sequenceNumber, CommandStatus.ESME_RINVCMDLEN);
    }
  }

  #onResponse(pdu: Pdu): void {
    const pending = this.#pending.get(pdu.sequence_number);
    if (!pending) {
      this.#o.log.debug({ bind: this.#o.label, sequence: pdu.sequence_number, command: pdu.command },
        'response to no pending request (late or unknown)');
      return;
    }
    this.#pending.delete(pdu.sequence_number);
    clearTimeout(pending.timer);
    this.#releaseSlot(pending.windowed);
    pending.resolve(pdu);
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    const err = new SessionClosedError(this.#o.label);
    for (const [, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#pending.clear();
    this.#o.metrics.windowInUse.dec({ operator: this.#o.operatorId }, this.#windowed);
    this.#windowed = 0;
    for (const w of this.#waiters.splice(0)) w();
    this.#o.onClose();
  }
}
