// Client mode against the simulated SMSC: submits, receipts, long messages
// both ways, inbound durability, bad addresses, and every fault the simulator
// can inject. Nothing is lost; duplicates only where SMPP's at-least-once
// allows (a submit that was never answered); the bind recovers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, newEnvelope, publishEvent, Events, Notifications, type NatsHandle } from '../../../runtime/nats/index.js';
import { validateConfig } from '../../../cli/config.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { v1 } from '../../../proto/index.js';
import { gateway } from '../../../gateway/index.js';
import { SmscSimulator } from '../../../operator-sim/index.js';
import { eventually, setupStack, quietLogger, waitFor, type Stack } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';
import { listenTo, type NotificationListener } from '../../support/notification-listener.js';
import type { dialpay } from '../../../proto/index.js';

const log = quietLogger();
let stack: Stack;
let sim: SmscSimulator;
let host: Host;
let nats: NatsHandle;
let counter = 0;
/** Submit results and receipts are notifications: heard from before the first SMS is sent. */
let submitResults: NotificationListener<dialpay.v1.ISmsSubmitResult>;
let receiptsHeard: NotificationListener<dialpay.v1.IDeliveryReceipt>;

async function sendOutbound(count: number, text: (i: number) => string): Promise<string[]> {
  const refs: string[] = [];
  for (let i = 0; i < count; i++) {
    const ref = `msg-${++counter}`;
    refs.push(ref);
    await publishEvent(nats.js, Events.smsOutbound, {
      envelope: newEnvelope({ producer: 'test' }),
      messageRef: ref,
      operatorId: 'safaricom-ke',
      toMsisdn: `2547000${String(counter).padStart(5, '0')}`,
      fromAddress: '384',
      text: text(counter),
      receiptRequested: true,
    }, { timeoutMs: 5_000 });
  }
  return refs;
}

async function resultsFor(refs: readonly string[]) {
  return waitFor(`submit results for ${refs.length} messages`, async () => {
    const results = submitResults.received.filter((r) => refs.includes(r.messageRef ?? ''));
    return new Set(results.map((r) => r.messageRef)).size === refs.length ? results : null;
  }, 45_000);
}

beforeAll(async () => {
  stack = await setupStack();
  sim = new SmscSimulator({ systemId: 'dialpay', password: 'secret1', messageIdFormat: 'hex', receiptDelayMs: 20 });
  const port = await sim.start();
  const raw = structuredClone(stack.rawConfig) as any;
  raw.nats.publishTimeoutMs = 1_000;
  Object.assign(raw.operators[0].smpp, {
    port, bindCount: 1, responseTimeoutMs: 500, enquireLinkIntervalMs: 1_000, reconnectDelayMsMin: 100, reconnectDelayMsMax: 500,
    submitRetryDelaysMs: [100, 300, 600, 1_000, 2_000], throughputPerSecondMax: 1_000, submitIdFormat: 'hex', receiptIdFormat: 'hex', reassemblyTimeoutMs: 1_000,
  });
  host = await startHost(validateConfig(raw), [gateway], { log });
  nats = await connectNats({ ...stack.config.nats, name: 'test' }, log);
  submitResults = await listenTo(nats.nc, Notifications.smsSubmitResult);
  receiptsHeard = await listenTo(nats.nc, Notifications.deliveryReceipt);
  await waitFor('gateway bound to the SMSC', async () => sim.boundSessions === 1);
});
afterAll(async () => {
  await host?.stop();
  await nats?.close();
  await sim?.stop();
  await stack?.cleanup();
});

