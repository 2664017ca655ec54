// Server mode: an operator's SMSC or an aggregator binds to us. Binds are
// checked against the allowed addresses, the system_id, the scrypt-hashed
// password and a limit of concurrent binds; a failure answers ESME_RBINDFAIL
// and is counted and logged without the password. Roles are reversed at the
// PDU level: the peer's submit_sm carries a subscriber's message in, and our
// messages to subscribers go out as deliver_sm.
import { createServer as createTcpServer, type BlockList, type Server, type Socket, type AddressInfo } from 'node:net';
import { allowList, isAllowed, normalizeRemote } from '../edge-auth/index.js';
import { createServer as createTlsServer } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { verifySecret } from '../../runtime/secrets.js';
import { SmppSession } from './session.js';
import type { Pdu } from './codec/pdu.js';
import { CommandStatus } from './status.js';
import type { SmppMetrics } from './metrics.js';
import type { InboundHandler } from './inbound.js';
import type { OperatorLink } from './outbound.js';
import { TokenBucket, burstFor } from './throttle.js';

type BindType = 'transceiver' | 'transmitter' | 'receiver';
const BIND_COMMANDS: Readonly<Record<string, BindType>> = {
  bind_transceiver: 'transceiver', bind_transmitter: 'transmitter', bind_receiver: 'receiver',
};
const UNBIND_TIMEOUT_MS = 5_000;
/** Connections open at once per listener, bound or not. */
const CONNECTIONS_MAX = 256;

interface Peer {
  readonly session: SmppSession;
  readonly remote: string;
  bindType: BindType | null;
  /** A bind is being checked (scrypt is slow): a second bind PDU meanwhile is refused. */
  binding: boolean;
}

export class SmppServerListener {
  readonly #operator: OperatorConfig;
  readonly #log: Logger;
  readonly #metrics: SmppMetrics;
  readonly #inbound: InboundHandler;
  readonly #allowed: BlockList;
  /** Bound peers. */
  readonly #peers = new Set<Peer>();
  /** Every open connection, bound or not, so stop() can close them all. */
  readonly #sessions = new Set<SmppSession>();
  readonly #bucket: TokenBucket;
  #server: Server | null = null;
  #next = 0;
  #connections = 0;
  #stopping = false;

