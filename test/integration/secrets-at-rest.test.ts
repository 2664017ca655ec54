// Secrets do not rest in NATS (DESIGN, "Trust at the edges"): after an SMS payment confirmed with a
// one-time code, one confirmed with the PIN, and USSD payments confirmed with the PIN over both edges
// (the SMPP one keeps its path in KV), a PIN change over SMPP, and after a subscriber's PIN and code
// were dead-lettered, no stream, KV bucket (every revision kept) or dead letter holds a PIN or a
// code: not in the raw bytes, the headers or the subject, and not in the decoded protobuf.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../services/billing/index.js';
import { connectNats, eventBySubject, DLQ_STREAM, Events, type NatsHandle } from '../../runtime/nats/index.js';
import { hashSecret } from '../../runtime/secrets.js';
import { startPaymentsStack, type PaymentsStack } from '../support/payments-stack.js';
import { readStored } from '../support/streams.js';
import { quietLogger, waitFor } from '../support/stack.js';
import { UssdPhone } from '../support/ussd-phone.js';

const SMS_PIN = '3579';
const USSD_PIN_SMPP = '8642';
const USSD_PIN_HTTP = '7531';
const NEW_PIN_SMPP = '2580';
const MAIN = 'dialpay\n1 Pay merchant\n2 Send money\n3 Buy airtime\n4 My account\n5 Withdraw cash';

let p: PaymentsStack;
let nats: NatsHandle;
let ussdPort: number;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n });
const log = quietLogger();

beforeAll(async () => {
  p = await startPaymentsStack(carrier, (raw) => {
    // Dead letters come fast: one retry, shortly after.
    raw.consumers.deliveriesMax = 2;
    raw.consumers.retryDelaysMs = [200];
    ussdPort = raw.ussd.http.port;
  });
  nats = await connectNats({ url: p.stack.nats.url, name: 'secrets-test', connectTimeoutMs: 5_000, reconnectWaitMs: 200, reconnectAttemptsMax: 5, publishTimeoutMs: 5_000 }, log);
});
afterAll(async () => {
  await nats?.close();
  await p?.cleanup();
});

/**
 * A USSD dialogue over the SMPP link (ussd_service_op): the edge sends only the newest answer,
 * so the ussd service keeps the path in KV.
 */
async function smppUssd(msisdn: string, answers: readonly string[]): Promise<string> {
  const dialled = await p.sim.ussdDial(msisdn, '*384#');
  if (dialled.status !== 0) throw new Error(`dial answered ${dialled.status}`);
  let screen = await p.sim.nextUssdScreen(msisdn, dialled.sessionNumber, 10_000);
  for (const answer of answers) {
    if (screen.end) throw new Error(`session ended before "${answer}": ${screen.text}`);
    const status = await p.sim.ussdAnswer(msisdn, dialled.sessionNumber, answer);
    if (status !== 0) throw new Error(`answer answered ${status}`);
    screen = await p.sim.nextUssdScreen(msisdn, dialled.sessionNumber, 10_000);
  }
  return screen.text;
}

const smsTo = (phone: string) => p.sim.submitted.filter((m) => m.destination === phone).map((m) => m.text);

/**
 * Where a secret shows as itself: not inside a longer number, nor as a group of a UUID or hex id
 * ("-3579-") or a base64url key, which a random id matches now and then.
 */
const standalone = (secret: string) => new RegExp(`(?<![0-9A-Za-z_-])${secret}(?![0-9A-Za-z_-])`);

/** Every place in NATS that holds `secret`: stream, sequence, subject. */
async function whereHeld(secrets: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  const streams: string[] = [];
  for await (const s of nats.jsm.streams.list()) streams.push(s.config.name);
  expect(streams).toEqual(expect.arrayContaining(['SMS_INBOUND', 'SMS_OUTBOUND', DLQ_STREAM, 'KV_ussd_sessions']));
  for (const stream of streams) {
    for (const m of await readStored(nats, stream)) {
      // A dead letter decodes as the event of its original subject.
      const originalSubject = /Dialpay-Original-Subject: (\S+)/.exec(m.headers)?.[1];
      const def = eventBySubject(originalSubject ?? m.subject);
      let decoded = '';
      try {
        decoded = def ? JSON.stringify(def.type.decode(m.data), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) : '';
      } catch {
        decoded = '(undecodable)';
      }
      const haystack = [m.subject, m.headers, Buffer.from(m.data).toString('utf8'), Buffer.from(m.data).toString('latin1'), decoded].join('\n');
      for (const secret of secrets) if (standalone(secret).test(haystack)) found.push(`${secret} in ${stream} #${m.seq} (${m.subject})`);
    }
  }
  return found;
}

