// Client mode: one bind from the gateway to an operator's SMSC. Connects
// (TCP or TLS), binds as a transceiver, keeps the link alive with
// enquire_link, and re-binds with exponential backoff and full jitter when the
// link dies or the bind is refused. Submits wait for the throughput cap.
import { readFileSync } from 'node:fs';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { SessionClosedError, SmppSession } from './session.js';
import type { Pdu } from './codec/pdu.js';
import { CommandStatus, statusName } from './status.js';
import type { SmppMetrics } from './metrics.js';
import { TokenBucket, burstFor } from './throttle.js';

export class NotBoundError extends Error {
  override readonly name = 'NotBoundError';
  constructor(readonly bindId: string) {
    super(`bind ${bindId} is not bound`);
  }
}
export class BindRejectedError extends Error {
  override readonly name = 'BindRejectedError';
  constructor(readonly bindId: string, readonly commandStatus: number) {
    super(`bind ${bindId} refused with ${statusName(commandStatus)}`);
  }
}

export const BindState = {
  STOPPED: 'stopped', CONNECTING: 'connecting', BINDING: 'binding', BOUND: 'bound', UNBINDING: 'unbinding',
} as const;
export type BindStateValue = (typeof BindState)[keyof typeof BindState];

export type BindCommand = 'bind_transceiver' | 'bind_transmitter' | 'bind_receiver';
const BIND_SUFFIX: Readonly<Record<BindCommand, string>> = { bind_transceiver: '', bind_transmitter: '-tx', bind_receiver: '-rx' };

export interface ClientBindOptions {
  readonly operator: OperatorConfig;
  readonly index: number;
  readonly bindCommand: BindCommand;
  readonly log: Logger;
  readonly metrics: SmppMetrics;
  /** A deliver_sm or other request from the SMSC; the handler answers it on the session. */
  readonly onRequest: (session: SmppSession, pdu: Pdu, bindId: string) => void;
  /** The operator's bucket in this process, shared by its binds (replica-share.ts); a bucket of the bind's own when absent. */
  readonly throughput?: TokenBucket;
}

const CONNECT_TIMEOUT_MS = 10_000;
const UNBIND_TIMEOUT_MS = 5_000;

/** Full-jitter exponential backoff: random in [min, min * 2^attempt], capped. */
export function backoffDelayMs(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(minMs + random() * (ceiling - minMs));
}

export class ClientBind {
  readonly id: string;
  readonly #o: ClientBindOptions;
  readonly #bucket: TokenBucket;
  #state: BindStateValue = BindState.STOPPED;
  #session: SmppSession | null = null;
  #stopping = false;
  #loop: Promise<void> | null = null;
  #wakeSleep: (() => void) | null = null;
  #boundOnce = false;
  /** Requests that arrived with the bind_resp, before our await saw it (bounded by the window). */
  #early: { session: SmppSession; pdu: Pdu }[] = [];

  constructor(options: ClientBindOptions) {
    this.#o = options;
    this.id = `${options.operator.id}/bind-${options.index}${BIND_SUFFIX[options.bindCommand]}`;
    const smpp = options.operator.smpp;
    this.#bucket = options.throughput ?? new TokenBucket(smpp.throughputPerSecondMax, burstFor(smpp.throughputPerSecondMax), Date.now());
  }

  get state(): BindStateValue {
    return this.#state;
  }

  /** Receiver binds take messages in; only transmitters and transceivers submit. */
  get canSubmit(): boolean {
    return this.#o.bindCommand !== 'bind_receiver';
  }

