// The converters at the proto edge: int64 money and instants survive the wire exactly, and an
// enum value that is UNSPECIFIED where one is required, or unknown to this build, is refused by name.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  v1, ContractError, EnumValueError, bigIntToInt64, dateFromProto, enumValueName, int64ToBigInt, knownEnum,
  moneyFromProto, moneyToProto, requireEnum, unixMsFromProto, unixMsToProto,
} from '../../proto/index.js';
import { Events, newEnvelope } from '../../runtime/nats/index.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

describe('int64 and money', () => {
  it('round-trips every int64 through Long and through the wire', () => {
    fc.assert(fc.property(fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), (n) => {
      expect(int64ToBigInt(bigIntToInt64(n))).toBe(n);
      const money = moneyToProto({ amountMinor: n, currency: 'KES' });
      const decoded = v1.Money.decode(v1.Money.encode(money).finish());
      expect(moneyFromProto(decoded)).toEqual({ amountMinor: n, currency: 'KES' });
    }));
  });

  it('refuses what int64 cannot hold, and a number that is not a safe integer', () => {
    fc.assert(fc.property(
      fc.oneof(fc.bigInt({ min: INT64_MAX + 1n, max: 2n ** 80n }), fc.bigInt({ min: -(2n ** 80n), max: INT64_MIN - 1n })),
      (n) => {
        expect(() => bigIntToInt64(n)).toThrow(RangeError);
      },
    ));
    expect(() => int64ToBigInt(2 ** 53)).toThrow(RangeError);
    expect(() => int64ToBigInt(0.5)).toThrow(RangeError);
    expect(int64ToBigInt(null)).toBe(0n);
  });
});

describe('instants', () => {
  it('round-trips Unix ms given as a number, a bigint or a Date', () => {
    fc.assert(fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => {
      const wire = (value: ReturnType<typeof unixMsToProto>) =>
        v1.StatementLine.decode(v1.StatementLine.encode({ atUnixMs: value }).finish()).atUnixMs;
      expect(unixMsFromProto(wire(unixMsToProto(ms)))).toBe(ms);
      expect(unixMsFromProto(unixMsToProto(BigInt(ms)))).toBe(ms);
      expect(unixMsFromProto(unixMsToProto(new Date(ms)))).toBe(ms);
      expect(dateFromProto(unixMsToProto(ms))?.getTime() ?? 0).toBe(ms);
    }));
  });

  it('reads an unset instant as 0 (no Date), and refuses one no number can hold', () => {
    expect(unixMsFromProto(undefined)).toBe(0);
    expect(dateFromProto(null)).toBeNull();
    expect(() => unixMsFromProto(bigIntToInt64(2n ** 60n))).toThrow(RangeError);
    expect(() => unixMsToProto(Number.NaN)).toThrow(RangeError);
    expect(() => unixMsToProto(new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe('enums', () => {
  const known = Object.values(v1.DebitOutcome).filter((v): v is number => typeof v === 'number' && v !== 0);

  it('requireEnum answers every known value and refuses UNSPECIFIED, unset and unknown ones with a typed error naming the field', () => {
    for (const value of known) expect(requireEnum(v1.DebitOutcome, value, 'outcome')).toBe(value);
    for (const value of [0, null, undefined]) {
      const err = (() => { try { requireEnum(v1.DebitOutcome, value, 'outcome'); } catch (e) { return e; } })();
      expect(err).toBeInstanceOf(EnumValueError);
      expect(err).toBeInstanceOf(ContractError);
      expect(err).toMatchObject({ field: 'outcome', reason: 'unspecified', message: 'outcome is UNSPECIFIED' });
    }
    fc.assert(fc.property(fc.integer().filter((v) => v !== 0 && !known.includes(v)), (value) => {
      expect(() => requireEnum(v1.DebitOutcome, value, 'outcome')).toThrow(new EnumValueError('outcome', value, 'unknown'));
    }));
  });

  it('knownEnum lets UNSPECIFIED through as 0 and still refuses unknown values', () => {
    expect(knownEnum(v1.FundingSource, undefined, 'funding')).toBe(0);
    expect(knownEnum(v1.FundingSource, 0, 'funding')).toBe(0);
    expect(knownEnum(v1.FundingSource, v1.FundingSource.FUNDING_SOURCE_WALLET, 'funding')).toBe(v1.FundingSource.FUNDING_SOURCE_WALLET);
    expect(() => knownEnum(v1.FundingSource, 42, 'funding')).toThrow(/funding has unknown value 42/);
  });

  it('names values, and nothing for one this build does not know', () => {
    expect(enumValueName(v1.SmsKind, v1.SmsKind.SMS_KIND_CHALLENGE)).toBe('SMS_KIND_CHALLENGE');
    expect(enumValueName(v1.SmsKind, 99)).toBeUndefined();
    expect(enumValueName(v1.SmsKind, null)).toBeUndefined();
  });
});

describe('event contracts', () => {
  const envelope = () => newEnvelope({ producer: 'test' });
  /** A value no enum of this build has, as another build's producer might send it. */
  const unknownValue = (n: number): number => n;

  it('refuses a result with no outcome or an unknown one, and a credit with no source', () => {
    expect(() => Events.debitReserveResult.validate?.({ envelope: envelope(), debitId: 'd1', outcome: 0 })).toThrow(EnumValueError);
    expect(() => Events.debitCaptureResult.validate?.({ envelope: envelope(), debitId: 'd1', outcome: unknownValue(77) })).toThrow(/outcome has unknown value 77/);
    expect(() => Events.debitVoidResult.validate?.({ envelope: envelope(), debitId: 'd1' })).toThrow(/outcome is UNSPECIFIED/);
    expect(() => Events.debitRefundResult.validate?.({ envelope: envelope(), debitId: 'd1', outcome: unknownValue(9) })).toThrow(EnumValueError);
    expect(() => Events.creditResult.validate?.({ envelope: envelope(), creditId: 'c1', outcome: 0 })).toThrow(EnumValueError);
    expect(() => Events.creditRequested.validate?.({ envelope: envelope(), creditId: 'c1', source: 0 })).toThrow(/source is UNSPECIFIED/);
    expect(() => Events.debitCaptureResult.validate?.({ envelope: envelope(), outcome: 1, topUp: unknownValue(8) })).toThrow(/topUp has unknown value 8/);
  });

  it('accepts UNSPECIFIED where it has a meaning: a reserve with no funding asked for, an SMS of an older publisher', () => {
    expect(() => Events.debitReserveRequested.validate?.({ envelope: envelope(), debitId: 'd1' })).not.toThrow();
    expect(() => Events.debitReserveRequested.validate?.({ envelope: envelope(), debitId: 'd1', funding: unknownValue(12) })).toThrow(EnumValueError);
    expect(() => Events.debitCaptureResult.validate?.({ envelope: envelope(), outcome: 1 })).not.toThrow();
    expect(() => Events.smsOutbound.validate?.({ envelope: envelope(), text: 'hi' })).not.toThrow();
    expect(() => Events.smsOutbound.validate?.({ envelope: envelope(), text: 'hi', kind: unknownValue(40) })).toThrow(/kind has unknown value 40/);
    expect(() => Events.smsOutbound.validate?.({ envelope: envelope(), text: 'hi', priority: unknownValue(40) })).toThrow(/priority has unknown value 40/);
  });
});