describe('outbound', () => {
  it('submits, gets receipts, and correlates each receipt to its message', async () => {
    const refs = await sendOutbound(20, (i) => `Receipt ${i}: paid 500.00 KES to SHOP42`);
    const results = await resultsFor(refs);
    expect(results.every((r) => r.status === v1.SubmitStatus.SUBMIT_STATUS_ACCEPTED)).toBe(true);
    const receipts = await waitFor('receipts', async () => {
      const all = receiptsHeard.received.filter((r) => refs.includes(r.messageRef ?? ''));
      return all.length === refs.length ? all : null;
    });
    expect(receipts.every((r) => r.state === v1.DeliveryState.DELIVERY_STATE_DELIVERED)).toBe(true);
    for (const ref of refs) {
      const smscIds = results.find((r) => r.messageRef === ref)?.smscMessageIds;
      expect(receipts.find((r) => r.messageRef === ref)?.smscMessageId).toBe(smscIds?.[0]);
    }
  });

  it('sends long text as concatenated parts, GSM with escapes and UCS-2', async () => {
    const gsm = 'Paid {500} KES €'.repeat(15); // 16 chars incl. 3 escapes each: 285 septets -> 2 parts
    const ucs = 'Paiement reçu 😀 '.repeat(6);
    const refs = await sendOutbound(2, (i) => (i % 2 ? gsm : ucs));
    await resultsFor(refs);
    const got = sim.submitted.filter((m) => m.text === gsm || m.text === ucs);
    expect(got.map((m) => m.parts).sort()).toEqual([2, 2]);
  });
});

describe('inbound', () => {
  it('publishes the message before answering, and normalises the sender', async () => {
    expect(await sim.sendFromPhone('254711000001', '384', 'PAY SHOP42 500 inv7')).toEqual([0]);
    const events = await readEvents(nats, 'SMS_INBOUND', Events.smsInbound);
    const event = events.find((e) => e.text === 'PAY SHOP42 500 inv7');
    expect(event).toMatchObject({ operatorId: 'safaricom-ke', fromMsisdn: '254711000001', toAddress: '384', bindId: 'safaricom-ke/bind-0' });
  });

  it('reassembles UDH and SAR parts into one event, multi-byte characters at the boundary', async () => {
    const text = `${'ç'.repeat(66)}😀${'é'.repeat(20)}`;
    expect(await sim.sendFromPhone('254711000002', '384', text, { split: 'udh8' })).toEqual([0, 0]);
    const sar = `${'a'.repeat(152)}€ and the rest`;
    expect(await sim.sendFromPhone('254711000002', '384', sar, { split: 'sar' })).toEqual([0, 0]);
    const texts = (await readEvents(nats, 'SMS_INBOUND', Events.smsInbound)).map((e) => e.text);
    expect(texts).toContain(text);
    expect(texts).toContain(sar);
  });

  it('answers an unknown short code with ESME_RINVDSTADR and publishes nothing', async () => {
    const before = (await readEvents(nats, 'SMS_INBOUND', Events.smsInbound)).length;
    expect(await sim.sendFromPhone('254711000003', '99999', 'PAY X 1')).toEqual([0x0b]);
    expect((await readEvents(nats, 'SMS_INBOUND', Events.smsInbound)).length).toBe(before);
  });

  it('answers ESME_RX_T_APPN while NATS is down, so the SMSC retries; accepts again once it is back', async () => {
    await stack.nats.stop();
    try {
      expect(await sim.sendFromPhone('254711000004', '384', 'BAL during outage')).toEqual([0x64]);
    } finally {
      await stack.nats.restart();
    }
    const statuses = await waitFor('accepted after NATS returns', async () => {
      const s = await sim.sendFromPhone('254711000004', '384', 'BAL after outage');
      return s[0] === 0 ? s : null;
    }, 30_000);
    expect(statuses).toEqual([0]);
    // The test's own connection reconnects on its own schedule, and a JetStream API request before it does times out.
    const texts = (await eventually(() => readEvents(nats, 'SMS_INBOUND', Events.smsInbound), 20_000)).map((e) => e.text);
    expect(texts).not.toContain('BAL during outage');
  }, 30_000);
});

