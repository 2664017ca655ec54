import { describe, expect, it } from 'vitest';
import { v1, bigIntToInt64, int64ToBigInt, moneyFromProto, moneyToProto, enumName, ContractError } from '../../proto/index.js';
import { Events, Notifications, eventBySubject, newEnvelope, encodeEvent } from '../../runtime/nats/index.js';

describe('contracts', () => {
  it('round-trips money beyond 2^53 minor units as bigint', () => {
    const amountMinor = 9_007_199_254_740_993n; // 2^53 + 1: a number would lose the last unit
    const message = {
      envelope: newEnvelope({ producer: 'test', paymentId: 'pay-1' }),
      paymentId: 'pay-1',
      amount: moneyToProto({ amountMinor, currency: 'KES' }),
      fee: moneyToProto({ amountMinor: 12n, currency: 'KES' }),
      transferId: 't-1',
    };
    const decoded = Notifications.paymentCompleted.type.decode(encodeEvent(Notifications.paymentCompleted, message));
    expect(moneyFromProto(decoded.amount)).toEqual({ amountMinor, currency: 'KES' });
    expect(decoded.envelope?.paymentId).toBe('pay-1');
    expect(int64ToBigInt(decoded.envelope?.occurredAtUnixMs)).toBeGreaterThan(1_700_000_000_000n);
  });

  it('refuses int64 overflow and money without a currency', () => {
    expect(() => bigIntToInt64(2n ** 63n)).toThrow(RangeError);
    expect(() => moneyFromProto({ amountMinor: bigIntToInt64(1n), currency: '' })).toThrow(ContractError);
  });

  it('rejects UNSPECIFIED and unknown enum values at the edge', () => {
    expect(enumName(v1.SubmitStatus, v1.SubmitStatus.SUBMIT_STATUS_ACCEPTED, 'status')).toBe('SUBMIT_STATUS_ACCEPTED');
    expect(() => enumName(v1.SubmitStatus, 0, 'status')).toThrow(/UNSPECIFIED/);
    expect(() => enumName(v1.SubmitStatus, 99, 'status')).toThrow(/unknown value 99/);
  });

  it('maps every subject to exactly one message type', () => {
    const subjects = Object.values(Events).map((e) => e.subject);
    expect(new Set(subjects).size).toBe(subjects.length);
    for (const def of Object.values(Events)) expect(eventBySubject(def.subject)).toBe(def);
    // A notification is no durable event: no consumer may look one up as such.
    const notifications = Object.values(Notifications).map((n) => n.subject);
    expect(new Set(notifications).size).toBe(notifications.length);
    for (const subject of notifications) expect(eventBySubject(subject), subject).toBeUndefined();
  });
});