it('no stream, KV bucket or dead letter holds a PIN or a one-time code once the payments are done', async () => {
  const { pool, ask } = p;

  // 1. SMS, confirmed with a one-time code.
  const codePhone = '254712000001';
  const challenge = await ask(codePhone, 'PAY SHOP42 500');
  const code = /YES (\d{4,8})/.exec(challenge)?.[1];
  if (!code) throw new Error(`no code in: ${challenge}`);
  expect(await ask(codePhone, `YES ${code}`)).toMatch(/^Paid 500\.00 KES/);

  // 2. SMS, confirmed with the PIN (above the PIN threshold), once wrong first.
  const pinPhone = '254712000002';
  await pool.query('INSERT INTO payments.subscribers (msisdn, pin_hash) VALUES ($1, $2)', [pinPhone, await hashSecret(SMS_PIN)]);
  expect(await ask(pinPhone, 'PAY SHOP42 2000')).toMatch(/Reply with your PIN/);
  expect(await ask(pinPhone, '9753')).toMatch(/^Wrong code/);
  expect(await ask(pinPhone, SMS_PIN)).toMatch(/^Paid 2,000\.00 KES/);

  // 3. USSD over SMPP: the PIN chosen (typed twice), then a payment confirmed with it after one wrong try.
  const smppPhone = '254712000003';
  expect(await smppUssd(smppPhone, [USSD_PIN_SMPP, USSD_PIN_SMPP])).toBe(`PIN saved.\n${MAIN}`);
  expect(await smppUssd(smppPhone, ['1', 'SHOP42', '30', 'r1', '1357'])).toMatch(/Wrong PIN/);
  expect(await smppUssd(smppPhone, ['1', 'SHOP42', '30', 'r2', USSD_PIN_SMPP, '1'])).toBe('Payment submitted. You will get an SMS with the result.');
  // ... and the PIN changed (current, new, new again: kept only until the change is made).
  expect(await smppUssd(smppPhone, ['4', '3', USSD_PIN_SMPP, NEW_PIN_SMPP, NEW_PIN_SMPP])).toBe('PIN changed.');

  // ... and a PIN change left after the current PIN, released by the network: its session goes at once.
  const changing = await p.sim.ussdDial(smppPhone, '*384#');
  await p.sim.nextUssdScreen(smppPhone, changing.sessionNumber, 10_000);
  for (const answer of ['4', '3', NEW_PIN_SMPP, USSD_PIN_SMPP]) {
    expect(await p.sim.ussdAnswer(smppPhone, changing.sessionNumber, answer)).toBe(0);
    await p.sim.nextUssdScreen(smppPhone, changing.sessionNumber, 10_000);
  }
  // Mid-change, the current and the new PIN wait for the repeat: sealed in KV, never in clear.
  const session = await readStored(nats, 'KV_ussd_sessions');
  expect(session.some((m) => Buffer.from(m.data).toString('utf8').includes('<sealed:'))).toBe(true);
  expect(await whereHeld([NEW_PIN_SMPP, USSD_PIN_SMPP])).toEqual([]);
  expect(await p.sim.ussdAbort(smppPhone, changing.sessionNumber)).toBe(0);
  await waitFor('the released session gone from KV', async () => (await readStored(nats, 'KV_ussd_sessions')).every((m) => !Buffer.from(m.data).toString('utf8').includes('<sealed:')));

  // 4. USSD over HTTP: the aggregator sends the whole path; still nothing of it is kept.
  const httpPhone = '254712000004';
  const http = new UssdPhone(ussdPort, httpPhone);
  await http.dial();
  expect((await http.answer(USSD_PIN_HTTP, USSD_PIN_HTTP)).text).toBe(`PIN saved.\n${MAIN}`);
  const pay = new UssdPhone(ussdPort, httpPhone);
  await pay.dial();
  expect((await pay.answer('1', 'SHOP42', '30', 'r3', USSD_PIN_HTTP, '1')).text).toBe('Payment submitted. You will get an SMS with the result.');
  await waitFor('both USSD receipts', async () => smsTo(smppPhone).some((t) => t.startsWith('Paid 30.00 KES')) && smsTo(httpPhone).some((t) => t.startsWith('Paid 30.00 KES')));

  // 5. A PIN and a code that payments cannot handle go to the dead letters (the table it records them in refuses).
  await pool.query(`CREATE FUNCTION public.refuse_inbound() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'inbound refused by the test'; END $$`);
  await pool.query(`CREATE TRIGGER refuse_inbound BEFORE INSERT ON payments.processed_events FOR EACH ROW WHEN (NEW.consumer = 'payments-sms-inbound') EXECUTE FUNCTION public.refuse_inbound()`);
  const deadBefore = (await nats.jsm.streams.info(DLQ_STREAM)).state.messages;
  await p.sim.sendFromPhone(pinPhone, '384', SMS_PIN);
  await p.sim.sendFromPhone(codePhone, '384', `yes ${code}`);
  await waitFor('two dead letters', async () => (await nats.jsm.streams.info(DLQ_STREAM)).state.messages - deadBefore === 2);
  await pool.query('DROP TRIGGER refuse_inbound ON payments.processed_events');
  const letters = (await readStored(nats, DLQ_STREAM)).filter((m) => m.subject === 'dialpay.dlq.SMS_INBOUND.payments-sms-inbound');
  // They are there for a person to read, who and when, with the secret masked.
  expect(letters.map((m) => Events.smsInbound.type.decode(m.data)).map((e) => [e.fromMsisdn, e.text]).sort()).toEqual([[codePhone, 'yes ****'], [pinPhone, '****']]);

  // Every consumer done: what is still in flight is not at rest.
  await waitFor('SMS streams drained', async () => {
    const [inbound, outbound] = await Promise.all([nats.jsm.consumers.info('SMS_INBOUND', 'payments-sms-inbound'), nats.jsm.consumers.info('SMS_OUTBOUND', 'gateway-sms-outbound')]);
    return inbound.num_pending + inbound.num_ack_pending + outbound.num_pending + outbound.num_ack_pending === 0;
  });
  // Handled texts and sent challenges have left their streams.
  expect((await nats.jsm.streams.info('SMS_INBOUND')).state.messages).toBe(0);
  expect((await nats.jsm.streams.info('SMS_OUTBOUND')).state.messages).toBe(0);
  // The SMPP dialogues' sessions are still in KV (their TTL is minutes), with their paths.
  expect((await readStored(nats, 'KV_ussd_sessions')).length).toBeGreaterThan(0);

  expect(await whereHeld([code, SMS_PIN, USSD_PIN_SMPP, NEW_PIN_SMPP, USSD_PIN_HTTP, '9753', '1357'])).toEqual([]);
});
