// An upgraded deployment: SMS_INBOUND and SMS_OUTBOUND were made by an older release with limits
// retention, which JetStream cannot change in place. Their consumers see that at start and erase
// each message once handled, so after an SMS payment confirmed with the PIN, one confirmed with a
// code, and a PIN that was dead-lettered, neither stream holds a PIN or a code, and the dead letter
// holds it masked. A PIN the older release handled before the upgrade (acked, never erased) is
// erased too, when the consumer starts. Under the authorization block deploy/ ships: each component as its own user may
// read its stream's retention and erase from it, and nothing is refused.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../services/billing/index.js';
import { connectNats, DLQ_STREAM, Events, natsOptionsFor, newEnvelope, STREAMS, type NatsHandle } from '../../runtime/nats/index.js';
import { PAYMENTS_SMS_INBOUND } from '../../services/payments/consumers.js';
import { natsPasswordEnv, natsServerAuthorization } from '../../runtime/nats/permissions.js';
import { COMPONENTS } from '../../cli/components.js';
import { NATS_IDENTITIES, type Config, type NatsIdentity } from '../../runtime/config/index.js';
import { validateConfig } from '../../cli/config.js';
import { consumerConfig, streamConfig } from '../../runtime/nats/provision.js';
import { hashSecret } from '../../runtime/secrets.js';
import { startPaymentsStack, type PaymentsStack } from '../support/payments-stack.js';
import { readStored } from '../support/streams.js';
import { quietLogger, waitFor } from '../support/stack.js';

const PIN = '3579';
const DEAD_PIN = '8642';
/** Sent and handled before the upgrade, by a release that did not erase. */
const OLD_PIN = '2468';
const SMS_STREAMS = ['SMS_INBOUND', 'SMS_OUTBOUND'] as const;

let p: PaymentsStack;
let nats: NatsHandle;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n });
const log = quietLogger();
const passwords = Object.fromEntries(NATS_IDENTITIES.map((id) => [id, `pw-${randomBytes(12).toString('hex')}`])) as Record<NatsIdentity, string>;
let config: Config;
const connectAdmin = () => connectNats(natsOptionsFor(config.nats, 'admin', 'old-streams-test'), log);

/** The SMS streams as a release before the work queues made them: limits retention, kept for max_age (7 days). */
async function makeOldStreams(): Promise<void> {
  const admin = await connectAdmin();
  for (const name of SMS_STREAMS) {
    const spec = STREAMS.find((s) => s.name === name);
    if (!spec) throw new Error(`no stream ${name}`);
    await admin.jsm.streams.add(streamConfig({ ...spec, retention: undefined }, 1));
  }
  // That release's payments handled a PIN: acked, so never delivered again, and left in the stream.
  await admin.jsm.consumers.add(PAYMENTS_SMS_INBOUND.stream, consumerConfig(PAYMENTS_SMS_INBOUND));
  const text = Events.smsInbound.type.encode({ envelope: newEnvelope({ producer: 'old-release' }), operatorId: 'old', fromMsisdn: '254712100003', toAddress: '384', text: OLD_PIN, smscMessageId: 'old-1', bindId: 'b0' }).finish();
  await admin.js.publish(PAYMENTS_SMS_INBOUND.filterSubject, text, { msgID: 'old-release-1' });
  const handled = await (await admin.js.consumers.get(PAYMENTS_SMS_INBOUND.stream, PAYMENTS_SMS_INBOUND.durableName))
    .next({ expires: 2_000 });
  if (!handled || !(await handled.ackAck())) throw new Error('the old release did not handle its PIN');
  if ((await admin.jsm.streams.info(PAYMENTS_SMS_INBOUND.stream)).state.messages !== 1) throw new Error('the handled PIN should still be stored before the upgrade');
  await admin.close();
}

beforeAll(async () => {
  const configFile = join(mkdtempSync(join(tmpdir(), 'dialpay-old-streams-')), 'auth.conf');
  writeFileSync(configFile, natsServerAuthorization(COMPONENTS));
  const env = Object.fromEntries(NATS_IDENTITIES.map((id) => [natsPasswordEnv(id), passwords[id]]));
  p = await startPaymentsStack(carrier, (raw) => {
    raw.consumers.deliveriesMax = 2;
    raw.consumers.retryDelaysMs = [200];
    raw.nats.users = Object.fromEntries(NATS_IDENTITIES.map((id) => [id, { user: id, password: passwords[id] }]));
    config = validateConfig(structuredClone(raw));
  }, { beforeStart: makeOldStreams, natsServer: { configFile, env } });
  nats = await connectAdmin();
}, 60_000);
afterAll(async () => {
  await nats?.close();
  await p?.cleanup();
});

