// Delivery receipts: from the receipted_message_id / message_state TLVs when
// present, else from the text "id:... sub:... dlvrd:... submit date:...
// done date:... stat:... err:... text:..." in its common variants. Pure.

export const ReceiptState = {
  ENROUTE: 'ENROUTE',
  DELIVERED: 'DELIVERED',
  EXPIRED: 'EXPIRED',
  DELETED: 'DELETED',
  UNDELIVERABLE: 'UNDELIVERABLE',
  ACCEPTED: 'ACCEPTED',
  UNKNOWN: 'UNKNOWN',
  REJECTED: 'REJECTED',
} as const;
export type ReceiptStateValue = (typeof ReceiptState)[keyof typeof ReceiptState];

/** message_state TLV values (SMPP 3.4, 5.2.28). */
const STATE_BY_TLV: Readonly<Record<number, ReceiptStateValue>> = {
  1: 'ENROUTE', 2: 'DELIVERED', 3: 'EXPIRED', 4: 'DELETED', 5: 'UNDELIVERABLE', 6: 'ACCEPTED', 7: 'UNKNOWN', 8: 'REJECTED',
};
/** stat: words in receipt text, including common non-standard spellings. */
const STATE_BY_WORD: Readonly<Record<string, ReceiptStateValue>> = {
  ENROUTE: 'ENROUTE', DELIVRD: 'DELIVERED', DELIVERED: 'DELIVERED', EXPIRED: 'EXPIRED', DELETED: 'DELETED',
  UNDELIV: 'UNDELIVERABLE', UNDELIVERABLE: 'UNDELIVERABLE', ACCEPTD: 'ACCEPTED', ACCEPTED: 'ACCEPTED',
  UNKNOWN: 'UNKNOWN', REJECTD: 'REJECTED', REJECTED: 'REJECTED',
};

export const MessageIdFormat = { AS_IS: 'as-is', HEX: 'hex', DECIMAL: 'decimal' } as const;
export type MessageIdFormatValue = (typeof MessageIdFormat)[keyof typeof MessageIdFormat];

/**
 * One canonical form for an SMSC message id, so the id from submit_sm_resp
 * and the id in the receipt match even when the SMSC writes one in hex and
 * the other in decimal. Numeric ids become decimal without leading zeros.
 */
export function normalizeMessageId(id: string, format: MessageIdFormatValue): string {
  const trimmed = id.trim();
  if (format === MessageIdFormat.HEX && /^[0-9a-fA-F]{1,32}$/.test(trimmed)) return BigInt(`0x${trimmed}`).toString(10);
  if (format === MessageIdFormat.DECIMAL && /^\d{1,40}$/.test(trimmed)) return BigInt(trimmed).toString(10);
  return trimmed.toLowerCase();
}

export interface ParsedReceipt {
  readonly messageId: string;
  readonly state: ReceiptStateValue;
  readonly errorCode: string;
  readonly submittedAtUnixMs: number | null;
  readonly doneAtUnixMs: number | null;
}

export interface ReceiptFields {
  readonly receiptedMessageId?: string | undefined;
  readonly messageState?: number | undefined;
  /** network_error_code TLV: type octet then a 16-bit code. */
  readonly networkErrorCode?: Buffer | undefined;
  /** short_message decoded as text. */
  readonly text: string;
}

const FIELD = /(\bid|\bsub|\bdlvrd|submit date|done date|\bstat|\berr|\btext)\s*:\s*/gi;

/** Splits receipt text into its key:value fields; keys are lower-cased. */
export function receiptTextFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  const matches = [...text.matchAll(FIELD)];
  matches.forEach((m, i) => {
    const key = (m[1] as string).toLowerCase();
    const start = (m.index as number) + m[0].length;
    const end = key === 'text' ? text.length : (matches[i + 1]?.index ?? text.length);
    if (!fields.has(key)) fields.set(key, text.slice(start, end).trim());
  });
  return fields;
}

/** YYMMDDhhmm or YYMMDDhhmmss, taken as UTC (receipts carry no zone). */
export function parseReceiptDate(value: string | undefined): number | null {
  if (!value || !/^\d{10}(\d{2})?$/.test(value)) return null;
  const n = (from: number) => Number(value.slice(from, from + 2));
  const ms = Date.UTC(2000 + n(0), n(2) - 1, n(4), n(6), n(8), value.length === 12 ? n(10) : 0);
  return Number.isNaN(ms) ? null : ms;
}

/** Returns the receipt, or null when the PDU is not a receipt we can read. */
export function parseReceipt(fields: ReceiptFields): ParsedReceipt | null {
  const text = receiptTextFields(fields.text);
  const id = fields.receiptedMessageId?.trim() || text.get('id');
  if (!id) return null;
  const tlvState = fields.messageState !== undefined ? STATE_BY_TLV[fields.messageState] : undefined;
  const word = text.get('stat')?.toUpperCase();
  // A receipt whose stat: word we do not know still tells its message something happened: UNKNOWN.
  const state = tlvState ?? (word !== undefined ? (STATE_BY_WORD[word] ?? 'UNKNOWN') : undefined);
  if (!state) return null;
  let errorCode = text.get('err') ?? '';
  if (fields.networkErrorCode && fields.networkErrorCode.length === 3) {
    errorCode = `${fields.networkErrorCode[0]}:${fields.networkErrorCode.readUInt16BE(1)}`;
  }
  return {
    messageId: id,
    state,
    errorCode,
    submittedAtUnixMs: parseReceiptDate(text.get('submit date')),
    doneAtUnixMs: parseReceiptDate(text.get('done date')),
  };
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** The receipt text we send in server mode (the common 3.4 appendix B form, 10-digit dates). */
export function formatReceiptText(r: {
  messageId: string; state: ReceiptStateValue; submittedAtUnixMs: number; doneAtUnixMs: number; errorCode: string; text: string;
}): string {
  const date = (ms: number) => {
    const d = new Date(ms);
    return `${pad2(d.getUTCFullYear() % 100)}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}`
      + `${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}`;
  };
  const word = Object.entries(STATE_BY_WORD).find(([w, s]) => s === r.state && w.length === 7)?.[0] ?? 'UNKNOWN';
  const delivered = r.state === 'DELIVERED' ? '001' : '000';
  return `id:${r.messageId} sub:001 dlvrd:${delivered} submit date:${date(r.submittedAtUnixMs)} done date:${date(r.doneAtUnixMs)}`
    + ` stat:${word} err:${r.errorCode.padStart(3, '0').slice(0, 3)} text:${r.text.slice(0, 20)}`;
}

export function messageStateOf(state: ReceiptStateValue): number {
  return Number(Object.entries(STATE_BY_TLV).find(([, s]) => s === state)?.[0] ?? 7);
}
