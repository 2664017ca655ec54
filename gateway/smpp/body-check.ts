// Mandatory parameters and TLVs of an inbound request PDU, checked against
// the bytes its command_length gives them. The `smpp` package is lenient: it
// slices a short_message whose sm_length runs past the body, reads a C-string
// without its NUL up to the end, and stops at a body cut short, and the result
// would be accepted as a message. Here each of those is a refusal. Pure: the
// parameter order comes from the package's command table, which follows the
// SMPP 3.4/5.0 layouts.
import smpp from 'smpp';
import { PDU_HEADER_BYTES } from './codec/frame.js';
import { isResponse } from './codec/pdu.js';
import { CommandStatus } from './status.js';

export const BodyFault = {
  /** sm_length larger than the bytes that follow. */
  SM_LENGTH: 'sm-length',
  /** A C-Octet String with no NUL before the end of the PDU. */
  UNTERMINATED_STRING: 'unterminated-string',
  /** The PDU ends before its mandatory parameters do. */
  TRUNCATED: 'truncated',
  /** A TLV whose length runs past the PDU, or a TLV header cut short. */
  TLV_LENGTH: 'tlv-length',
} as const;
export type BodyFaultValue = (typeof BodyFault)[keyof typeof BodyFault];

export interface BodyProblem {
  readonly command: string;
  readonly sequenceNumber: number;
  readonly fault: BodyFaultValue;
  /** The parameter or TLV tag at fault. */
  readonly field: string;
  /** ESME_RINVMSGLEN (in the command's own response) for sm_length; ESME_RINVCMDLEN (generic_nack) for the rest. */
  readonly commandStatus: number;
}

const T = smpp.types;
/** Each command's mandatory parameters in wire order, read from the table once (this runs per inbound PDU). */
const LAYOUTS = new Map<string, readonly (readonly [string, unknown])[]>();

function layoutOf(command: string): readonly (readonly [string, unknown])[] {
  let layout = LAYOUTS.get(command);
  if (!layout) {
    layout = Object.entries(smpp.commands[command]?.params ?? {}).map(([field, param]) => [field, param.type] as const);
    LAYOUTS.set(command, layout);
  }
  return layout;
}

/**
 * The first way `bytes` (one whole PDU, as framed) runs past itself, or null when every length fits.
 * Responses are not checked: error responses carry no body, and some SMSCs leave it off even on
 * success; nor are commands the package does not know (they get ESME_RINVCMDID elsewhere), nor
 * alert_notification.
 */
export function checkPduBody(bytes: Buffer): BodyProblem | null {
  const commandId = bytes.readUInt32BE(4);
  const command = smpp.commandsById[commandId]?.command;
  // alert_notification has no response PDU and is only logged: nothing to refuse it with.
  if (!command || isResponse(commandId) || command === 'alert_notification') return null;
  const sequenceNumber = bytes.readUInt32BE(12);
  const end = bytes.length;
  const fault = (kind: BodyFaultValue, field: string): BodyProblem => ({
    command, sequenceNumber, fault: kind, field,
    commandStatus: kind === BodyFault.SM_LENGTH ? CommandStatus.ESME_RINVMSGLEN : CommandStatus.ESME_RINVCMDLEN,
  });
  let offset = PDU_HEADER_BYTES;
  for (const [field, type] of layoutOf(command)) {
    const next = paramEnd(bytes, offset, end, type);
    if (next === null) {
      const kind = offset >= end ? BodyFault.TRUNCATED
        : type === T.cstring ? BodyFault.UNTERMINATED_STRING
          : field === 'short_message' ? BodyFault.SM_LENGTH : BodyFault.TRUNCATED;
      return fault(kind, field);
    }
    offset = next;
  }
  // TLVs to the end: a 4-byte header (tag, length), then exactly that many bytes.
  while (offset < end) {
    if (end - offset < 4) return fault(BodyFault.TLV_LENGTH, 'tlv header');
    const tag = bytes.readUInt16BE(offset);
    const length = bytes.readUInt16BE(offset + 2);
    if (offset + 4 + length > end) return fault(BodyFault.TLV_LENGTH, `tlv 0x${tag.toString(16).padStart(4, '0')}`);
    offset += 4 + length;
  }
  return null;
}

/** Where a parameter of `type` starting at `offset` ends, or null when it does not fit before `end`. */
function paramEnd(bytes: Buffer, offset: number, end: number, type: unknown): number | null {
  if (offset >= end) return null;
  switch (type) {
    case T.int8: return offset + 1;
    case T.int16: return offset + 2 <= end ? offset + 2 : null;
    case T.int32: return offset + 4 <= end ? offset + 4 : null;
    case T.cstring: return cstringEnd(bytes, offset, end);
    // One length octet, then that many (sm_length and short_message, or a length-prefixed string).
    case T.buffer:
    case T.string: {
      const next = offset + 1 + (bytes[offset] as number);
      return next <= end ? next : null;
    }
    case T.dest_address_array: return destAddressesEnd(bytes, offset, end);
    // unsuccess_sme_array is in submit_multi_resp only; a type we do not know cannot be checked.
    default: return end;
  }
}

function cstringEnd(bytes: Buffer, offset: number, end: number): number | null {
  const nul = bytes.indexOf(0, offset);
  return nul >= 0 && nul < end ? nul + 1 : null;
}

/** submit_multi: number_of_dests, then per destination dest_flag 1 (ton, npi, address) or 2 (a distribution list name). */
function destAddressesEnd(bytes: Buffer, offset: number, end: number): number | null {
  const count = bytes[offset] as number;
  let at: number | null = offset + 1;
  for (let i = 0; i < count; i++) {
    if (at === null || at >= end) return null;
    const flag = bytes[at] as number;
    at = flag === 1 ? (at + 3 <= end ? cstringEnd(bytes, at + 3, end) : null) : flag === 2 ? cstringEnd(bytes, at + 1, end) : null;
  }
  return at;
}
