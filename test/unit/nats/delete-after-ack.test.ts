// Which consumers erase what they handle: only those of streams declared work queues (they carry
// PINs and codes) whose live stream an older release made with limits retention, unless the
// consumer's spec says otherwise.
import { describe, expect, it } from 'vitest';
import { CONSUMERS, GATEWAY_SMS_OUTBOUND, PAYMENTS_SMS_INBOUND, STREAMS } from '../../../runtime/nats/index.js';
import { deleteAfterAckFor } from '../../../runtime/nats/topology.js';

const declared = (name: string) => STREAMS.find((s) => s.name === name);

describe('deleteAfterAckFor', () => {
  it('erases from the SMS streams only when the live stream is not a work queue', () => {
    for (const spec of [PAYMENTS_SMS_INBOUND, GATEWAY_SMS_OUTBOUND]) {
      expect(deleteAfterAckFor(spec, declared(spec.stream), 'limits'), spec.durableName).toBe(true);
      expect(deleteAfterAckFor(spec, declared(spec.stream), 'interest'), spec.durableName).toBe(true);
      expect(deleteAfterAckFor(spec, declared(spec.stream), 'workqueue'), spec.durableName).toBe(false);
    }
  });

  it('never erases from streams that keep messages on purpose (payments, debits, merchant events)', () => {
    const others = CONSUMERS.filter((c) => declared(c.stream)?.retention !== 'workqueue');
    expect(others.length).toBeGreaterThan(5);
    for (const spec of others) expect(deleteAfterAckFor(spec, declared(spec.stream), 'limits'), spec.durableName).toBe(false);
  });

  it('follows an explicit option over the live stream', () => {
    expect(deleteAfterAckFor({ ...PAYMENTS_SMS_INBOUND, deleteAfterAck: false }, declared('SMS_INBOUND'), 'limits')).toBe(false);
    expect(deleteAfterAckFor({ ...PAYMENTS_SMS_INBOUND, deleteAfterAck: true }, declared('SMS_INBOUND'), 'workqueue')).toBe(true);
  });
});
