import { describe, expect, it } from 'vitest';
import { FrameParser } from '../../../gateway/smpp/codec/frame.js';

/** A PDU from the spec's header layout: length, id, status, sequence, then body. */
function pdu(commandId: number, sequence: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(16 + body.length, 0);
  head.writeUInt32BE(commandId, 4);
  head.writeUInt32BE(0, 8);
  head.writeUInt32BE(sequence, 12);
  return Buffer.concat([head, body]);
}
const ENQUIRE_LINK = 0x00000015;

describe('SMPP framing', () => {
  const stream = Buffer.concat([pdu(ENQUIRE_LINK, 1), pdu(0x00000004, 2, Buffer.from('body-of-submit')), pdu(ENQUIRE_LINK, 3)]);

  it('finds every PDU wherever the stream is split', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const parser = new FrameParser(4096);
      const frames = [...parser.push(stream.subarray(0, cut)), ...parser.push(stream.subarray(cut))];
      expect(frames.map((f) => f.kind === 'pdu' && f.bytes.readUInt32BE(12))).toEqual([1, 2, 3]);
      expect(parser.bufferedBytes).toBe(0);
    }
  });

  it('delivers byte by byte', () => {
    const parser = new FrameParser(4096);
    const frames = [...stream].flatMap((b) => parser.push(Buffer.from([b])));
    expect(frames).toHaveLength(3);
  });

  it('reports a length under 16 and carries on with the next PDU', () => {
    const bad = pdu(ENQUIRE_LINK, 9);
    bad.writeUInt32BE(8, 0);
    const frames = new FrameParser(4096).push(Buffer.concat([bad, pdu(ENQUIRE_LINK, 10)]));
    expect(frames[0]).toEqual({ kind: 'bad-length', commandLength: 8, commandId: ENQUIRE_LINK, sequenceNumber: 9 });
    expect(frames[1]?.kind === 'pdu' && frames[1].bytes.readUInt32BE(12)).toBe(10);
  });

  it('skips an oversized PDU across chunks without buffering it', () => {
    const parser = new FrameParser(64);
    const big = pdu(0x00000004, 5, Buffer.alloc(200, 0x41));
    const first = parser.push(big.subarray(0, 40));
    expect(first).toEqual([{ kind: 'bad-length', commandLength: 216, commandId: 4, sequenceNumber: 5 }]);
    expect(parser.bufferedBytes).toBe(0);
    expect(parser.push(big.subarray(40, 150))).toEqual([]);
    const rest = parser.push(Buffer.concat([big.subarray(150), pdu(ENQUIRE_LINK, 6)]));
    expect(rest.map((f) => f.kind === 'pdu' && f.bytes.readUInt32BE(12))).toEqual([6]);
  });
});
