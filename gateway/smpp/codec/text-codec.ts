// Text <-> short_message bytes by data_coding. Outbound text goes as GSM
// (data_coding 0) when every character is in the alphabet, UCS-2 (8)
// otherwise; never data_coding 1 for GSM text. Inbound also accepts IA5/ASCII
// (1) and Latin-1 (3). Pure.
import { decodeGsm, encodeGsm, isGsmEncodable } from './gsm7.js';

export const DataCoding = {
  GSM: 0x00,
  IA5: 0x01,
  BINARY: 0x04,
  LATIN1: 0x03,
  UCS2: 0x08,
} as const;
export type DataCodingValue = (typeof DataCoding)[keyof typeof DataCoding];

export interface EncodedText {
  readonly dataCoding: typeof DataCoding.GSM | typeof DataCoding.UCS2;
  readonly bytes: Buffer;
}

export function encodeUcs2(text: string): Buffer {
  const out = Buffer.alloc(text.length * 2);
  for (let i = 0; i < text.length; i++) out.writeUInt16BE(text.charCodeAt(i), i * 2);
  return out;
}

export function decodeUcs2(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i + 1 < bytes.length; i += 2) out += String.fromCharCode(((bytes[i] as number) << 8) | (bytes[i + 1] as number));
  return out;
}

export function chooseEncoding(text: string): EncodedText['dataCoding'] {
  return isGsmEncodable(text) ? DataCoding.GSM : DataCoding.UCS2;
}

export function encodeText(text: string, dataCoding: EncodedText['dataCoding'] = chooseEncoding(text)): EncodedText {
  return { dataCoding, bytes: dataCoding === DataCoding.GSM ? encodeGsm(text) : encodeUcs2(text) };
}

/** Decodes short_message bytes; the high nibble classes of data_coding (0xF0 etc.) fall back to their alphabet bits. */
export function decodeText(bytes: Uint8Array, dataCoding: number): string {
  const coding = dataCoding & 0xf0
    ? (dataCoding & 0x0c) === 0x08 ? DataCoding.UCS2 : (dataCoding & 0x0c) === 0x04 ? DataCoding.BINARY : DataCoding.GSM
    : dataCoding;
  switch (coding) {
    case DataCoding.GSM:
      return decodeGsm(bytes);
    case DataCoding.IA5:
      return Buffer.from(bytes).toString('ascii');
    case DataCoding.LATIN1:
      return Buffer.from(bytes).toString('latin1');
    case DataCoding.UCS2:
      return decodeUcs2(bytes);
    default:
      // Binary or unknown: not text a subscriber typed; keep it visible for support, never parse it as a command.
      return '';
  }
}
