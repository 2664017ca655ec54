// SMPP framing, pg-protocol style: bytes in, whole PDUs out, no socket. Bad
// lengths are reported (for a generic_nack) and skipped so the session
// survives; nothing is buffered past pduBytesMax.

export const PDU_HEADER_BYTES = 16;

export type Frame =
  | { readonly kind: 'pdu'; readonly bytes: Buffer }
  /** command_length below 16 or above the limit; sequence_number when the header had one. */
  | { readonly kind: 'bad-length'; readonly commandLength: number; readonly commandId: number; readonly sequenceNumber: number };

export class FrameParser {
  readonly #pduBytesMax: number;
  #buffer: Buffer = Buffer.alloc(0);
  /** Bytes still to discard from an oversized PDU. */
  #skipBytes = 0;

  constructor(pduBytesMax: number) {
    if (pduBytesMax < PDU_HEADER_BYTES) throw new RangeError('pduBytesMax must hold at least a header');
    this.#pduBytesMax = pduBytesMax;
  }

  /** Bytes held waiting for the rest of a PDU; never more than pduBytesMax. */
  get bufferedBytes(): number {
    return this.#buffer.length;
  }

  push(chunk: Buffer): Frame[] {
    if (this.#skipBytes > 0) {
      const skip = Math.min(this.#skipBytes, chunk.length);
      this.#skipBytes -= skip;
      chunk = chunk.subarray(skip);
    }
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const frames: Frame[] = [];
    let offset = 0;
    while (this.#buffer.length - offset >= PDU_HEADER_BYTES) {
      const length = this.#buffer.readUInt32BE(offset);
      if (length < PDU_HEADER_BYTES || length > this.#pduBytesMax) {
        frames.push({
          kind: 'bad-length',
          commandLength: length,
          commandId: this.#buffer.readUInt32BE(offset + 4),
          sequenceNumber: this.#buffer.readUInt32BE(offset + 12),
        });
        // Under 16: drop the header we read. Oversized: drop what it says it is.
        const drop = length < PDU_HEADER_BYTES ? PDU_HEADER_BYTES : length;
        const available = this.#buffer.length - offset;
        if (drop <= available) offset += drop;
        else {
          this.#skipBytes = drop - available;
          offset = this.#buffer.length;
        }
        continue;
      }
      if (this.#buffer.length - offset < length) break;
      frames.push({ kind: 'pdu', bytes: Buffer.from(this.#buffer.subarray(offset, offset + length)) });
      offset += length;
    }
    this.#buffer = offset === 0 ? this.#buffer : Buffer.from(this.#buffer.subarray(offset));
    return frames;
  }
}
