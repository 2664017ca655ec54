// Operators' number ranges: the config's checks, and finding a number's
// operator by the longest prefix (runtime/msisdn.ts), with a property that
// compares it with a brute-force reading of the same rule.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { operatorForNumber, numberBelongsTo } from '../../../runtime/msisdn.js';
import { configErrorOf, loadExampleWith } from '../../support/config.js';

const addOperator = (raw: Record<string, any>, id: string, countryCallingCode: string, numberRanges: string[] | undefined) => {
  const op = { ...structuredClone(raw.operators[0]), id, name: id, countryCallingCode, numberRanges, shortCodes: ['30384'], smpp: { ...raw.operators[0].smpp, port: 2790 + raw.operators.length } };
  if (numberRanges === undefined) delete op.numberRanges;
  delete op.ussd;
  raw.operators.push(op);
};

describe('numberRanges in the config', () => {
  it('reads prefixes as digits, with or without the +, and defaults to the country calling code', () => {
    const config = loadExampleWith((raw) => {
      raw.operators[0].numberRanges = ['+2547', '25410'];
      delete raw.operators[1].numberRanges;
    });
    expect(config.operators[0]?.numberRanges).toEqual(['2547', '25410']);
    expect(config.operators[1]?.numberRanges).toEqual(['221']);
  });

  it('keeps the shipped example valid with its declared ranges', () => {
    const config = loadExampleWith(() => undefined);
    expect(config.operators.map((o) => [o.id, o.numberRanges])).toEqual([['safaricom-ke', ['2547', '2541']], ['orange-sn', ['22177', '22178']]]);
  });

  it('refuses the same prefix at two operators, naming both', () => {
    const error = configErrorOf(() => loadExampleWith((raw) => addOperator(raw, 'airtel-ke', '254', ['+2541', '+25473'])));
    expect(error.key).toBe('operators[2].numberRanges[0]');
    expect(error.message).toContain('"safaricom-ke"');
    expect(error.message).toContain('"airtel-ke"');
  });

  it('refuses two operators of one country that both leave their ranges out (both would hold +254)', () => {
    const error = configErrorOf(() => loadExampleWith((raw) => {
      delete raw.operators[0].numberRanges;
      addOperator(raw, 'airtel-ke', '254', undefined);
    }));
    expect(error.key).toBe('operators[2].numberRanges[0]');
    expect(error.message).toMatch(/\+254 is claimed by both "safaricom-ke" and "airtel-ke"/);
  });

  it('accepts overlapping prefixes (the longest wins) and refuses a prefix listed twice, outside the country, or malformed', () => {
    expect(loadExampleWith((raw) => addOperator(raw, 'airtel-ke', '254', ['+25473', '+25478'])).operators[2]?.numberRanges).toEqual(['25473', '25478']);
    expect(configErrorOf(() => loadExampleWith((raw) => (raw.operators[0].numberRanges = ['+2547', '2547']))).message).toContain('+2547 is listed twice');
    expect(configErrorOf(() => loadExampleWith((raw) => (raw.operators[0].numberRanges = ['+2217']))).key).toBe('operators[0].numberRanges[0]');
    expect(configErrorOf(() => loadExampleWith((raw) => (raw.operators[0].numberRanges = ['+25 47']))).key).toBe('operators[0].numberRanges[0]');
    expect(configErrorOf(() => loadExampleWith((raw) => (raw.operators[0].numberRanges = []))).key).toBe('operators[0].numberRanges');
  });
});

describe('operatorForNumber', () => {
  const safaricom = { id: 'safaricom-ke', numberRanges: ['2547', '2541'] };
  const airtel = { id: 'airtel-ke', numberRanges: ['25473', '25478', '2541'.concat('0')] };
  const orange = { id: 'orange-sn', numberRanges: ['22177', '22178'] };
  const all = [safaricom, airtel, orange];

  it('takes the longest prefix that starts the number', () => {
    expect(operatorForNumber(all, '254711000001')?.id).toBe('safaricom-ke');
    expect(operatorForNumber(all, '254733000001')?.id).toBe('airtel-ke');
    expect(operatorForNumber(all, '254101000001')?.id).toBe('airtel-ke');
    expect(operatorForNumber(all, '254111000001')?.id).toBe('safaricom-ke');
    expect(operatorForNumber(all, '221770000001')?.id).toBe('orange-sn');
  });

  it('finds no operator for a number in no range', () => {
    expect(operatorForNumber(all, '221760000001')).toBeNull();
    expect(operatorForNumber(all, '255710000001')).toBeNull();
    expect(operatorForNumber([], '254711000001')).toBeNull();
  });

  it('does not depend on the order operators are listed in', () => {
    expect(operatorForNumber([orange, airtel, safaricom], '254733000001')?.id).toBe('airtel-ke');
    expect(numberBelongsTo(safaricom, '254733000001', [airtel, safaricom])).toBe(false);
  });

  it('agrees with the rule read literally: the operator of the longest matching prefix (property)', () => {
    const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
    // Distinct prefixes over a small alphabet, so overlaps are common; dealt out to up to 4 operators.
    const world = fc.uniqueArray(fc.stringMatching(/^[12][0-3]{0,4}$/), { minLength: 1, maxLength: 12 }).chain((prefixes) =>
      fc.tuple(fc.constant(prefixes),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: prefixes.length, maxLength: prefixes.length })));
    fc.assert(
      fc.property(world, fc.oneof(digits(1, 12), fc.stringMatching(/^[12][0-3]{0,6}[0-9]{0,6}$/)), ([prefixes, owners], number) => {
        const operators = [0, 1, 2, 3].map((n) => ({ id: `op${n}`, numberRanges: prefixes.filter((_p, i) => owners[i] === n) }));
        const matching = prefixes.map((p, i) => ({ p, owner: `op${owners[i]}` })).filter((m) => number.startsWith(m.p));
        const longest = matching.sort((a, b) => b.p.length - a.p.length)[0];
        const found = operatorForNumber(operators, number);
        expect(found?.id ?? null).toBe(longest?.owner ?? null);
        // The answer is one whose ranges really hold the number, and numberBelongsTo agrees.
        if (found) {
          expect(found.numberRanges.some((p) => number.startsWith(p))).toBe(true);
          expect(numberBelongsTo(found, number, operators)).toBe(true);
        }
        for (const other of operators) if (other !== found) expect(numberBelongsTo(other, number, operators)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
