// USSD over an operator's SMPP link: a deliver_sm (client mode) or submit_sm
// (server mode) with the ussd_service_op TLV. USSD is interactive, not
// durable: the PDU is answered ESME_ROK at once (nothing goes to SMS_INBOUND),
// the hop goes to the ussd service as a core-NATS request with a deadline
// inside the operator's timeout, and its screen goes back to the phone as a
// new PDU on the same link. When the ussd service does not answer in time the
// phone gets an END saying so, rather than nothing until the operator gives up.
import type { NatsConnection } from '@nats-io/transport-node';
import type { OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { toE164 } from '../../runtime/msisdn.js';
import { Requests, requestReply } from '../../runtime/nats/index.js';
import { bigIntToInt64 } from '../../proto/index.js';
import { rawBytes, type Pdu } from '../smpp/codec/pdu.js';
import { decodeText } from '../smpp/codec/text-codec.js';
import { CommandStatus, statusName } from '../smpp/status.js';
import {
  hopSessionId, identityOf, inboundKind, matchesServiceCode, replyFields, type UssdAddressing, type UssdIdentity,
} from './smpp-pdu.js';
import { hopTimeoutMs, unavailableText } from './deadline.js';
import type { SmppMetrics } from '../smpp/metrics.js';
import type { SmppSession } from '../smpp/session.js';

/** Hops one operator may have in flight in this process; past it the SMSC is told ESME_RTHROTTLED. */
export const USSD_HOPS_IN_FLIGHT_MAX = 1_000;

type UssdConfig = NonNullable<OperatorConfig['ussd']>;

/** Sends our answer PDU to the peer, on the bind the hop came in on when that bind can carry it. */
export type UssdReplySender = (arrivedOn: SmppSession, bindId: string, fields: Record<string, unknown>) => Promise<Pdu>;

export interface UssdEdgeOptions {
  readonly operator: OperatorConfig;
  readonly ussd: UssdConfig;
  readonly nc: NatsConnection;
  readonly send: UssdReplySender;
  readonly log: Logger;
  readonly metrics: SmppMetrics;
  readonly hopsInFlightMax?: number;
}

/** The fields of an inbound PDU our answer is addressed from. */
function addressingOf(pdu: Pdu): UssdAddressing {
  const { source_addr, source_addr_ton, source_addr_npi, destination_addr, dest_addr_ton, dest_addr_npi, service_type } = pdu;
  return { source_addr, source_addr_ton, source_addr_npi, destination_addr, dest_addr_ton, dest_addr_npi, service_type };
}

type Outcome = 'continue' | 'end' | 'unavailable' | 'reply_refused' | 'reply_failed'
  | 'throttled' | 'rejected' | 'ignored' | 'closed' | 'released';

export class UssdEdge {
  readonly #o: UssdEdgeOptions;
  readonly #hopsInFlightMax: number;
  readonly #hopTimeoutMs: number;
  #inFlight = 0;
  #closed = false;
  #idle: (() => void)[] = [];

  constructor(options: UssdEdgeOptions) {
    this.#o = options;
    this.#hopsInFlightMax = options.hopsInFlightMax ?? USSD_HOPS_IN_FLIGHT_MAX;
    this.#hopTimeoutMs = hopTimeoutMs(options.ussd.operatorTimeoutMs);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** True when the PDU is USSD for this edge: it carries ussd_service_op. */
  static isUssd(pdu: Pdu): boolean {
    return pdu.ussd_service_op !== undefined;
  }

  /** Answers the PDU now; the hop and our answer PDU follow. Never throws. */
  handle(session: SmppSession, pdu: Pdu, bindId: string): void {
    const { operator, ussd, log } = this.#o;
    if (this.#closed) {
      // Shutting down: a hop started now could not be answered before the unbind.
      this.#refuse(session, pdu, CommandStatus.ESME_RX_T_APPN, 'closed');
      return;
    }
    const serviceOp = Number(pdu.ussd_service_op);
    const kind = inboundKind(serviceOp);
    if (kind === 'ignore') {
      log.debug({ operator: operator.id, bind: bindId, serviceOp }, 'ussd_service_op the edge does not handle; acknowledged');
      this.#refuse(session, pdu, CommandStatus.ESME_ROK, 'ignored');
      return;
    }
    const id = identityOf(ussd.smppSessionInfo,
      { its_session_info: pdu.its_session_info, user_message_reference: pdu.user_message_reference });
    if (!id.ok) {
      log.warn({ operator: operator.id, bind: bindId, tlv: id.tlv, reason: id.reason }, 'USSD PDU without a usable dialogue identity');
      this.#refuse(session, pdu,
        id.reason === 'missing' ? CommandStatus.ESME_RMISSINGOPTPARAM : CommandStatus.ESME_RINVOPTPARAMVAL, 'rejected');
      return;
    }
    const msisdn = toE164(String(pdu.source_addr ?? ''), operator.countryCallingCode, Number(pdu.source_addr_ton ?? 0));
    if (id.identity.itsSessionInfo?.end) {
      // The network closed the dialogue (the subscriber cancelled, or the phone timed out): nothing to
      // answer, but the ussd service is told, so a payment left at the confirmation screen lets go of its hold now.
      log.debug({ operator: operator.id, bind: bindId, session: id.identity.sessionKey }, 'USSD dialogue ended by the network');
      if (!msisdn || this.#inFlight >= this.#hopsInFlightMax) {
        this.#refuse(session, pdu, CommandStatus.ESME_ROK, 'ignored'); // it expires with its challenge instead
        return;
      }
      this.#refuse(session, pdu, CommandStatus.ESME_ROK, 'released');
      this.#track(this.#release(hopSessionId(operator.id, msisdn, id.identity.sessionKey), msisdn));
      return;
    }
    if (!msisdn) {
      this.#refuse(session, pdu, CommandStatus.ESME_RINVSRCADR, 'rejected');
      return;
    }
    const payload = pdu.message_payload !== undefined ? rawBytes(pdu.message_payload) : rawBytes(pdu.short_message);
    const text = decodeText(payload, Number(pdu.data_coding ?? 0)).trim();
    if (kind === 'dial' && !matchesServiceCode(text, ussd.serviceCodes)) {
      log.info({ operator: operator.id, bind: bindId, dialledLength: text.length },
        'USSD dial of a code this operator does not route to us');
      this.#refuse(session, pdu, CommandStatus.ESME_RINVDSTADR, 'rejected');
      return;
    }
    if (this.#inFlight >= this.#hopsInFlightMax) {
      this.#refuse(session, pdu, CommandStatus.ESME_RTHROTTLED, 'throttled');
      return;
    }
    // Answered before the hop: the SMSC's dialogue timer runs on our answer PDU, not on this resp.
    session.respond(pdu, CommandStatus.ESME_ROK);
    const hop = {
      sessionId: hopSessionId(operator.id, msisdn, id.identity.sessionKey),
      msisdn,
      // A dial starts the dialogue with an empty input and the code as dialled (shortcuts included);
      // `begins` because the dialect may reuse the session id (always '0' for msisdn, 256 its numbers).
      serviceCode: kind === 'dial' ? text : (ussd.serviceCodes[0] as string),
      text: kind === 'dial' ? '' : text,
      begins: kind === 'dial',
    };
    this.#track(this.#hop(session, pdu, bindId, id.identity, hop));
  }

  /** Counts work toward the in-flight bound and the gauge until it settles; drain() waits for it. */
  #track(work: Promise<void>): void {
    const labels = { operator: this.#o.operator.id };
    this.#inFlight++;
    this.#o.metrics.ussdHopsInFlight.inc(labels);
    void work.finally(() => {
      this.#inFlight--;
      this.#o.metrics.ussdHopsInFlight.dec(labels);
      if (this.#inFlight === 0) for (const wake of this.#idle.splice(0)) wake();
    });
  }

  /** Takes no new hops from now on (they get a temporary error). */
  close(): void {
    this.#closed = true;
  }

  /** Waits until every hop in flight has sent its answer, or timeoutMs passed. */
  async drain(timeoutMs: number): Promise<void> {
    if (this.#inFlight === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async #hop(
    session: SmppSession, pdu: Pdu, bindId: string, identity: UssdIdentity,
    hop: { sessionId: string; msisdn: string; serviceCode: string; text: string; begins: boolean },
  ): Promise<void> {
    const { operator, nc, log, metrics } = this.#o;
    const startedMs = performance.now();
    const deadlineUnixMs = Date.now() + this.#hopTimeoutMs;
    let reply: { text: string; end: boolean };
    let outcome: Outcome;
    try {
      const answer = await requestReply(nc, Requests.ussdHop, {
        sessionId: hop.sessionId,
        operatorId: operator.id,
        msisdn: hop.msisdn,
        serviceCode: hop.serviceCode,
        text: hop.text,
        inputOnly: true,
        begins: hop.begins,
        deadlineUnixMs: bigIntToInt64(BigInt(deadlineUnixMs)),
      }, this.#hopTimeoutMs);
      reply = { text: answer.text ?? '', end: answer.end === true };
      outcome = reply.end ? 'end' : 'continue';
    } catch (err) {
      // Timeout, no ussd replica, or NATS down: end the dialogue ourselves, in the operator's language.
      log.warn({ err, operator: operator.id, bind: bindId, sessionId: hop.sessionId },
        'ussd service did not answer the hop; ending the dialogue');
      reply = { text: unavailableText(operator.defaultLanguage), end: true };
      outcome = 'unavailable';
    }
    metrics.ussdHopSeconds.observe({ operator: operator.id }, (performance.now() - startedMs) / 1000);
    const { fields, truncated } = replyFields(addressingOf(pdu), identity, reply);
    if (truncated) log.warn({ operator: operator.id, sessionId: hop.sessionId }, 'USSD screen longer than one USSD string; cut');
    try {
      const resp = await this.#o.send(session, bindId, fields);
      if (resp.command_status !== CommandStatus.ESME_ROK) {
        log.warn({ operator: operator.id, bind: bindId, sessionId: hop.sessionId, status: statusName(resp.command_status) },
          'SMSC refused our USSD answer');
        outcome = 'reply_refused';
      }
    } catch (err) {
      log.warn({ err, operator: operator.id, bind: bindId, sessionId: hop.sessionId }, 'USSD answer not sent');
      outcome = 'reply_failed';
    }
    metrics.ussdHops.inc({ operator: operator.id, outcome });
  }

  /** Tells the ussd service the dialogue is over; no screen goes back. */
  async #release(sessionId: string, msisdn: string): Promise<void> {
    const { operator, nc, log } = this.#o;
    try {
      await requestReply(nc, Requests.ussdHop, {
        sessionId, operatorId: operator.id, msisdn, serviceCode: operator.ussd?.serviceCodes[0] ?? '', text: '',
        inputOnly: true, released: true,
        deadlineUnixMs: bigIntToInt64(BigInt(Date.now() + this.#hopTimeoutMs)),
      }, this.#hopTimeoutMs);
    } catch (err) {
      log.warn({ err, operator: operator.id, sessionId },
        'could not tell the ussd service a dialogue was released; its payment expires instead');
    }
  }

  #refuse(session: SmppSession, pdu: Pdu, status: number, outcome: Outcome): void {
    session.respond(pdu, status);
    this.#o.metrics.ussdHops.inc({ operator: this.#o.operator.id, outcome });
  }
}
