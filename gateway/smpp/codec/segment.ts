// Splitting long outbound text into SMPP parts, per operator: 8-bit or
// 16-bit concatenation UDH, SAR TLVs, or one message_payload. Parts never
// split a GSM escape pair or a UTF-16 surrogate pair. Pure.
import { gsmSeptetsOf } from './gsm7.js';
import { DataCoding, encodeText, type EncodedText } from './text-codec.js';

export const SplitMode = { UDH8: 'udh8', UDH16: 'udh16', SAR: 'sar', PAYLOAD: 'payload' } as const;
export type SplitModeValue = (typeof SplitMode)[keyof typeof SplitMode];

export const ESM_CLASS_UDHI = 0x40;
/** Most parts we send for one message; GSM allows 255, operators rarely more than 10. */
export const PARTS_MAX = 16;

export interface OutboundPart {
  readonly dataCoding: EncodedText['dataCoding'];
  readonly esmClass: number;
  /** Bytes for short_message (with the UDH in front when esmClass has UDHI); empty with message_payload. */
  readonly shortMessage: Buffer;
  readonly messagePayload?: Buffer;
  readonly sar?: { readonly refNum: number; readonly totalSegments: number; readonly seqNum: number };
}

/** Units (septets for GSM, UTF-16 code units for UCS-2) that fit one part. */
function capacity(dataCoding: EncodedText['dataCoding'], single: boolean, mode: SplitModeValue): number {
  const gsm = dataCoding === DataCoding.GSM;
  if (single) return gsm ? 160 : 70;
  if (mode === SplitMode.UDH16) return gsm ? 152 : 66;
  return gsm ? 153 : 67; // 8-bit UDH, and SAR (the SMSC adds a 6-byte UDH)
}

function unitsOf(ch: string, dataCoding: EncodedText['dataCoding']): number {
  return dataCoding === DataCoding.GSM ? (gsmSeptetsOf(ch) as number) : ch.length;
}

/** Splits text into chunks of at most `size` units without breaking a character. */
export function chunkText(text: string, dataCoding: EncodedText['dataCoding'], size: number): string[] {
  const chunks: string[] = [];
  let current = '';
  let used = 0;
  for (const ch of text) {
    const units = unitsOf(ch, dataCoding);
    if (used + units > size) {
      chunks.push(current);
      current = '';
      used = 0;
    }
    current += ch;
    used += units;
  }
  if (current !== '' || chunks.length === 0) chunks.push(current);
  return chunks;
}

/**
 * Splits `text` for sending. `reference` is the concatenation reference the
 * caller allocates per destination (8 bits used for UDH8, 16 for UDH16 and SAR).
 */
export function splitForSubmit(text: string, mode: SplitModeValue, reference: number): OutboundPart[] {
  const { dataCoding, bytes } = encodeText(text);
  if (mode === SplitMode.PAYLOAD) {
    return [{ dataCoding, esmClass: 0, shortMessage: Buffer.alloc(0), messagePayload: bytes }];
  }
  const totalUnits = dataCoding === DataCoding.GSM ? bytes.length : text.length;
  if (totalUnits <= capacity(dataCoding, true, mode)) return [{ dataCoding, esmClass: 0, shortMessage: bytes }];
  const chunks = chunkText(text, dataCoding, capacity(dataCoding, false, mode));
  if (chunks.length > PARTS_MAX) throw new RangeError(`text needs ${chunks.length} parts; at most ${PARTS_MAX} are sent`);
  const total = chunks.length;
  return chunks.map((chunk, i) => {
    const body = encodeText(chunk, dataCoding).bytes;
    const seq = i + 1;
    switch (mode) {
      case SplitMode.UDH8:
        return { dataCoding, esmClass: ESM_CLASS_UDHI,
          shortMessage: Buffer.concat([Buffer.from([0x05, 0x00, 0x03, reference & 0xff, total, seq]), body]) };
      case SplitMode.UDH16:
        return { dataCoding, esmClass: ESM_CLASS_UDHI,
          shortMessage: Buffer.concat([Buffer.from([0x06, 0x08, 0x04, (reference >> 8) & 0xff, reference & 0xff, total, seq]), body]) };
      case SplitMode.SAR:
        return { dataCoding, esmClass: 0, shortMessage: body, sar: { refNum: reference & 0xffff, totalSegments: total, seqNum: seq } };
    }
  });
}

export interface ConcatInfo {
  readonly reference: number;
  readonly total: number;
  readonly seq: number;
}

/** Reads a concatenation IE (8 or 16-bit) from a UDH; returns the info and the body after the UDH. */
export function parseUdh(shortMessage: Buffer): { concat: ConcatInfo | null; body: Buffer } | null {
  if (shortMessage.length < 1) return null;
  const udhLength = shortMessage[0] as number;
  if (udhLength + 1 > shortMessage.length) return null;
  let concat: ConcatInfo | null = null;
  let i = 1;
  while (i + 1 < udhLength + 1) {
    const iei = shortMessage[i] as number;
    const len = shortMessage[i + 1] as number;
    const data = shortMessage.subarray(i + 2, i + 2 + len);
    if (i + 2 + len > udhLength + 1) return null;
    if (iei === 0x00 && len === 3) concat = { reference: data[0] as number, total: data[1] as number, seq: data[2] as number };
    if (iei === 0x08 && len === 4) {
      concat = { reference: ((data[0] as number) << 8) | (data[1] as number), total: data[2] as number, seq: data[3] as number };
    }
    i += 2 + len;
  }
  return { concat, body: shortMessage.subarray(udhLength + 1) };
}
