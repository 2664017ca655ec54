// Which consumers erase what they handle: only those of streams declared work queues (they carry
// PINs and codes) whose live stream an older release made with limits retention, unless the
// consumer's spec says otherwise.
import { describe, expect, it } from 'vitest';
import { STREAMS } from '../../../runtime/nats/index.js';
import { TOPOLOGY } from '../../../cli/components.js';
import { GATEWAY_SMS_OUTBOUND } from '../../../gateway/consumers.js';
import { PAYMENTS_SMS_INBOUND } from '../../../services/payments/consumers.js';
import { deleteAfterAckFor } from '../../../runtime/nats/topology.js';
import { settleHandled } from '../../../runtime/nats/erase-handled.js';
import { quietLogger } from '../../support/stack.js';

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
    const others = TOPOLOGY.consumers.filter((c) => declared(c.stream)?.retention !== 'workqueue');
    expect(others.length).toBeGreaterThan(5);
    for (const spec of others) expect(deleteAfterAckFor(spec, declared(spec.stream), 'limits'), spec.durableName).toBe(false);
  });

  it('follows an explicit option over the live stream', () => {
    expect(deleteAfterAckFor({ ...PAYMENTS_SMS_INBOUND, deleteAfterAck: false }, declared('SMS_INBOUND'), 'limits')).toBe(false);
    expect(deleteAfterAckFor({ ...PAYMENTS_SMS_INBOUND, deleteAfterAck: true }, declared('SMS_INBOUND'), 'workqueue')).toBe(true);
  });
});

// Unit level with a fake message: a real server cannot be made to lose just the reply to an ack
// (the ack itself arriving) cheaply or deterministically.
describe('settleHandled', () => {
  const fakeMsg = (ackAck: () => Promise<boolean>) => {
    const calls: string[] = [];
    return {
      calls,
      msg: { seq: 7, ack: () => void calls.push('ack'), ackAck: async () => { calls.push('ackAck'); return ackAck(); } },
      erase: async () => void calls.push('erase'),
    };
  };

  it('erases a handled message even when the ack confirmation timed out, after the ack attempt', async () => {
    const f = fakeMsg(() => Promise.reject(new Error('TIMEOUT')));
    await settleHandled(f.msg, true, 50, f.erase, quietLogger());
    expect(f.calls).toEqual(['ackAck', 'erase']);
  });

  it('erases after a confirmed ack, and only acks where the consumer does not erase', async () => {
    const confirmed = fakeMsg(() => Promise.resolve(true));
    await settleHandled(confirmed.msg, true, 50, confirmed.erase, quietLogger());
    expect(confirmed.calls).toEqual(['ackAck', 'erase']);
    const plain = fakeMsg(() => Promise.resolve(true));
    await settleHandled(plain.msg, false, 50, plain.erase, quietLogger());
    expect(plain.calls).toEqual(['ack']);
  });
});
