import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeGsm, encodeGsm, gsmSeptetLength, isGsmEncodable } from '../../../gateway/smpp/codec/gsm7.js';
import { DataCoding, chooseEncoding, decodeText, encodeText } from '../../../gateway/smpp/codec/text-codec.js';
import { SplitMode, parseUdh, splitForSubmit, PARTS_MAX } from '../../../gateway/smpp/codec/segment.js';

const GSM_CHARS = [...'@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€\f'];

describe('GSM 03.38', () => {
  it('encodes to the spec code points, escapes as two septets', () => {
    expect([...encodeGsm('@£$')]).toEqual([0x00, 0x01, 0x02]);
    expect([...encodeGsm('A€[')]).toEqual([0x41, 0x1b, 0x65, 0x1b, 0x3c]);
    expect(gsmSeptetLength('€€')).toBe(4);
    expect(decodeGsm(Buffer.from([0x48, 0x69, 0x1b, 0x65]))).toBe('Hi€');
  });

  it('decodes an unknown escape as the basic character and a trailing ESC as a space', () => {
    expect(decodeGsm(Buffer.from([0x1b, 0x41]))).toBe('A');
    expect(decodeGsm(Buffer.from([0x41, 0x1b]))).toBe('A ');
  });

  it('round-trips any GSM text', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(...GSM_CHARS), { maxLength: 400 }), (chars) => {
      const text = chars.join('');
      expect(decodeGsm(encodeGsm(text))).toBe(text);
    }));
  });
});

describe('text codec', () => {
  it('sends GSM when it fits, UCS-2 otherwise, never data_coding 1', () => {
    expect(chooseEncoding('PAY SHOP42 500')).toBe(DataCoding.GSM);
    expect(chooseEncoding('Paiement reçu')).toBe(DataCoding.UCS2); // ç is not in the GSM alphabet (only Ç)
    expect(encodeText('ΓΔΘ').dataCoding).toBe(DataCoding.GSM); // these Greek capitals are in the GSM alphabet
    expect(encodeText('Γειά').dataCoding).toBe(DataCoding.UCS2); // ε, ι, ά are not
    expect(isGsmEncodable('Γειά')).toBe(false);
  });

  it('decodes GSM, IA5, Latin-1 and UCS-2 input', () => {
    expect(decodeText(Buffer.from('PAY 1', 'ascii'), DataCoding.IA5)).toBe('PAY 1');
    expect(decodeText(Buffer.from('payé', 'latin1'), DataCoding.LATIN1)).toBe('payé');
    expect(decodeText(Buffer.from([0x00, 0x4f, 0x00, 0x55, 0x00, 0x49]), DataCoding.UCS2)).toBe('OUI');
    expect(decodeText(Buffer.from([0xd8, 0x3d, 0xde, 0x00]), DataCoding.UCS2)).toBe('😀');
    expect(decodeText(encodeGsm('SOLDE'), 0xf0)).toBe('SOLDE'); // message class coding, GSM alphabet
    expect(decodeText(Buffer.from([1, 2, 3]), DataCoding.BINARY)).toBe('');
  });
});

function reassembleUdh(parts: ReturnType<typeof splitForSubmit>): { text: string; refs: number[] } {
  const bodies = parts.map((p) => {
    const parsed = parseUdh(p.shortMessage);
    if (!parsed?.concat) throw new Error('no concat UDH');
    return { seq: parsed.concat.seq, ref: parsed.concat.reference, body: parsed.body };
  });
  bodies.sort((a, b) => a.seq - b.seq);
  return { text: decodeText(Buffer.concat(bodies.map((b) => b.body)), parts[0]?.dataCoding ?? 0), refs: bodies.map((b) => b.ref) };
}

