// The NATS layer against a real nats-server: provisioning is idempotent,
// Nats-Msg-Id dedups, handlers get decoded messages, failures are retried with
// a delay and end in the dead-letter stream, undecodable bytes go there at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, provisionTopology, provisionTopologyWithRetry, publishEvent, startConsumer, newEnvelope, Events, DLQ_STREAM, PermanentHandlerError, RetryLaterError, PubAckMux, PubAckError, replyMuxFor, ReplyError, deadLetters, replayDeadLetters, summariseDeadLetters, ConsumerMetrics, type NatsHandle, type Topology, type ConsumerSpec } from '../../runtime/nats/index.js';
import { TOPOLOGY } from '../../cli/components.js';
import { GATEWAY_SMS_OUTBOUND } from '../../gateway/consumers.js';
import { Registry } from '../../runtime/metrics.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../../runtime/engines/index.js';
import { validateConfig } from '../../cli/config.js';
import { redactCodesForDeadLetter } from '../../gateway/smpp/outbound.js';
import { exampleConfigRaw, quietLogger, waitFor } from '../support/stack.js';
import { createLogger } from '../../runtime/log.js';

const log = process.env.DEBUG_TEST ? createLogger({ level: 'debug' }) : quietLogger();
let server: NatsServerHandle;
let nats: NatsHandle;

const spec = (durableName: string, deliveriesMax = 3): ConsumerSpec => ({
  stream: 'SMS_INBOUND',
  durableName,
  filterSubject: Events.smsInbound.subject,
  ackWaitMs: 5_000,
  deliveriesMax,
  ackPendingMax: 100,
  // Several consumers share this suite's limits SMS_INBOUND: none may erase what another still reads.
  deleteAfterAck: false,
});

function inbound(text: string, eventId?: string) {
  return {
    envelope: newEnvelope({ producer: 'test', eventId }),
    operatorId: 'safaricom-ke',
    fromMsisdn: '254712345678',
    toAddress: '384',
    text,
    smscMessageId: 'm1',
    bindId: 'b0',
  };
}

/**
 * The consumer layer is exercised here with several consumers on SMS_INBOUND at once; a work queue
 * takes one per subject, so this suite makes it a limits stream. Its real retention is checked below
 * and end to end in secrets-at-rest.test.ts.
 */
const LAYER_TOPOLOGY: Topology = { ...TOPOLOGY, streams: TOPOLOGY.streams.map((s) => (s.name === 'SMS_INBOUND' ? { ...s, retention: undefined } : s)) };

beforeAll(async () => {
  server = await startNatsServer();
  nats = await connectNats({ url: server.url, name: 'test', connectTimeoutMs: 5_000, reconnectWaitMs: 200, reconnectAttemptsMax: -1, publishTimeoutMs: 5_000 }, log);
  await provisionTopology(nats, LAYER_TOPOLOGY, 1, log);
});
afterAll(async () => {
  await nats?.close();
  await server?.stop();
});

