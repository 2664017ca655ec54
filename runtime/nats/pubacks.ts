// Durable publishing on the hot paths: a JetStream publish is a request on the
// stream's subject, answered by a PubAck. Through the connection's ReplyMux
// (reply-mux.ts, for why) instead of js.publish().
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { ReplyError, replyMuxFor, type ReplyMux } from './reply-mux.js';

/** What a durable publish needs: js.publish() has this shape too, so either can be passed. */
export interface DurablePublish {
  publish(
    subject: string, payload: Uint8Array, options: { msgID: string; timeout: number; headers: MsgHdrs },
  ): Promise<{ readonly seq: number; readonly duplicate: boolean }>;
}

export interface PubAck {
  readonly stream: string;
  readonly seq: number;
  readonly duplicate: boolean;
}

/** The stream refused the message (its code and description), or the request failed (ReplyError's code). */
export class PubAckError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'PubAckError';
  }
}

export class PubAckMux implements DurablePublish {
  // Looked up once, not per publish: this sits on the gateway's per-PDU path.
  readonly #mux: ReplyMux;

  constructor(nc: NatsConnection) {
    this.#mux = replyMuxFor(nc);
  }

  async publish(subject: string, payload: Uint8Array, options: { msgID: string; timeout: number; headers: MsgHdrs }): Promise<PubAck> {
    options.headers.set('Nats-Msg-Id', options.msgID);
    let text: string;
    try {
      const msg = await this.#mux.request(subject, payload, { timeoutMs: options.timeout, headers: options.headers });
      text = msg.string();
    } catch (err) {
      if (err instanceof ReplyError) {
        const reason = err.code === 503 ? 'no stream takes this subject (no responders)'
          : err.code === 408 ? 'no PubAck in time' : err.message;
        throw new PubAckError(reason, err.code);
      }
      throw err;
    }
    let ack: { stream?: string; seq?: number; duplicate?: boolean; error?: { code?: number; description?: string } };
    try {
      ack = JSON.parse(text) as typeof ack;
    } catch {
      throw new PubAckError('the PubAck is not JSON', 500);
    }
    if (ack.error) throw new PubAckError(ack.error.description ?? 'the stream refused the message', ack.error.code ?? 500);
    if (typeof ack.seq !== 'number' || typeof ack.stream !== 'string') throw new PubAckError('the PubAck has no stream or sequence', 500);
    return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true };
  }

  /** Rejects what still waits on this connection's ReplyMux. */
  close(): void {
    this.#mux.close();
  }
}