describe('splitting', () => {
  it('keeps a single part when it fits: 160 septets, 70 UCS-2 units', () => {
    expect(splitForSubmit('a'.repeat(160), SplitMode.UDH8, 1)).toHaveLength(1);
    expect(splitForSubmit('a'.repeat(159) + '€', SplitMode.UDH8, 1)).toHaveLength(2); // 161 septets
    expect(splitForSubmit('ç'.repeat(70), SplitMode.UDH8, 1)).toHaveLength(1);
    expect(splitForSubmit('ç'.repeat(71), SplitMode.UDH8, 1)).toHaveLength(2);
  });

  it('builds 8-bit and 16-bit concatenation UDHs from the spec', () => {
    const udh8 = splitForSubmit('x'.repeat(200), SplitMode.UDH8, 0x1ab);
    expect([...udh8[0]!.shortMessage.subarray(0, 6)]).toEqual([0x05, 0x00, 0x03, 0xab, 2, 1]);
    expect(udh8[0]!.shortMessage.length).toBe(6 + 153);
    expect(udh8[0]!.esmClass & 0x40).toBe(0x40);
    const udh16 = splitForSubmit('x'.repeat(200), SplitMode.UDH16, 0x1ab);
    expect([...udh16[1]!.shortMessage.subarray(0, 7)]).toEqual([0x06, 0x08, 0x04, 0x01, 0xab, 2, 2]);
    expect(udh16[0]!.shortMessage.length).toBe(7 + 152);
  });

  it('never splits an escape pair or a surrogate pair across parts', () => {
    const gsm = splitForSubmit('a'.repeat(152) + '€' + 'b'.repeat(10), SplitMode.UDH8, 7);
    expect(gsm[0]!.shortMessage.length).toBe(6 + 152); // the € (2 septets) moved to part 2
    expect(reassembleUdh(gsm).text).toBe('a'.repeat(152) + '€' + 'b'.repeat(10));
    const ucs = splitForSubmit('ç'.repeat(66) + '😀' + 'ç'.repeat(5), SplitMode.UDH8, 7);
    expect(ucs[0]!.shortMessage.length).toBe(6 + 66 * 2); // the emoji (2 units) does not fit in unit 67
    expect(reassembleUdh(ucs).text).toBe('ç'.repeat(66) + '😀' + 'ç'.repeat(5));
  });

  it('uses SAR TLVs or one message_payload when the operator asks', () => {
    const sar = splitForSubmit('y'.repeat(300), SplitMode.SAR, 0xbeef);
    expect(sar.map((p) => p.sar)).toEqual([
      { refNum: 0xbeef, totalSegments: 2, seqNum: 1 },
      { refNum: 0xbeef, totalSegments: 2, seqNum: 2 },
    ]);
    expect(sar[0]!.esmClass).toBe(0);
    const payload = splitForSubmit('z'.repeat(1000), SplitMode.PAYLOAD, 0);
    expect(payload).toHaveLength(1);
    expect(payload[0]!.messagePayload?.length).toBe(1000);
    expect(payload[0]!.shortMessage.length).toBe(0);
  });

  it('refuses text that needs more than PARTS_MAX parts', () => {
    expect(() => splitForSubmit('q'.repeat(153 * PARTS_MAX + 1), SplitMode.UDH8, 1)).toThrow(RangeError);
  });

  it('round-trips any text through split and reassembly (property)', () => {
    const anyChar = fc.oneof(fc.constantFrom(...GSM_CHARS), fc.constantFrom('ç', 'ß', '😀', '中', 'é', '€'));
    fc.assert(fc.property(fc.array(anyChar, { minLength: 1, maxLength: 600 }), fc.constantFrom(SplitMode.UDH8, SplitMode.UDH16),
      (chars, mode) => {
        const text = chars.join('');
        const parts = splitForSubmit(text, mode, 42);
        if (parts.length === 1) expect(decodeText(parts[0]!.shortMessage, parts[0]!.dataCoding)).toBe(text);
        else expect(reassembleUdh(parts).text).toBe(text);
      }), { numRuns: 300 });
  });
});
