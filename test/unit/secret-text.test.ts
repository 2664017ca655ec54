// Secrets marked by the writer of a text and masked by those marks (SmsOutbound.secret_spans).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { markSecrets, maskSecretSpans, SECRET_MASK } from '../../proto/index.js';

describe('markSecrets', () => {
  it('marks each secret where the template put it, in UTF-16 code units, whatever surrounds it', () => {
    const marked = markSecrets((secret) => `🙂 Ton code: ${secret('4821')} (et encore ${secret('90210833')}).`);
    expect(marked.text).toBe('🙂 Ton code: 4821 (et encore 90210833).');
    expect(marked.secretSpans.map((s) => marked.text.slice(s.start, s.start + s.length))).toEqual(['4821', '90210833']);
    expect(marked.secretSpans[0]).toEqual({ start: 13, length: 4 }); // the emoji is two code units
  });

  it('finds every secret in any wording (property)', () => {
    // No template writes the two private-use code points markSecrets keeps for its marks.
    const words = (minLength: number) => fc.string({ unit: 'grapheme', minLength, maxLength: 12 }).filter((w) => !/[\uE000\uE001]/.test(w));
    // Text between secrets (adjacent ones mask as one).
    fc.assert(fc.property(fc.array(fc.tuple(words(1), fc.stringMatching(/^\d{4,8}$/)), { minLength: 1, maxLength: 4 }), words(0), (pieces, tail) => {
      const marked = markSecrets((secret) => pieces.map(([before, code]) => before + secret(code)).join('') + tail);
      expect(marked.text).toBe(pieces.map(([before, code]) => before + code).join('') + tail);
      expect(marked.secretSpans.map((s) => marked.text.slice(s.start, s.start + s.length))).toEqual(pieces.map(([, code]) => code));
      const masked = maskSecretSpans(marked.text, marked.secretSpans);
      expect(masked.text).toBe(pieces.map(([before]) => before + SECRET_MASK).join('') + tail);
    }));
  });

  it('refuses a rendering that cut a mark, rather than send an unmarked secret', () => {
    expect(() => markSecrets((secret) => `code ${secret('4821')}`.slice(0, 7))).toThrow(/mark was altered/);
  });

  it('marks nothing when no secret is written', () => {
    expect(markSecrets(() => 'Paid 10.00 KES.')).toEqual({ text: 'Paid 10.00 KES.', secretSpans: [] });
  });
});

describe('maskSecretSpans', () => {
  it('masks each span with a mask of one length, merges overlaps, and answers the masks\' spans', () => {
    expect(maskSecretSpans('a 12 b 345678 c', [{ start: 7, length: 6 }, { start: 2, length: 2 }])).toEqual({
      text: 'a **** b **** c', secretSpans: [{ start: 2, length: 4 }, { start: 9, length: 4 }],
    });
    expect(maskSecretSpans('x123456y', [{ start: 1, length: 3 }, { start: 3, length: 4 }]).text).toBe('x****y');
  });

  it('leaves a text without spans as it is, and ignores empty spans', () => {
    expect(maskSecretSpans('Reply YES 4821', [])).toEqual({ text: 'Reply YES 4821', secretSpans: [] });
    expect(maskSecretSpans('Reply YES 4821', undefined).text).toBe('Reply YES 4821');
    expect(maskSecretSpans('Reply YES 4821', [{ start: 3 }]).text).toBe('Reply YES 4821');
  });

  it('masks the whole text when a span reaches past it: where the secret is, is unknown', () => {
    expect(maskSecretSpans('code 4821', [{ start: 5, length: 10 }])).toEqual({ text: SECRET_MASK, secretSpans: [{ start: 0, length: 4 }] });
  });
});