const standalone = (secret: string) => new RegExp(`(?<![0-9A-Za-z_-])${secret}(?![0-9A-Za-z_-])`);

it('erases every handled or dead-lettered SMS, also those handled before the upgrade, from streams an older release made with limits retention', async () => {
  // Still limits: provisioning cannot change it, so the consumers must make up for it.
  for (const name of SMS_STREAMS) expect((await nats.jsm.streams.info(name)).config.retention, name).toBe('limits');

  const pinPhone = '254712100001';
  await p.pool.query('INSERT INTO payments.subscribers (msisdn, pin_hash) VALUES ($1, $2)', [pinPhone, await hashSecret(PIN)]);
  expect(await p.ask(pinPhone, 'PAY SHOP42 2000')).toMatch(/Reply with your PIN/);
  expect(await p.ask(pinPhone, PIN)).toMatch(/^Paid 2,000\.00 KES/);

  const codePhone = '254712100002';
  const challenge = await p.ask(codePhone, 'PAY SHOP42 500');
  const code = /YES (\d{4,8})/.exec(challenge)?.[1];
  if (!code) throw new Error(`no code in: ${challenge}`);
  expect(await p.ask(codePhone, `YES ${code}`)).toMatch(/^Paid 500\.00 KES/);

  // A PIN payments cannot handle is dead-lettered; its original must not stay behind.
  await p.pool.query(`CREATE FUNCTION public.refuse_inbound() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'inbound refused by the test'; END $$`);
  await p.pool.query(`CREATE TRIGGER refuse_inbound BEFORE INSERT ON payments.processed_events FOR EACH ROW WHEN (NEW.consumer = 'payments-sms-inbound') EXECUTE FUNCTION public.refuse_inbound()`);
  await p.sim.sendFromPhone(pinPhone, '384', DEAD_PIN);
  const letter = await waitFor('the dead letter', async () => (await readStored(nats, DLQ_STREAM)).find((m) => m.subject === 'dialpay.dlq.SMS_INBOUND.payments-sms-inbound'));
  await p.pool.query('DROP TRIGGER refuse_inbound ON payments.processed_events');
  expect(Events.smsInbound.type.decode(letter.data).text).toBe('****');

  // Every receipt sent and every text handled.
  await waitFor('SMS consumers drained', async () => {
    const [inbound, outbound] = await Promise.all([nats.jsm.consumers.info('SMS_INBOUND', 'payments-sms-inbound'), nats.jsm.consumers.info('SMS_OUTBOUND', 'gateway-sms-outbound')]);
    return inbound.num_pending + inbound.num_ack_pending + outbound.num_pending + outbound.num_ack_pending === 0;
  });
  const secrets = [PIN, DEAD_PIN, code, OLD_PIN];
  /** Each secret still in an SMS stream, by where. */
  const held = async () => (await Promise.all(SMS_STREAMS.map(async (name) => (await readStored(nats, name)).flatMap((m) => {
    // Decoded too: in the raw bytes a secret runs into the next field's tag ("2468" then '2', field 6).
    const decoded = name === 'SMS_INBOUND' ? Events.smsInbound.type.decode(m.data).text : Events.smsOutbound.type.decode(m.data).text;
    const text = [Buffer.from(m.data).toString('latin1'), decoded, m.headers].join('\n');
    return secrets.filter((s) => standalone(s).test(text)).map((s) => `${s} in ${name} #${m.seq}`);
  })))).flat();
  // The erase follows the ack by one request.
  await waitFor('handled messages erased', async () => (await held()).length === 0, 5_000).catch(() => undefined);
  expect(await held()).toEqual([]);
  for (const name of SMS_STREAMS) {
    const info = await nats.jsm.streams.info(name);
    // Something went through each, and none of it is left: empty, as a work queue would be.
    expect(info.state.last_seq, name).toBeGreaterThanOrEqual(name === 'SMS_INBOUND' ? 6 : 4);
    expect(info.state.messages, name).toBe(0);
  }
  // Counted where ops can see it: every handled text (the old PIN, 2 PINs, PAY, YES, and the dead letter) erased, none failed.
  const scrape = await (await fetch(`http://127.0.0.1:${config.http.opsPorts.payments}/metrics`)).text();
  const erased = (outcome: string) => Number(new RegExp(`dialpay_nats_messages_erased_total\\{[^}]*consumer="payments-sms-inbound"[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`).exec(scrape)?.[1]);
  expect(erased('erased')).toBeGreaterThanOrEqual(6);
  expect(erased('failed')).toBe(0);
  // The components' users may read the retention and erase (permissions.ts): the server refused nothing.
  expect(readFileSync(join(p.stack.nats.storeDir, 'nats-server.log'), 'utf8').split('\n').filter((l) => /Violation/i.test(l))).toEqual([]);
});
