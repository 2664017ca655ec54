// Requests that want one reply, at the gateway's rate. nats.js sends each
// through a RequestOne that, when cleaned up after a success, builds an Error
// with a stack trace it then throws away: 7.8% of the gateway's CPU at 15,000
// durable publishes/s (a JetStream publish is such a request, answered by a
// PubAck), and about a fifth of its throughput. This does the same exchange
// through one subscription on a private inbox per connection: each request
// waits in a map under a token, and one sweep timer times them out, instead of
// a timer each. An upstream fix in nats.js would make this unnecessary.
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';

/** The request failed: no responder (503), no reply in time (408), too many waiting (429), or closed. */
export class ReplyError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'ReplyError';
  }
}

interface Waiting {
  readonly subject: string;
  readonly resolve: (msg: Msg) => void;
  readonly reject: (err: Error) => void;
  readonly deadlineMs: number;
}

/** Requests awaiting their reply at once; past this a request is refused at once (the caller answers "try again"). */
const PENDING_MAX = 100_000;
/** How often waiting requests are checked against their deadline: a timeout fires at most this late. */
const SWEEP_MS = 100;

export class ReplyMux {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #pending = new Map<string, Waiting>();
  #sub: Subscription | null = null;
  #sweep: NodeJS.Timeout | null = null;
  #next = 0;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    // The connection's own inbox prefix (connect.ts), as nats.js's consumers read it: the server lets
    // each identity subscribe to its own replies only.
    this.#prefix = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix ?? '');
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Publishes `payload` with a reply subject and resolves with the one reply; a reply with a status of 300 or more rejects. */
  request(subject: string, payload: Uint8Array, options: { timeoutMs: number; headers?: MsgHdrs }): Promise<Msg> {
    if (this.#pending.size >= PENDING_MAX) {
      return Promise.reject(new ReplyError(`${PENDING_MAX} requests already wait for their reply`, 429));
    }
    if (this.#nc.isClosed()) return Promise.reject(new ReplyError('the NATS connection is closed', 503));
    this.#start();
    this.#sweep ??= setInterval(() => this.#expire(), SWEEP_MS).unref();
    const token = (this.#next = (this.#next + 1) % Number.MAX_SAFE_INTEGER).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      this.#pending.set(token, { subject, resolve, reject, deadlineMs: performance.now() + options.timeoutMs });
      try {
        this.#nc.publish(subject, payload, { reply: `${this.#prefix}.${token}`, headers: options.headers });
      } catch (err) {
        this.#pending.delete(token);
        reject(err as Error);
      }
    });
  }

  /** Rejects what still waits; later requests start a new subscription. */
  close(): void {
    this.#stop();
    for (const w of this.#pending.values()) w.reject(new ReplyError('closed', 503));
    this.#pending.clear();
  }

  #start(): void {
    if (this.#sub) return;
    this.#sub = this.#nc.subscribe(`${this.#prefix}.*`, { callback: (err, msg) => (err ? this.#failAll(err) : this.#answer(msg)) });
  }

  #stop(): void {
    this.#sub?.unsubscribe();
    this.#sub = null;
    if (this.#sweep) clearInterval(this.#sweep);
    this.#sweep = null;
  }

  #answer(msg: Msg): void {
    const token = msg.subject.slice(this.#prefix.length + 1);
    const waiting = this.#pending.get(token);
    if (!waiting) return; // timed out already: the caller has moved on
    this.#pending.delete(token);
    // A status-only message: 503 means nobody listens on the subject.
    const code = msg.headers?.code ?? 0;
    if (code >= 300) {
      const reason = code === 503 ? `no responders on ${waiting.subject}` : `status ${code} ${msg.headers?.description ?? ''}`.trim();
      waiting.reject(new ReplyError(reason, code));
    } else {
      waiting.resolve(msg);
    }
  }

  #expire(): void {
    const nowMs = performance.now();
    for (const [token, w] of this.#pending) {
      if (w.deadlineMs > nowMs) continue;
      this.#pending.delete(token);
      w.reject(new ReplyError(`no reply on ${w.subject} in time`, 408));
    }
    // Idle: no timer holds this mux (and its connection) alive; the next request starts it again.
    if (this.#pending.size === 0 && this.#sweep) {
      clearInterval(this.#sweep);
      this.#sweep = null;
    }
  }

  #failAll(err: Error): void {
    this.#stop();
    for (const w of this.#pending.values()) w.reject(err);
    this.#pending.clear();
  }
}

const muxes = new WeakMap<NatsConnection, ReplyMux>();

/** The connection's one ReplyMux. */
export function replyMuxFor(nc: NatsConnection): ReplyMux {
  let mux = muxes.get(nc);
  if (!mux) muxes.set(nc, (mux = new ReplyMux(nc)));
  return mux;
}
