// Outbound SMS during an SMSC outage (issue 17): a wait, not a failure, while the SMS is useful; a
// drop, counted, once its expiry has passed; an ordinary failure once a receipt has waited
// smpp.bindWaitMaxMs. The link is a stand-in whose readiness and answers the test sets.
import { expect, it } from 'vitest';
import { bigIntToInt64, dialpay } from '../../../proto/index.js';
import { type OperatorConfig } from '../../../runtime/config/index.js';
import { validateConfig } from '../../../cli/config.js';
import { newEnvelope, RetryLaterError } from '../../../runtime/nats/index.js';
import { createRegistry } from '../../../runtime/metrics.js';
import { FailureCounts } from '../../../runtime/nats/retry-accounting.js';
import { NoLinkError, OutboundSubmitter, SmscUnavailableError, SubmitRetriesExhaustedError, smsKindLabel, type OperatorLink } from '../../../gateway/smpp/outbound.js';
import { SmppMetrics } from '../../../gateway/smpp/metrics.js';
import { WaitingMessages } from '../../../gateway/smpp/waiting.js';
import type { SentLog } from '../../../gateway/smpp/sent-log.js';
import type { Pdu } from '../../../gateway/smpp/codec/pdu.js';
import { CommandStatus } from '../../../gateway/smpp/status.js';
import { exampleConfigRaw, quietLogger } from '../../support/stack.js';

const { SmsKind } = dialpay.v1;
const config = validateConfig(exampleConfigRaw());
const base = config.operators.find((o) => o.smpp.mode === 'client') as OperatorConfig;
const operator: OperatorConfig = {
  ...base, smpp: { ...base.smpp, submitRetryDelaysMs: [1], bindWaitDelayMsMin: 100, bindWaitDelayMsMax: 800, bindWaitMaxMs: 60_000 },
};

function setup() {
  let ready = false;
  let answer: number = CommandStatus.ESME_ROK;
  const sentTexts: string[] = [];
  const link: OperatorLink = {
    ready: () => ready,
    send: async (fields) => {
      if (answer === CommandStatus.ESME_ROK) sentTexts.push(String(fields.destination_addr));
      return { command: 'submit_sm_resp', command_status: answer, sequence_number: 1, message_id: 'X1' } as unknown as Pdu;
    },
    throttled: () => undefined,
  };
  const sent = { smscIdsOf: () => null, catchUp: async () => undefined, record: async () => undefined } as unknown as SentLog;
  const registry = createRegistry('gateway');
  const metrics = new SmppMetrics(registry);
  const waiting = new WaitingMessages();
  const submitter = new OutboundSubmitter({
    operators: new Map([[operator.id, operator]]), links: new Map([[operator.id, link]]), nc: { publish: () => undefined },
    sent, log: quietLogger(), metrics, waiting,
  });
  return {
    submitter, metrics, waiting, sentTexts, registry,
    bindUp: (up: boolean) => (ready = up),
    answerWith: (status: number) => (answer = status),
  };
}

function sms(eventId: string, kind: dialpay.v1.SmsKind, expiresAtMs = 0, publishedAtMs = Date.now()): dialpay.v1.ISmsOutbound {
  return {
    envelope: newEnvelope({ producer: 'test', eventId, occurredAtUnixMs: publishedAtMs }), messageRef: eventId, operatorId: operator.id,
    toMsisdn: `2547000${eventId.length}`, fromAddress: '384', text: 'Pay 5.00 KES? Reply YES 4821', kind, expiresAtUnixMs: bigIntToInt64(BigInt(expiresAtMs)),
  };
}

it('no bind: a receipt waits (a RetryLaterError, growing with the deliveries, within the configured bounds) and is counted as waiting', async () => {
  const t = setup();
  const delays: number[] = [];
  for (const deliveryCount of [1, 2, 3, 4, 5, 6]) {
    const err = await t.submitter.handle(sms('r1', SmsKind.SMS_KIND_RECEIPT), deliveryCount).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(SmscUnavailableError);
    expect(err).toBeInstanceOf(RetryLaterError);
    expect((err as SmscUnavailableError).reason).toBe('no_bind');
    delays.push((err as SmscUnavailableError).delayMs);
  }
  expect(delays[0]).toBe(100);
  for (const d of delays) expect(d).toBeGreaterThanOrEqual(100);
  for (const d of delays) expect(d).toBeLessThanOrEqual(800);
  expect(t.waiting.counts().get(operator.id)).toBe(1);
  // The bind returns: sent, no longer waiting.
  t.bindUp(true);
  await t.submitter.handle(sms('r1', SmsKind.SMS_KIND_RECEIPT), 7);
  expect(t.sentTexts).toHaveLength(1);
  expect(t.waiting.counts().get(operator.id) ?? 0).toBe(0);
});