describe('NATS layer', () => {
  it('provisions the declared streams and buckets, and running it twice changes nothing', async () => {
    const topology: Topology = { ...LAYER_TOPOLOGY, consumers: [spec('idempotent-check')] };
    await provisionTopology(nats, topology, 1, log);
    await provisionTopology(nats, topology, 1, log);
    const names: string[] = [];
    for await (const s of nats.jsm.streams.list()) names.push(s.config.name);
    for (const s of TOPOLOGY.streams) expect(names).toContain(s.name);
    expect(names).toContain('KV_ussd_sessions');
    const info = await nats.jsm.streams.info('SMS_INBOUND');
    expect(info.config.discard).toBe('new');
    expect(info.config.max_bytes).toBeGreaterThan(0);
    const consumer = await nats.jsm.consumers.info('SMS_INBOUND', 'idempotent-check');
    expect(consumer.config.ack_policy).toBe('explicit');
    expect(consumer.config.max_deliver).toBe(3);
  });

  it('drops a re-publish with the same event id (Nats-Msg-Id)', async () => {
    const message = inbound('BAL');
    const first = await publishEvent(nats.js, Events.smsInbound, message, { timeoutMs: 5_000 });
    const second = await publishEvent(nats.js, Events.smsInbound, message, { timeoutMs: 5_000 });
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    expect(second.streamSequence).toBe(first.streamSequence);
  });

  it('hands decoded messages to the handler, retries failures, then dead-letters', async () => {
    await provisionTopology(nats, { streams: [], kvBuckets: [], consumers: [spec('retry-check', 3)] }, 1, log);
    const registry = new Registry();
    const metrics = new ConsumerMetrics(registry);
    const seen: { text: string; delivery: number }[] = [];
    const running = await startConsumer({
      nats,
      spec: spec('retry-check', 3),
      event: Events.smsInbound,
      log,
      metrics,
      inFlightMax: 4,
      retryDelaysMs: [100],
      publishTimeoutMs: 5_000,
      handler: async (msg, ctx) => {
        seen.push({ text: msg.text ?? '', delivery: ctx.deliveryCount });
        if (msg.text === 'FAIL') throw new Error('downstream unavailable');
      },
    });
    const dlqBefore = (await nats.jsm.streams.info(DLQ_STREAM)).state.messages;
    await publishEvent(nats.js, Events.smsInbound, inbound('HELP'), { timeoutMs: 5_000 });
    await publishEvent(nats.js, Events.smsInbound, inbound('FAIL'), { timeoutMs: 5_000 });
    // Raw bytes that are not an SmsInbound go to the dead-letter stream without reaching the handler.
    await nats.js.publish(Events.smsInbound.subject, new Uint8Array([0xff, 0xff, 0xff]), { msgID: 'garbage-1' });
    // The counter moves once a dead letter is stored and the original terminated, a moment after the DLQ shows it.
    const deadLettered = async () => /outcome="dead_lettered"[^\n]* 2/.test(await registry.getSingleMetricAsString('dialpay_nats_messages_handled_total'));
    await waitFor('three attempts and two dead letters', async () => {
      const dlq = (await nats.jsm.streams.info(DLQ_STREAM)).state.messages;
      return seen.filter((s) => s.text === 'FAIL').length === 3 && dlq - dlqBefore === 2 && (await deadLettered());
    });
    expect(seen.filter((s) => s.text === 'FAIL').map((s) => s.delivery)).toEqual([1, 2, 3]);
    expect(seen.some((s) => s.text === 'HELP')).toBe(true);
    const dead = await nats.jsm.streams.getMessage(DLQ_STREAM, { last_by_subj: `dialpay.dlq.SMS_INBOUND.retry-check` });
    expect(dead?.header.get('Dialpay-Consumer')).toBe('retry-check');
    const text = await registry.getSingleMetricAsString('dialpay_nats_messages_handled_total');
    expect(text).toMatch(/outcome="dead_lettered"[^\n]* 2/);
    expect(text).toMatch(/outcome="retried"[^\n]* 2/);
    await running.stop(2_000);
    await waitFor('nothing left ack-pending', async () => (await nats.jsm.consumers.info('SMS_INBOUND', 'retry-check')).num_ack_pending === 0);
  });

  it('declares both SMS streams work queues: a subscriber\'s text (a PIN, a code) and a challenge stay only until handled', () => {
    const retention = (name: string) => TOPOLOGY.streams.find((s) => s.name === name)?.retention;
    expect(retention('SMS_INBOUND')).toBe('workqueue');
    expect(retention('SMS_OUTBOUND')).toBe('workqueue');
    // One consumer each, as a work queue requires.
    expect(TOPOLOGY.consumers.filter((c) => c.stream === 'SMS_INBOUND').map((c) => c.durableName)).toEqual(['payments-sms-inbound']);
    expect(TOPOLOGY.consumers.filter((c) => c.stream === 'SMS_OUTBOUND').map((c) => c.durableName)).toEqual(['gateway-sms-outbound']);
  });

  it('keeps an outbound SMS (a one-time code) only until it is sent or dead-lettered: SMS_OUTBOUND is a work queue', async () => {
    const info = await nats.jsm.streams.info('SMS_OUTBOUND');
    expect(info.config.retention).toBe('workqueue');
    const handled: string[] = [];
    const running = await startConsumer({
      nats, spec: GATEWAY_SMS_OUTBOUND, event: Events.smsOutbound, log, metrics: new ConsumerMetrics(new Registry()),
      inFlightMax: 4, retryDelaysMs: [100], publishTimeoutMs: 5_000, deadLetterData: redactCodesForDeadLetter,
      handler: async (msg) => {
        handled.push(msg.text ?? '');
        if (msg.text?.startsWith('UNSENDABLE')) throw new PermanentHandlerError('the SMSC refused it for good');
      },
    });
    try {
      // The code marked as its writer marks it (secret_spans), in a wording the gateway has never seen.
      const outbound = (text: string, code: string) => ({
        envelope: newEnvelope({ producer: 'test' }), messageRef: `ref-${text}`, operatorId: 'safaricom-ke', toMsisdn: '254712345678', fromAddress: '384', text,
        secretSpans: [{ start: text.indexOf(code), length: code.length }],
      });
      await publishEvent(nats.js, Events.smsOutbound, outbound('Reply YES 4821 within 2 min', '4821'), { timeoutMs: 5_000 });
      await publishEvent(nats.js, Events.smsOutbound, outbound('UNSENDABLE: your code is 9330', '9330'), { timeoutMs: 5_000 });
      await waitFor('both handled and the stream empty', async () => handled.length === 2 && (await nats.jsm.streams.info('SMS_OUTBOUND')).state.messages === 0);
      // The one that failed for good is in the dead-letter stream, for a person to look at, its code masked.
      const dead = await nats.jsm.streams.getMessage(DLQ_STREAM, { last_by_subj: `dialpay.dlq.SMS_OUTBOUND.${GATEWAY_SMS_OUTBOUND.durableName}` });
      if (!dead) throw new Error('no dead letter for gateway-sms-outbound');
      expect(Events.smsOutbound.type.decode(dead.data).text).toBe('UNSENDABLE: your code is ****');
    } finally {
      await running.stop(2_000);
    }
  });

  it('a consumer with waits naks a RetryLaterError uncounted, as often as it comes, and still dead-letters after deliveriesMax real failures', async () => {
    const waitsSpec: ConsumerSpec = { ...spec('waits-check', 3), waitsUnbounded: true };
    await provisionTopology(nats, { streams: [], kvBuckets: [], consumers: [waitsSpec] }, 1, log);
    expect((await nats.jsm.consumers.info('SMS_INBOUND', 'waits-check')).config.max_deliver).toBe(-1);
    const deliveries: number[] = [];
    const registry = new Registry();
    const metrics = new ConsumerMetrics(registry);
    const running = await startConsumer({
      nats, spec: waitsSpec, event: Events.smsInbound, log, metrics, inFlightMax: 4, retryDelaysMs: [50], publishTimeoutMs: 5_000,
      handler: async (msg, context) => {
        if (msg.text !== 'WAIT THEN FAIL') return;
        deliveries.push(context.deliveryCount);
        // Six waits (twice deliveriesMax), a real failure between them, then real failures only.
        if (context.deliveryCount === 2) throw new Error('broken once');
        if (context.deliveryCount <= 7) throw new RetryLaterError('no bind yet', 20);
        throw new Error('broken for good');
      },
    });
    try {
      await publishEvent(nats.js, Events.smsInbound, inbound('WAIT THEN FAIL'), { timeoutMs: 5_000 });
      const letter = await waitFor('the dead letter', async () => {
        for await (const l of deadLetters(nats, { consumer: 'waits-check' })) if (l.error === 'broken for good') return l;
        return null;
      });
      // Deliveries 1, 3-7 waited; 2, 8 and 9 failed: the third failure is the last.
      expect(letter.deliveries).toBe(9);
      expect(deliveries).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const handled = (await metrics.handled.get()).values.filter((v) => v.labels.consumer === 'waits-check');
      const count = (outcome: string) => handled.find((v) => v.labels.outcome === outcome)?.value;
      // (dead_lettered also counts earlier tests' undecodable bytes: this new consumer reads SMS_INBOUND from the start.)
      expect([count('waited'), count('retried')]).toEqual([6, 2]);
    } finally {
      await running.stop(2_000);
    }
  });

  it('a consumer with waits whose live max_deliver an older release set counts waits as failures, as before', async () => {
    const waitsSpec: ConsumerSpec = { ...spec('waits-old', 3), waitsUnbounded: true };
    // As an older release provisioned it: max_deliver 3.
    await provisionTopology(nats, { streams: [], kvBuckets: [], consumers: [{ ...waitsSpec, waitsUnbounded: false }] }, 1, log);
    const deliveries: number[] = [];
    const running = await startConsumer({
      nats, spec: waitsSpec, event: Events.smsInbound, log, metrics: new ConsumerMetrics(new Registry()),
      inFlightMax: 4, retryDelaysMs: [50], publishTimeoutMs: 5_000,
      handler: async (msg, context) => {
        if (msg.text !== 'WAIT FOREVER') return;
        deliveries.push(context.deliveryCount);
        throw new RetryLaterError('no bind yet', 20);
      },
    });
    try {
      await publishEvent(nats.js, Events.smsInbound, inbound('WAIT FOREVER'), { timeoutMs: 5_000 });
      const letter = await waitFor('the dead letter', async () => {
        for await (const l of deadLetters(nats, { consumer: 'waits-old' })) if (l.error === 'no bind yet') return l;
        return null;
      });
      expect(letter.deliveries).toBe(3);
      expect(deliveries).toEqual([1, 2, 3]);
    } finally {
      await running.stop(2_000);
    }
  });

  it('replays a consumer\'s dead letters once the cause is fixed: the handler gets the same event, the DLQ lets it go', async () => {
    await provisionTopology(nats, { streams: [], kvBuckets: [], consumers: [spec('replay-check')] }, 1, log);
    let broken = true;
    const handled: { text: string; eventId: string }[] = [];
    const running = await startConsumer({
      nats, spec: spec('replay-check'), event: Events.smsInbound, log, metrics: new ConsumerMetrics(new Registry()),
      inFlightMax: 4, retryDelaysMs: [100], publishTimeoutMs: 5_000,
      handler: async (msg) => {
        if (msg.text === 'REPLAY ME' && broken) throw new PermanentHandlerError('a constraint said no');
        handled.push({ text: msg.text ?? '', eventId: msg.envelope?.eventId ?? '' });
      },
    });
    try {
      const message = inbound('REPLAY ME');
      // This new consumer reads SMS_INBOUND from the start, so earlier tests' undecodable bytes are dead-lettered by it too.
      const ours = async () => {
        const letters = [];
        for await (const l of deadLetters(nats, { consumer: 'replay-check' })) if (l.error === 'a constraint said no') letters.push(l);
        return letters;
      };
      await publishEvent(nats.js, Events.smsInbound, message, { timeoutMs: 5_000 });
      await waitFor('the dead letter', async () => (await ours()).length === 1);
      expect((await ours())[0]).toMatchObject({ consumer: 'replay-check', originalSubject: 'dialpay.sms.inbound', deliveries: 1 });
      expect((await summariseDeadLetters(nats)).find((s) => s.consumer === 'replay-check')?.count).toBeGreaterThanOrEqual(1);
      broken = false;
      // Another consumer's dead letters stay where they are.
      const othersBefore = (await summariseDeadLetters(nats)).filter((s) => s.consumer !== 'replay-check');
      expect(await replayDeadLetters(nats, { consumer: 'replay-check', timeoutMs: 5_000 })).toBeGreaterThanOrEqual(1);
      await waitFor('the replayed message handled', async () => handled.some((h) => h.text === 'REPLAY ME'));
      expect(handled.filter((h) => h.text === 'REPLAY ME')).toEqual([{ text: 'REPLAY ME', eventId: message.envelope.eventId }]);
      expect(await ours()).toEqual([]);
      expect((await summariseDeadLetters(nats)).filter((s) => s.consumer !== 'replay-check')).toEqual(othersBefore);
    } finally {
      await running.stop(2_000);
    }
  });

  it('the PubAck mux publishes durably: sequence, duplicate by event id, refusals and timeouts named', async () => {
    const { headers } = await import('@nats-io/transport-node');
    const mux = new PubAckMux(nats.nc);
    const options = (msgID: string, timeout = 5_000) => ({ msgID, timeout, headers: headers() });
    try {
      const bytes = Events.smsInbound.type.encode(inbound('MUX')).finish();
      const first = await mux.publish(Events.smsInbound.subject, bytes, options('mux-1'));
      expect(first).toMatchObject({ stream: 'SMS_INBOUND', duplicate: false });
      const stored = await nats.jsm.streams.getMessage('SMS_INBOUND', { seq: first.seq });
      if (!stored) throw new Error('the published message is not in SMS_INBOUND');
      expect(Events.smsInbound.type.decode(stored.data).text).toBe('MUX');
      expect(stored.header.get('Nats-Msg-Id')).toBe('mux-1');
      expect(await mux.publish(Events.smsInbound.subject, bytes, options('mux-1'))).toEqual({ ...first, duplicate: true });
      // Many at once, each answered with its own sequence.
      const many = await Promise.all(Array.from({ length: 500 }, (_, i) => mux.publish(Events.smsInbound.subject, bytes, options(`mux-many-${i}`))));
      expect(new Set(many.map((a) => a.seq)).size).toBe(500);
      // No stream on the subject: no responders.
      await expect(mux.publish('test.nostream', bytes, options('x'))).rejects.toMatchObject({ name: 'PubAckError', code: 503 });
      // A stream that refuses: over its message size.
      await provisionTopology(nats, { streams: [{ name: 'TINY', subjects: ['test.tiny'], maxAgeMs: 60_000, bytesMax: 1024 * 1024, messagesMax: 100, messageBytesMax: 16, duplicateWindowMs: 1_000 }], consumers: [], kvBuckets: [] }, 1, log);
      const refused = await mux.publish('test.tiny', new Uint8Array(64), options('big')).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(PubAckError);
      expect((refused as Error).message).toMatch(/maximum|size/i);
      // Something answers nothing: the publish times out, and a late answer is ignored.
      const silent = nats.nc.subscribe('test.silent');
      const started = performance.now();
      await expect(mux.publish('test.silent', bytes, options('s', 300))).rejects.toMatchObject({ code: 408, message: 'no PubAck in time' });
      expect(performance.now() - started).toBeGreaterThanOrEqual(300);
      silent.unsubscribe();
      expect(replyMuxFor(nats.nc).pendingCount).toBe(0);
    } finally {
      mux.close();
    }
    await expect(mux.publish(Events.smsInbound.subject, new Uint8Array(1), options('after-close'))).resolves.toMatchObject({ stream: 'SMS_INBOUND' });
    mux.close();
  });

  it('one reply mux per connection answers core requests: replies matched to their request, no responders and timeouts named', async () => {
    const mux = replyMuxFor(nats.nc);
    expect(replyMuxFor(nats.nc)).toBe(mux);
    const echo = nats.nc.subscribe('test.echo', { callback: (_err, msg) => void setTimeout(() => msg.respond(new TextEncoder().encode(`re:${msg.string()}`)), Math.random() * 20) });
    try {
      // Answered out of order, each still reaches its own caller.
      const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => mux.request('test.echo', new TextEncoder().encode(String(i)), { timeoutMs: 5_000 }).then((m) => m.string())));
      expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => `re:${i}`));
      const none = await mux.request('test.nobody', new Uint8Array(0), { timeoutMs: 5_000 }).catch((err: unknown) => err);
      expect(none).toBeInstanceOf(ReplyError);
      expect(none).toMatchObject({ code: 503, message: 'no responders on test.nobody' });
      const silent = nats.nc.subscribe('test.mute');
      await expect(mux.request('test.mute', new Uint8Array(0), { timeoutMs: 200 })).rejects.toMatchObject({ code: 408, message: 'no reply on test.mute in time' });
      silent.unsubscribe();
      expect(mux.pendingCount).toBe(0);
    } finally {
      echo.unsubscribe();
    }
  });

  it('a stream made before it became a work queue keeps starting: its retention stays, the rest is updated', async () => {
    const old = { name: 'RETENTION_CHECK', subjects: ['test.retention'], maxAgeMs: 60_000, bytesMax: 1024 * 1024, messagesMax: 100, messageBytesMax: 1024, duplicateWindowMs: 1_000 };
    await provisionTopology(nats, { streams: [old], consumers: [], kvBuckets: [] }, 1, log);
    await provisionTopology(nats, { streams: [{ ...old, messagesMax: 200, retention: 'workqueue' }], consumers: [], kvBuckets: [] }, 1, log);
    const { config } = await nats.jsm.streams.info('RETENTION_CHECK');
    expect(config.retention).toBe('limits');
    expect(config.max_msgs).toBe(200);
  });

  it('exports the consumer backlog (num_pending) read from JetStream at scrape time, until stopped', async () => {
    await provisionTopology(nats, { streams: [], kvBuckets: [], consumers: [spec('lag-check')] }, 1, log);
    const registry = new Registry();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const running = await startConsumer({
      nats, spec: spec('lag-check'), event: Events.smsInbound, log, metrics: new ConsumerMetrics(registry),
      inFlightMax: 1, retryDelaysMs: [100], publishTimeoutMs: 5_000,
      handler: () => released,
    });
    const pending = async () => /dialpay_nats_consumer_pending_messages\{consumer="lag-check"\} (\d+)/.exec(await registry.metrics())?.[1];
    try {
      for (let i = 0; i < 5; i++) await publishEvent(nats.js, Events.smsInbound, inbound(`LAG ${i}`), { timeoutMs: 5_000 });
      // One message is with the stuck handler; the rest (and what earlier tests left in the stream) wait.
      await waitFor('the gauge showing the server\'s backlog', async () => {
        const serverPending = (await nats.jsm.consumers.info('SMS_INBOUND', 'lag-check')).num_pending;
        return serverPending >= 4 && (await pending()) === String(serverPending);
      });
      release();
      await waitFor('the backlog drained', async () => (await pending()) === '0');
    } finally {
      release();
      await running.stop(2_000);
    }
    expect(await pending()).toBeUndefined();
  });

  it('stop() lets an in-flight handler finish and ack before it returns', async () => {
    await provisionTopology(nats, { streams: [], kvBuckets: [], consumers: [spec('drain-check')] }, 1, log);
    let finished = false;
    let startedHandling!: () => void;
    const handling = new Promise<void>((resolve) => (startedHandling = resolve));
    const running = await startConsumer({
      nats,
      spec: spec('drain-check'),
      event: Events.smsInbound,
      log,
      metrics: new ConsumerMetrics(new Registry()),
      inFlightMax: 4,
      retryDelaysMs: [100],
      publishTimeoutMs: 5_000,
      handler: async () => {
        startedHandling();
        await new Promise((r) => setTimeout(r, 400));
        finished = true;
      },
    });
    await publishEvent(nats.js, Events.smsInbound, inbound('SLOW'), { timeoutMs: 5_000 });
    await handling;
    await running.stop(5_000);
    expect(finished).toBe(true);
    expect(running.inFlight()).toBe(0);
    await waitFor('every pulled message acked or terminated', async () => (await nats.jsm.consumers.info('SMS_INBOUND', 'drain-check')).num_ack_pending === 0);
  });

  it('keeps publishing through a nats-server restart once it is back', async () => {
    await server.stop();
    await expect(publishEvent(nats.js, Events.smsInbound, inbound('DOWN'), { timeoutMs: 500 })).rejects.toThrow(/publish to dialpay.sms.inbound failed/);
    await server.restart();
    await waitFor('reconnect', async () => nats.connected());
    const result = await waitFor('publish after restart', async () =>
      publishEvent(nats.js, Events.smsInbound, inbound('UP'), { timeoutMs: 2_000 }).catch(() => null),
    );
    expect(result.duplicate).toBe(false);
  });

  it('provisioning tries again while JetStream does not answer, and succeeds once it does', async () => {
    const warnings: string[] = [];
    const watching = createLogger({ level: 'warn', destination: { write: (line: string) => warnings.push(line) } });
    const probe = { name: 'RETRY_CHECK', subjects: ['test.retry'], maxAgeMs: 60_000, bytesMax: 1024 * 1024, messagesMax: 100, messageBytesMax: 1024, duplicateWindowMs: 1_000 };
    await server.stop();
    const provisioning = provisionTopologyWithRetry(nats, { streams: [probe], consumers: [], kvBuckets: [] }, 1, watching,
      { attemptsMax: 20, delayMsMin: 200, delayMsMax: 500 });
    await waitFor('a failed attempt', async () => warnings.some((l) => l.includes('provisioning the JetStream topology failed; trying again')), 30_000);
    await server.restart();
    await provisioning;
    expect((await nats.jsm.streams.info('RETRY_CHECK')).config.subjects).toEqual(['test.retry']);
    // A permanent error (a subject another stream already takes) fails at once, with no retry.
    const warningsBefore = warnings.length;
    await expect(provisionTopologyWithRetry(nats, { streams: [{ ...probe, name: 'RETRY_CLASH' }], consumers: [], kvBuckets: [] }, 1, watching, { attemptsMax: 20, delayMsMin: 200, delayMsMax: 500 })).rejects.toThrow(/overlap/i);
    expect(warnings.length).toBe(warningsBefore);
    // With no attempts left, the error comes through.
    await server.stop();
    await expect(provisionTopologyWithRetry(nats, { streams: [probe], consumers: [], kvBuckets: [] }, 1, watching,
      { attemptsMax: 2, delayMsMin: 50, delayMsMax: 50 })).rejects.toThrow();
    await server.restart();
    await waitFor('reconnect', async () => nats.connected());
  }, 60_000);

  it('takes several seed URLs and connects through whichever answers; credentials never reach the log', async () => {
    const lines: string[] = [];
    const watching = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } });
    const deadPort = await freePort();
    const url = `nats://user:hunter2@127.0.0.1:${deadPort}, ${server.url}`;
    const config = validateConfig({ ...exampleConfigRaw(), nats: { url } });
    expect(config.nats.url).toBe(url);
    expect(() => validateConfig({ ...exampleConfigRaw(), nats: { url: 'nats://a:4222,http://b' } })).toThrow(/nats\.url/);
    const handle = await connectNats({ ...config.nats, name: 'seeds' }, watching);
    try {
      expect(handle.connected()).toBe(true);
      expect((await handle.jsm.streams.info('SMS_INBOUND')).config.name).toBe('SMS_INBOUND');
    } finally {
      await handle.close();
    }
    expect(lines.join('')).not.toContain('hunter2');
    expect(lines.join('')).toContain('nats://***@127.0.0.1');
  });
});