  constructor(options: { operator: OperatorConfig; log: Logger; metrics: SmppMetrics; inbound: InboundHandler; throughput?: TokenBucket }) {
    this.#operator = options.operator;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#inbound = options.inbound;
    this.#allowed = allowList(options.operator.smpp.allowedAddresses);
    const rate = options.operator.smpp.throughputPerSecondMax;
    this.#bucket = options.throughput ?? new TokenBucket(rate, burstFor(rate), Date.now());
  }

  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async listen(): Promise<number> {
    const smpp = this.#operator.smpp;
    const onSocket = (socket: Socket) => this.#accept(socket);
    const server = smpp.tls
      ? createTlsServer({ cert: readFileSync(smpp.tlsCertFile as string), key: readFileSync(smpp.tlsKeyFile as string) }, onSocket)
      : createTcpServer(onSocket);
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(smpp.port, smpp.host, () => resolve());
    });
    this.#log.info({ operator: this.#operator.id, port: this.port, tls: smpp.tls }, 'smpp server listening');
    return this.port;
  }

  /** Where a receipt for a submit on `session` goes: that bind if it may receive, else another receiver. */
  receiptSession(session: SmppSession): SmppSession | null {
    const receivers = this.#receivers();
    return (receivers.find((p) => p.session === session) ?? receivers[0])?.session ?? null;
  }

  #receivers(): Peer[] {
    return [...this.#peers].filter((p) => p.bindType === 'receiver' || p.bindType === 'transceiver');
  }

  /** Outbound for this operator: deliver_sm over one of its receiver or transceiver binds. */
  link(): OperatorLink {
    const receivers = () => this.#receivers();
    return {
      ready: () => receivers().length > 0,
      send: async (fields) => {
        await this.#takeToken();
        const up = receivers();
        if (up.length === 0) throw new Error(`no receiver bound for ${this.#operator.id}`);
        const peer = up[this.#next++ % up.length] as Peer;
        const { registered_delivery: _ignored, ...deliver } = fields;
        return peer.session.request('deliver_sm', deliver);
      },
      throttled: () => {
        this.#bucket.slowDown(Date.now(), this.#operator.smpp.throttleSlowDownMs);
        this.#metrics.throttleEvents.inc({ operator: this.#operator.id });
      },
    };
  }

  /**
   * A deliver_sm that answers something the peer sent on `session` (a USSD screen): on that bind if
   * it may receive, else on another receiver, within the operator's throughput cap.
   */
  async deliverVia(session: SmppSession, fields: Record<string, unknown>): Promise<Pdu> {
    await this.#takeToken();
    const target = this.receiptSession(session);
    if (!target) throw new Error(`no receiver bound for ${this.#operator.id}`);
    return target.request('deliver_sm', fields);
  }

  async #takeToken(): Promise<void> {
    for (;;) {
      const waitMs = this.#bucket.take(Date.now());
      if (waitMs === 0) return;
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    const closing = new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
    const bound = new Set([...this.#peers].map((p) => p.session));
    await Promise.all(
      [...this.#sessions].map(async (session) => {
        if (bound.has(session)) await session.request('unbind', {}, UNBIND_TIMEOUT_MS, true).catch(() => undefined);
        session.close();
        setTimeout(() => session.destroy(), UNBIND_TIMEOUT_MS).unref();
      }),
    );
    await closing;
  }

  #accept(socket: Socket): void {
    if (this.#connections >= CONNECTIONS_MAX) {
      socket.destroy();
      return;
    }
    const smpp = this.#operator.smpp;
    const remote = normalizeRemote(socket.remoteAddress);
    if (!isAllowed(this.#allowed, remote)) {
      this.#metrics.bindFailures.inc({ operator: this.#operator.id, reason: 'address' });
      this.#log.warn({ operator: this.#operator.id, remote }, 'connection from an address not on the allow list');
      socket.destroy();
      return;
    }
    this.#connections++;
    const label = `${this.#operator.id}/peer-${remote}:${socket.remotePort}`;
    let peer: Peer | null = null;
    const session = new SmppSession({
      socket,
      label,
      operatorId: this.#operator.id,
      pduBytesMax: smpp.pduBytesMax,
      windowSize: smpp.windowSize,
      windowWaitersMax: smpp.windowWaitersMax,
      responseTimeoutMs: smpp.responseTimeoutMs,
      log: this.#log,
      metrics: this.#metrics,
      onRequest: (pdu) => this.#onRequest(peer as Peer, pdu),
      onClose: () => {
        this.#connections--;
        clearTimeout(bindTimer);
        if (session) this.#sessions.delete(session);
        if (peer?.bindType) this.#metrics.bindsUp.dec({ operator: this.#operator.id, mode: 'server' });
        if (peer?.bindType && !this.#stopping) this.#metrics.bindLosses.inc({ operator: this.#operator.id, mode: 'server' });
        if (peer) this.#peers.delete(peer);
      },
    });
    peer = { session, remote, bindType: null, binding: false };
    this.#sessions.add(session);
    // A connection that has not bound in time is closed, so idle sockets cannot fill the listener.
    const bindTimer = setTimeout(() => {
      if (!peer?.bindType) session.destroy();
    }, smpp.bindTimeoutMs);
    bindTimer.unref();
  }

  #onRequest(peer: Peer, pdu: Pdu): void {
    const bindType = BIND_COMMANDS[pdu.command];
    if (bindType) {
      if (peer.bindType || peer.binding) peer.session.respond(pdu, CommandStatus.ESME_RALYBND);
      else {
        peer.binding = true;
        void this.#bind(peer, pdu, bindType).finally(() => (peer.binding = false));
      }
      return;
    }
    switch (pdu.command) {
      case 'enquire_link':
        peer.session.respond(pdu, CommandStatus.ESME_ROK);
        return;
      case 'unbind':
        peer.session.respond(pdu, CommandStatus.ESME_ROK);
        peer.session.close();
        return;
      case 'submit_sm':
        if (peer.bindType === 'transmitter' || peer.bindType === 'transceiver') this.#inbound.handle(peer.session, pdu, peer.session.label);
        else peer.session.respond(pdu, CommandStatus.ESME_RINVBNDSTS);
        return;
      default:
        peer.session.respond(pdu, peer.bindType ? CommandStatus.ESME_RINVCMDID : CommandStatus.ESME_RINVBNDSTS);
    }
  }

  async #bind(peer: Peer, pdu: Pdu, bindType: BindType): Promise<void> {
    const smpp = this.#operator.smpp;
    const systemId = String(pdu.system_id ?? '');
    let reason: string | null = null;
    if (systemId !== smpp.systemId) reason = 'system_id';
    else if (!(await verifySecret(String(pdu.password ?? ''), smpp.passwordHash ?? ''))) reason = 'password';
    else if (this.#peers.size >= smpp.bindsMax) reason = 'bind_limit';
    if (peer.session.closed) return; // gone while we checked the password: nothing to bind
    if (reason) {
      this.#metrics.bindFailures.inc({ operator: this.#operator.id, reason });
      // system_id and address identify the attempt; the password never reaches a log line.
      this.#log.warn({ operator: this.#operator.id, systemId, remote: peer.remote, reason }, 'smpp bind refused');
      peer.session.respond(pdu, CommandStatus.ESME_RBINDFAIL);
      peer.session.close(); // no second guess on this connection
      return;
    }
    peer.bindType = bindType;
    this.#peers.add(peer);
    this.#metrics.bindsUp.inc({ operator: this.#operator.id, mode: 'server' });
    peer.session.respond(pdu, CommandStatus.ESME_ROK, { system_id: 'dialpay' });
    this.#log.info({ operator: this.#operator.id, systemId, remote: peer.remote, bindType }, 'smpp peer bound');
  }
}
