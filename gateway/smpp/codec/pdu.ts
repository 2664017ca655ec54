// The PDU codec: the `smpp` package's tables and serializer, with its text
// filters switched off so short_message and message_payload stay raw bytes
// and GSM 03.38 is decoded by text-codec.ts (the package reads data_coding 0
// as ASCII). Pure apart from that one-time table change.
import smpp from 'smpp';

export type Pdu = smpp.PduFields;

for (const name of ['submit_sm', 'deliver_sm', 'data_sm', 'submit_multi', 'replace_sm', 'query_sm', 'broadcast_sm']) {
  const params = smpp.commands[name]?.params;
  if (params?.short_message) params.short_message.filter = undefined;
}
if (smpp.tlvs.message_payload) smpp.tlvs.message_payload.filter = undefined;
// Our framing enforces the operator's pduBytesMax (up to 70,000); the package's own cap must not be lower.
smpp.PDU.maxLength = 70_000;

/** True when the package can build this command (it has no outbind_resp or alert_notification_resp). */
export function canEncode(command: string): boolean {
  return smpp.commands[command] !== undefined;
}

export const ESM_CLASS_RECEIPT = 0x04;

export class PduDecodeError extends Error {
  override readonly name = 'PduDecodeError';
  constructor(readonly sequenceNumber: number, options: { cause: unknown }) {
    super(`PDU ${sequenceNumber} does not decode: ${(options.cause as Error)?.message}`, options);
  }
}

export function decodePdu(bytes: Buffer): Pdu {
  try {
    return new smpp.PDU(bytes) as unknown as Pdu;
  } catch (cause) {
    throw new PduDecodeError(bytes.length >= 16 ? bytes.readUInt32BE(12) : 0, { cause });
  }
}

export function encodePdu(command: string, fields: Record<string, unknown>): Buffer {
  return new smpp.PDU(command, fields).toBuffer();
}

export function isResponse(commandId: number): boolean {
  return (commandId & 0x80000000) !== 0;
}

/** Raw bytes of short_message/message_payload, whatever shape the codec left them in. */
export function rawBytes(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (typeof value === 'string') return Buffer.from(value, 'latin1');
  return Buffer.alloc(0);
}