it('a challenge waits no longer than its expiry, and once past it is dropped unsent and counted by kind', async () => {
  const t = setup();
  const expiresAtMs = Date.now() + 30;
  const err = await t.submitter.handle(sms('c1', SmsKind.SMS_KIND_CHALLENGE, expiresAtMs), 6).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(SmscUnavailableError);
  expect((err as SmscUnavailableError).delayMs).toBeLessThanOrEqual(31);
  await new Promise((r) => setTimeout(r, 40));
  t.bindUp(true);
  await t.submitter.handle(sms('c1', SmsKind.SMS_KIND_CHALLENGE, expiresAtMs), 7); // acked: no throw
  expect(t.sentTexts).toEqual([]);
  const counted = (await t.metrics.outboundExpired.get()).values.find((v) => v.labels.kind === 'challenge' && v.labels.operator === operator.id);
  expect(counted?.value).toBe(1);
  expect(t.waiting.counts().get(operator.id) ?? 0).toBe(0);
});

it('temporary SMSC refusals past the submit schedule are a wait too; a permanent one is not', async () => {
  const t = setup();
  t.bindUp(true);
  t.answerWith(CommandStatus.ESME_RTHROTTLED);
  const err = await t.submitter.handle(sms('t1', SmsKind.SMS_KIND_NOTICE), 1).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(SmscUnavailableError);
  expect((err as SmscUnavailableError).reason).toBe('temporary');
  t.answerWith(CommandStatus.ESME_RINVDSTADR);
  await t.submitter.handle(sms('t1', SmsKind.SMS_KIND_NOTICE), 2); // refused for good: a failed result, acked as today
  expect(t.sentTexts).toEqual([]);
  expect(t.waiting.counts().get(operator.id) ?? 0).toBe(0);
});

it('a receipt that has waited bindWaitMaxMs since its publication fails as before (toward the DLQ), no longer waits', async () => {
  const t = setup();
  const old = sms('old', SmsKind.SMS_KIND_RECEIPT, 0, Date.now() - 61_000);
  await expect(t.submitter.handle(old, 40)).rejects.toBeInstanceOf(NoLinkError);
  t.bindUp(true);
  t.answerWith(CommandStatus.ESME_RTHROTTLED);
  await expect(t.submitter.handle(old, 41)).rejects.toBeInstanceOf(SubmitRetriesExhaustedError);
});

it('names kinds for the metric label, an older publisher\'s as unspecified', () => {
  expect(smsKindLabel(SmsKind.SMS_KIND_CHALLENGE)).toBe('challenge');
  expect(smsKindLabel(SmsKind.SMS_KIND_RETRY_PROMPT)).toBe('retry_prompt');
  expect(smsKindLabel(undefined)).toBe('unspecified');
  expect(smsKindLabel(99 as dialpay.v1.SmsKind)).toBe('unspecified');
});

it('FailureCounts counts each message\'s failures, forgets on settle, and keeps at most entriesMax', () => {
  const counts = new FailureCounts(2);
  expect(counts.failed(10)).toBe(1);
  expect(counts.failed(10)).toBe(2);
  counts.forget(10);
  expect(counts.failed(10)).toBe(1);
  counts.failed(11);
  counts.failed(12);
  expect(counts.size).toBe(2);
  expect(counts.failed(10)).toBe(1); // pushed out as the oldest
});

it('WaitingMessages stops counting a message not seen again within its wait and the grace', () => {
  let now = 0;
  const waiting = new WaitingMessages(10, 1_000, () => now);
  waiting.waits('a', 'op', 500);
  waiting.waits('b', 'op', 5_000);
  expect(waiting.counts().get('op')).toBe(2);
  now = 1_500;
  expect(waiting.counts().get('op')).toBe(1);
  waiting.done('b');
  expect(waiting.counts().get('op')).toBeUndefined();
});
