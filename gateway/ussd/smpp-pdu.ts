// USSD over SMPP, the pure part: what a deliver_sm/submit_sm carrying the
// ussd_service_op TLV means, which dialogue it belongs to, and the PDU fields
// of our answer. The socket and NATS side is smpp-edge.ts. SMPP 3.4 5.3.2.44
// (ussd_service_op) and 5.3.2.43 (its_session_info). Pure.
import type { OperatorConfig } from '../../runtime/config/index.js';
import { gsmSeptetsOf, isGsmEncodable } from '../smpp/codec/gsm7.js';
import { DataCoding, encodeText } from '../smpp/codec/text-codec.js';

/** ussd_service_op values (SMPP 3.4, 5.3.2.44). */
export const UssdServiceOp = {
  PSSD_INDICATION: 0,
  PSSR_INDICATION: 1,
  USSR_REQUEST: 2,
  USSN_REQUEST: 3,
  PSSD_RESPONSE: 16,
  PSSR_RESPONSE: 17,
  USSR_CONFIRM: 18,
  USSN_CONFIRM: 19,
} as const;

export type UssdDialect = NonNullable<OperatorConfig['ussd']>['smppSessionInfo'];

/** What an inbound ussd_service_op asks of us: a new dialogue, an answer to our last screen, or nothing. */
export type UssdInboundKind = 'dial' | 'answer' | 'ignore';

export function inboundKind(serviceOp: number): UssdInboundKind {
  if (serviceOp === UssdServiceOp.PSSR_INDICATION) return 'dial';
  if (serviceOp === UssdServiceOp.USSR_CONFIRM) return 'answer';
  // PSSD (0, 16) is a one-shot we do not offer; 19 only acknowledges a notification; 2, 3 and 17 are ours to send.
  return 'ignore';
}

/** A screen that waits for an answer is a USSR request; the last one is the PSSR response that ends the dialogue. */
export function replyServiceOp(end: boolean): typeof UssdServiceOp.USSR_REQUEST | typeof UssdServiceOp.PSSR_RESPONSE {
  return end ? UssdServiceOp.PSSR_RESPONSE : UssdServiceOp.USSR_REQUEST;
}

/** its_session_info: octet 1 the session number, octet 2 bits 7..1 the sequence number and bit 0 end-of-session. */
export interface ItsSessionInfo {
  readonly sessionNumber: number;
  readonly sequenceNumber: number;
  readonly end: boolean;
}

const ITS_SESSION_INFO_BYTES = 2;
const ITS_SEQUENCE_MODULO = 128;

export function parseItsSessionInfo(value: unknown): ItsSessionInfo | null {
  const bytes = Buffer.isBuffer(value) ? value : value instanceof Uint8Array ? Buffer.from(value) : null;
  if (!bytes || bytes.length !== ITS_SESSION_INFO_BYTES) return null;
  const second = bytes[1] as number;
  return { sessionNumber: bytes[0] as number, sequenceNumber: second >> 1, end: (second & 0x01) === 1 };
}

export function encodeItsSessionInfo(info: ItsSessionInfo): Buffer {
  if (!Number.isInteger(info.sessionNumber) || info.sessionNumber < 0 || info.sessionNumber > 0xff) {
    throw new RangeError(`its session number ${info.sessionNumber} is not an octet`);
  }
  if (!Number.isInteger(info.sequenceNumber) || info.sequenceNumber < 0 || info.sequenceNumber >= ITS_SEQUENCE_MODULO) {
    throw new RangeError(`its sequence number ${info.sequenceNumber} is not 0..127`);
  }
  return Buffer.from([info.sessionNumber, (info.sequenceNumber << 1) | (info.end ? 1 : 0)]);
}

/** Our answer's its_session_info: same session, the next sequence number (mod 128), the end bit when we end it. */
export function nextItsSessionInfo(incoming: ItsSessionInfo, end: boolean): ItsSessionInfo {
  return { sessionNumber: incoming.sessionNumber, sequenceNumber: (incoming.sequenceNumber + 1) % ITS_SEQUENCE_MODULO, end };
}

/** Which dialogue a PDU belongs to, and the TLVs to echo in the answer. */
export interface UssdIdentity {
  /** The dialogue's key within one subscriber: its session number, the user_message_reference, or '0'. */
  readonly sessionKey: string;
  readonly itsSessionInfo: ItsSessionInfo | null;
  readonly userMessageReference: number | null;
}

export type IdentityResult = { readonly ok: true; readonly identity: UssdIdentity }
  | { readonly ok: false; readonly reason: 'missing' | 'invalid'; readonly tlv: string };

const USER_MESSAGE_REFERENCE_MAX = 0xffff;

/**
 * Reads the dialogue identity the operator's dialect keeps. Whatever identity TLVs are present are
 * echoed in the answer (an SMSC may want both); only the dialect's one is required.
 */