describe('a refusal that outlasts the submit retry schedule', () => {
  it('is not the end of the message: it is delivered again and submitted once the SMSC takes submits again', async () => {
    // Every submit refused for longer than the schedule (100+300+600+1000+2000 ms) lasts, as an operator throttling for a while.
    sim.setFaults({ temporaryErrorRate: 1 });
    const clear = setTimeout(() => sim.setFaults({ temporaryErrorRate: 0 }), 6_000);
    try {
      const refs = await sendOutbound(3, (i) => `Paid 1.50 to SHOP42 during throttling ${i}`);
      const results = await resultsFor(refs);
      expect(results.map((r) => r.status)).toEqual(refs.map(() => v1.SubmitStatus.SUBMIT_STATUS_ACCEPTED));
      for (let i = 0; i < refs.length; i++) expect(sim.submitted.filter((m) => m.text === `Paid 1.50 to SHOP42 during throttling ${counter - refs.length + 1 + i}`)).toHaveLength(1);
    } finally {
      clearTimeout(clear);
      sim.setFaults({ temporaryErrorRate: 0 });
    }
  }, 45_000);
});

describe('faults: nothing lost, duplicates only for unanswered submits, the bind recovers', () => {
  type Counter = keyof SmscSimulator['counters'] | 'binds';
  const cases: [string, () => void, Counter][] = [
    ['no response', () => sim.setFaults({ noResponseRate: 0.2 }), 'unanswered'],
    ['generic_nack', () => sim.setFaults({ genericNackRate: 0.2 }), 'nacked'],
    ['temporary errors', () => sim.setFaults({ temporaryErrorRate: 0.3 }), 'temporary'],
    ['throttled above 5/s', () => sim.setFaults({ throttleAboveTps: 5 }), 'throttled'],
    // Slow answers keep submits in flight when the unbind comes: with fast ones the 20 could all be done first.
    ['unbind', () => (sim.setFaults({ responseDelayMs: 200 }), setTimeout(() => sim.unbindAll(), 50)), 'binds'],
    ['disconnect mid-window', () => sim.setFaults({ disconnectAfterSubmits: 5 }), 'unanswered'],
  ];
  const read = (c: Counter) => (c === 'binds' ? sim.bindsAccepted : sim.counters[c]);
  /** Submits whose outcome the gateway could not know (no answer in time, or the link closed under them). */
  const ambiguous = async () => {
    const text = await (await fetch(`http://127.0.0.1:${host.opsPorts.gateway}/metrics`)).text();
    return [...text.matchAll(/dialpay_smpp_submit_retries_total\{[^}]*reason="(ResponseTimeoutError|SessionClosedError)"[^}]*\} (\d+)/g)].reduce((n, m) => n + Number(m[2]), 0);
  };
  for (const [name, inject, counterName] of cases) {
    it(name, async () => {
      const ambiguousBefore = await ambiguous();
      const faultBefore = read(counterName);
      inject();
      try {
        const texts = new Map<string, string>();
        const refs = await sendOutbound(20, (i) => `fault ${name} ${i}`);
        refs.forEach((ref, i) => texts.set(ref, `fault ${name} ${counter - refs.length + 1 + i}`));
        const results = await resultsFor(refs);
        expect(results.filter((r) => r.status !== v1.SubmitStatus.SUBMIT_STATUS_ACCEPTED)).toEqual([]);
        for (const text of texts.values()) expect(sim.submitted.some((m) => m.text === text)).toBe(true);
        const copies = sim.submitted.filter((m) => m.text.startsWith(`fault ${name} `)).length;
        // A resend only ever follows a submit whose outcome was unknown: SMPP's at-least-once, nothing more.
        expect(copies - refs.length).toBeLessThanOrEqual((await ambiguous()) - ambiguousBefore);
        await waitFor('bound again', async () => sim.boundSessions === 1);
        expect(read(counterName)).toBeGreaterThan(faultBefore); // the fault really happened
      } finally {
        sim.setFaults({
          noResponseRate: 0, genericNackRate: 0, temporaryErrorRate: 0, throttleAboveTps: 0, disconnectAfterSubmits: 0, responseDelayMs: 0,
        });
      }
      await waitFor('bound again', async () => sim.boundSessions === 1);
    });
  }
});