  start(): void {
    if (this.#loop) return;
    this.#stopping = false;
    this.#loop = this.#run();
  }

  /** Submits one submit_sm, after the throughput cap allows it. Resolves with the response PDU. */
  async submit(fields: Record<string, unknown>): Promise<Pdu> {
    for (;;) {
      const session = this.#session;
      if (this.#state !== BindState.BOUND || !session || !this.canSubmit) throw new NotBoundError(this.id);
      const waitMs = this.#bucket.take(Date.now());
      if (waitMs === 0) return session.request('submit_sm', fields);
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }

  /** The SMSC answered ESME_RTHROTTLED. */
  throttled(): void {
    this.#bucket.slowDown(Date.now(), this.#o.operator.smpp.throttleSlowDownMs);
    this.#o.metrics.throttleEvents.inc({ operator: this.#o.operator.id });
  }

  /** Unbinds cleanly (bounded wait for unbind_resp) and stops reconnecting. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wakeSleep?.();
    const session = this.#session;
    if (session && this.#state === BindState.BOUND) {
      this.#state = BindState.UNBINDING;
      await session.request('unbind', {}, UNBIND_TIMEOUT_MS, true).catch(() => undefined);
      session.close();
      // A peer that never closes its side must not hold our shutdown.
      setTimeout(() => session.destroy(), UNBIND_TIMEOUT_MS).unref();
    } else {
      session?.destroy();
    }
    await this.#loop;
    this.#loop = null;
  }

  async #run(): Promise<void> {
    const { operator, log, metrics } = this.#o;
    let attempt = 0;
    while (!this.#stopping) {
      let bound = false;
      try {
        this.#state = BindState.CONNECTING;
        const socket = await this.#connect();
        const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        if (this.#stopping) {
          socket.destroy(); // stop() came while we were connecting
          break;
        }
        const session = this.#openSession(socket);
        this.#state = BindState.BINDING;
        await this.#requestBind(session);
        if (this.#stopping) {
          session.destroy();
          break;
        }
        this.#state = BindState.BOUND;
        for (const early of this.#early.splice(0)) this.#o.onRequest(early.session, early.pdu, this.id);
        bound = true;
        attempt = 0;
        metrics.bindsUp.inc({ operator: operator.id, mode: 'client' });
        if (this.#boundOnce) metrics.reconnects.inc({ operator: operator.id });
        this.#boundOnce = true;
        log.info({ bind: this.id, host: operator.smpp.host, port: operator.smpp.port }, 'smpp bound');
        await this.#keepAliveUntil(session, closed);
        if (!this.#stopping) log.warn({ bind: this.id }, 'smpp link lost');
      } catch (err) {
        const reason = err instanceof BindRejectedError ? statusName(err.commandStatus) : (err as Error).name;
        metrics.bindFailures.inc({ operator: operator.id, reason });
        // The password is never logged: only the system_id and the reason.
        log.warn({ bind: this.id, systemId: operator.smpp.systemId, reason, err: (err as Error).message }, 'smpp bind failed');
        this.#session?.destroy();
      } finally {
        for (const early of this.#early.splice(0)) early.session.respond(early.pdu, CommandStatus.ESME_RINVBNDSTS);
        if (bound) metrics.bindsUp.dec({ operator: operator.id, mode: 'client' });
        if (bound && !this.#stopping) metrics.bindLosses.inc({ operator: operator.id, mode: 'client' });
        this.#session = null;
      }
      this.#state = BindState.STOPPED;
      if (this.#stopping) break;
      await this.#sleep(backoffDelayMs(attempt++, operator.smpp.reconnectDelayMsMin, operator.smpp.reconnectDelayMsMax));
    }
  }

  /** The SMPP session over a connected socket, made this bind's current one. */
  #openSession(socket: Socket): SmppSession {
    const { operator, log, metrics } = this.#o;
    const session = new SmppSession({
      socket,
      label: this.id,
      operatorId: operator.id,
      pduBytesMax: operator.smpp.pduBytesMax,
      windowSize: operator.smpp.windowSize,
      windowWaitersMax: operator.smpp.windowWaitersMax,
      responseTimeoutMs: operator.smpp.responseTimeoutMs,
      log,
      metrics,
      onRequest: (pdu) => this.#onRequest(session, pdu),
      onClose: () => undefined,
    });
    this.#session = session;
    return session;
  }

  /** Sends the bind request; throws BindRejectedError when the SMSC refuses it. */
  async #requestBind(session: SmppSession): Promise<void> {
    const { smpp } = this.#o.operator;
    const resp = await session.request(this.#o.bindCommand, {
      system_id: smpp.systemId,
      password: smpp.password,
      system_type: smpp.systemType,
      interface_version: 0x34,
      address_range: smpp.addressRange,
    });
    if (resp.command_status !== CommandStatus.ESME_ROK) throw new BindRejectedError(this.id, resp.command_status);
  }

  /** Sends enquire_link on the interval until the link closes; an unanswered one drops the link. */
  async #keepAliveUntil(session: SmppSession, closed: Promise<void>): Promise<void> {
    const { operator, log } = this.#o;
    const keepAlive = setInterval(() => {
      session.request('enquire_link', {}, operator.smpp.responseTimeoutMs, true).catch((err: Error) => {
        if (err instanceof SessionClosedError) return;
        log.warn({ bind: this.id, err }, 'enquire_link unanswered; dropping the link');
        session.destroy();
      });
    }, operator.smpp.enquireLinkIntervalMs);
    await closed;
    clearInterval(keepAlive);
  }

  #onRequest(session: SmppSession, pdu: Pdu): void {
    switch (pdu.command) {
      case 'enquire_link':
        session.respond(pdu, CommandStatus.ESME_ROK);
        return;
      case 'unbind':
        this.#state = BindState.UNBINDING; // no new submits on a link the SMSC is closing
        session.respond(pdu, CommandStatus.ESME_ROK);
        session.close();
        return;
      default:
        // An SMSC may send its first deliver_sm in the same segment as the bind_resp,
        // before our await has run: hold it until the bind completes.
        if (this.#state === BindState.BINDING && this.#early.length < this.#o.operator.smpp.windowSize) {
          this.#early.push({ session, pdu });
          return;
        }
        if (this.#state !== BindState.BOUND) {
          session.respond(pdu, CommandStatus.ESME_RINVBNDSTS);
          return;
        }
        this.#o.onRequest(session, pdu, this.id);
    }
  }

  #connect(): Promise<Socket> {
    const { host, port, tls, tlsCaFile } = this.#o.operator.smpp;
    return new Promise((resolve, reject) => {
      const socket: Socket = tls
        ? tlsConnect({ host, port, servername: isIP(host) ? undefined : host, ca: tlsCaFile ? readFileSync(tlsCaFile) : undefined })
        : netConnect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, CONNECT_TIMEOUT_MS);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wakeSleep = null;
        resolve();
      }, ms);
      this.#wakeSleep = () => {
        clearTimeout(timer);
        this.#wakeSleep = null;
        resolve();
      };
    });
  }
}
