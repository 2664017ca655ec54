// Notifications are stored nowhere: no stream's subjects cover one, and notify refuses a durable
// event's def. Payments alone may publish the payment notifications.
import { describe, expect, it } from 'vitest';
import { COMPONENT_NAMES } from '../../../runtime/config/index.js';
import { Events, Notifications, newEnvelope, prepareNotification, STREAMS } from '../../../runtime/nats/index.js';
import { natsPermissions } from '../../../runtime/nats/permissions.js';
import { COMPONENTS } from '../../../cli/components.js';

/** Whether a NATS subject filter (`*` one token, `>` the rest) covers a literal subject. */
function covers(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}

describe('notifications', () => {
  it('the subject matcher this test relies on', () => {
    expect(covers('dialpay.debit.>', 'dialpay.debit.reserve.requested')).toBe(true);
    expect(covers('dialpay.*.receipt', 'dialpay.sms.receipt')).toBe(true);
    expect(covers('dialpay.payment.>', 'dialpay.notify.payment.completed')).toBe(false);
    expect(covers('dialpay.>', 'dialpay.notify.payment.completed')).toBe(true);
  });

  it('no stream stores one, and every durable event has a stream', () => {
    for (const def of Object.values(Notifications)) {
      expect(STREAMS.filter((s) => s.subjects.some((f) => covers(f, def.subject))).map((s) => s.name), def.subject).toEqual([]);
    }
    for (const def of Object.values(Events)) {
      expect(STREAMS.filter((s) => s.subjects.some((f) => covers(f, def.subject))), def.subject).toHaveLength(1);
    }
    expect(STREAMS.map((s) => s.name)).not.toContain('PAYMENTS');
  });

  it('only payments may publish the payment notifications, and nobody the old durable subjects', () => {
    const payment = Object.values(Notifications).filter((d) => d.subject.startsWith('dialpay.notify.payment.'));
    expect(payment).toHaveLength(5);
    for (const def of payment) expect(COMPONENT_NAMES.filter((c) => natsPermissions(c, COMPONENTS).publish.includes(def.subject)), def.subject).toEqual(['payments']);
    for (const c of COMPONENT_NAMES) expect(natsPermissions(c, COMPONENTS).publish.filter((s) => s.startsWith('dialpay.payment.')), c).toEqual([]);
  });

  it('notify refuses a durable event, so nothing durable is lost to at-most-once by mistake', () => {
    const envelope = newEnvelope({ producer: 'test', eventId: 'e-1' });
    expect(() => prepareNotification(Events.merchantEvent, { envelope, merchantId: 'm', type: 'payment.completed' })).toThrow(/durable event/);
    const prepared = prepareNotification(Notifications.paymentFailed, { envelope, paymentId: 'p-1', detail: 'cancelled' });
    expect(prepared.subject).toBe('dialpay.notify.payment.failed');
    expect(prepared.headers.get('Nats-Msg-Id')).toBe('e-1');
    expect(Notifications.paymentFailed.type.decode(prepared.payload).paymentId).toBe('p-1');
  });
});