export function identityOf(
  dialect: UssdDialect, tlvs: { readonly its_session_info?: unknown; readonly user_message_reference?: unknown },
): IdentityResult {
  const its = tlvs.its_session_info === undefined ? null : parseItsSessionInfo(tlvs.its_session_info);
  if (tlvs.its_session_info !== undefined && !its) return { ok: false, reason: 'invalid', tlv: 'its_session_info' };
  const umrRaw = tlvs.user_message_reference;
  const umr = umrRaw === undefined ? null : Number(umrRaw);
  if (umr !== null && (!Number.isInteger(umr) || umr < 0 || umr > USER_MESSAGE_REFERENCE_MAX)) {
    return { ok: false, reason: 'invalid', tlv: 'user_message_reference' };
  }
  switch (dialect) {
    case 'its_session_info':
      if (!its) return { ok: false, reason: 'missing', tlv: 'its_session_info' };
      return { ok: true, identity: { sessionKey: String(its.sessionNumber), itsSessionInfo: its, userMessageReference: umr } };
    case 'user_message_reference':
      if (umr === null) return { ok: false, reason: 'missing', tlv: 'user_message_reference' };
      return { ok: true, identity: { sessionKey: String(umr), itsSessionInfo: its, userMessageReference: umr } };
    case 'msisdn':
      // One dialogue per subscriber at a time: a new dial replaces the old one in the ussd service.
      return { ok: true, identity: { sessionKey: '0', itsSessionInfo: its, userMessageReference: umr } };
  }
}

/** The hop's session id, unique across edges (see proto/dialpay/v1/ussd.proto). */
export function hopSessionId(operatorId: string, msisdn: string, sessionKey: string): string {
  return `smpp:${operatorId}:${msisdn}:${sessionKey}`;
}

/**
 * True when the dialled string is one of the operator's codes, or one of them with a shortcut
 * ("*384*1#" for "*384#").
 */
export function matchesServiceCode(dialled: string, serviceCodes: readonly string[]): boolean {
  const d = dialled.trim();
  if (!d.endsWith('#')) return false;
  return serviceCodes.some((code) => d === code || d.startsWith(`${code.slice(0, -1)}*`));
}

/** A USSD string carries at most 160 octets: 182 GSM 7-bit characters packed, or 80 UCS-2 ones. */
export const USSD_GSM_SEPTETS_MAX = 182;
export const USSD_UCS2_UNITS_MAX = 80;

export interface UssdTextBytes {
  readonly dataCoding: typeof DataCoding.GSM | typeof DataCoding.UCS2;
  readonly bytes: Buffer;
  /** True when the screen was longer than a USSD string and was cut. */
  readonly truncated: boolean;
}

/**
 * The screen as short_message bytes: GSM 03.38 (data_coding 0), or UCS-2 only when the text has a
 * character outside the alphabet (the ussd service promises GSM; a phone shows UCS-2 better than '?').
 * Cut to what one USSD string holds, never inside an escape or a surrogate pair.
 */
export function ussdTextBytes(text: string): UssdTextBytes {
  if (isGsmEncodable(text)) {
    let septets = 0;
    let cut = '';
    for (const ch of text) {
      const cost = gsmSeptetsOf(ch) as number;
      if (septets + cost > USSD_GSM_SEPTETS_MAX) break;
      septets += cost;
      cut += ch;
    }
    return { dataCoding: DataCoding.GSM, bytes: encodeText(cut, DataCoding.GSM).bytes, truncated: cut.length < text.length };
  }
  let cut = '';
  for (const ch of text) {
    if (cut.length + ch.length > USSD_UCS2_UNITS_MAX) break;
    cut += ch;
  }
  return { dataCoding: DataCoding.UCS2, bytes: encodeText(cut, DataCoding.UCS2).bytes, truncated: cut.length < text.length };
}

/** The addressing of the PDU we answer, as the SMSC sent it. */
export interface UssdAddressing {
  readonly source_addr?: unknown;
  readonly source_addr_ton?: unknown;
  readonly source_addr_npi?: unknown;
  readonly destination_addr?: unknown;
  readonly dest_addr_ton?: unknown;
  readonly dest_addr_npi?: unknown;
  readonly service_type?: unknown;
}

/**
 * Fields of our answer (submit_sm in client mode, deliver_sm in server mode): from the code the
 * subscriber dialled back to the subscriber, addresses echoed as the SMSC wrote them (it knows its
 * own numbering), the dialogue identity echoed, and the op that says whether the phone should answer.
 */
export function replyFields(
  inbound: UssdAddressing, identity: UssdIdentity, reply: { readonly text: string; readonly end: boolean },
): { fields: Record<string, unknown>; truncated: boolean } {
  const body = ussdTextBytes(reply.text);
  const fields: Record<string, unknown> = {
    service_type: typeof inbound.service_type === 'string' ? inbound.service_type : '',
    source_addr_ton: Number(inbound.dest_addr_ton ?? 0),
    source_addr_npi: Number(inbound.dest_addr_npi ?? 0),
    source_addr: String(inbound.destination_addr ?? ''),
    dest_addr_ton: Number(inbound.source_addr_ton ?? 0),
    dest_addr_npi: Number(inbound.source_addr_npi ?? 0),
    destination_addr: String(inbound.source_addr ?? ''),
    esm_class: 0,
    registered_delivery: 0,
    data_coding: body.dataCoding,
    short_message: body.bytes,
    ussd_service_op: replyServiceOp(reply.end),
  };
  if (identity.itsSessionInfo) fields.its_session_info = encodeItsSessionInfo(nextItsSessionInfo(identity.itsSessionInfo, reply.end));
  if (identity.userMessageReference !== null) fields.user_message_reference = identity.userMessageReference;
  return { fields, truncated: body.truncated };
}
