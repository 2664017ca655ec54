// NATS with the authorization block deploy/ ships (generated from runtime/nats/permissions.ts):
// an anonymous client is refused; every component, each as its own user, still carries a real
// SMS payment, USSD hops and merchant API calls through; and a user cannot publish to, consume
// from or listen on a subject outside its permissions.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { AckPolicy } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../services/billing/index.js';
import { SettlementService } from '../../services/settlement/index.js';
import { reconcile } from '../../services/reconciliation/index.js';
import { newApiKey } from '../../runtime/api-keys.js';
import { freePort } from '../../runtime/engines/index.js';
import { NATS_IDENTITIES, type Config, type NatsIdentity } from '../../runtime/config/index.js';
import { validateConfig } from '../../cli/config.js';
import { connectNats, natsOptionsFor, requestReply, Requests, type NatsHandle } from '../../runtime/nats/index.js';
import { natsPasswordEnv, natsServerAuthorization } from '../../runtime/nats/permissions.js';
import { COMPONENTS } from '../../cli/components.js';
import { startPaymentsStack, type PaymentsStack } from '../support/payments-stack.js';
import { UssdPhone } from '../support/ussd-phone.js';
import { quietLogger, waitFor } from '../support/stack.js';
import { day } from '../support/days.js';

const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n });
const passwords = Object.fromEntries(NATS_IDENTITIES.map((id) => [id, `pw-${randomBytes(12).toString('hex')}`])) as Record<NatsIdentity, string>;
const evKey = newApiKey();
let p: PaymentsStack;
let config: Config;
let apiBase: string;
let ussdPort: number;
const handles: NatsHandle[] = [];

async function as(identity: NatsIdentity): Promise<NatsHandle> {
  const h = await connectNats({ ...natsOptionsFor(config.nats, identity, `test-${identity}`), reconnectAttemptsMax: 0 }, quietLogger());
  handles.push(h);
  return h;
}

const serverLog = () => readFileSync(join(p.stack.nats.storeDir, 'nats-server.log'), 'utf8');
const violations = () => serverLog().split('\n').filter((l) => /Violation/i.test(l));
const quoted = (s: string) => `"${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`;
/**
 * nats-server (2.9, 2.10) logs a refused publish as `... - Publish Violation - User "gateway", Subject "dialpay.debit.reserve.requested"`;
 * the connection's name ("test-gateway") is elsewhere on the line, so match the user and subject fields only.
 */
const publishViolation = (user: NatsIdentity, subject: string) => new RegExp(`Publish Violation - User ${quoted(user)}, Subject ${quoted(subject)}`);
/** Whether the server logs a line matching `pattern` among its violations after the first `from`, within 5 s. */
const violationLogged = (pattern: RegExp, from: number) => waitFor(`server log: ${pattern}`, async () => violations().slice(from).some((l) => pattern.test(l)), 5_000);

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dialpay-nats-auth-'));
  const configFile = join(dir, 'auth.conf');
  writeFileSync(configFile, natsServerAuthorization(COMPONENTS));
  const env = Object.fromEntries(NATS_IDENTITIES.map((id) => [natsPasswordEnv(id), passwords[id]]));
  const apiPort = await freePort();
  apiBase = `http://127.0.0.1:${apiPort}`;
  p = await startPaymentsStack(carrier, (raw) => {
    raw.nats.users = Object.fromEntries(NATS_IDENTITIES.map((id) => [id, { user: id, password: passwords[id] }]));
    raw.merchantApi = { port: apiPort };
    raw.merchants[1].apiKeys = [evKey.stored];
    ussdPort = raw.ussd.http.port;
    config = validateConfig(structuredClone(raw));
  }, { natsServer: { configFile, env } });
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(handles.map((h) => h.close()));
  await p?.cleanup();
});

describe('NATS authentication', () => {
  it('refuses a client without credentials, or with a wrong password', async () => {
    await expect(connect({ servers: p.stack.nats.url, reconnect: false, timeout: 3_000 })).rejects.toThrow(/authoriz/i);
    await expect(connect({ servers: p.stack.nats.url, reconnect: false, timeout: 3_000, user: 'gateway', pass: 'wrong' })).rejects.toThrow(/authoriz/i);
    await expect(connect({ servers: p.stack.nats.url, reconnect: false, timeout: 3_000, user: 'gateway', pass: passwords.payments })).rejects.toThrow(/authoriz/i);
  });
});

describe('every component as its own user', () => {
  it('carries an SMS payment, USSD hops and merchant API calls through, with no permission violation', async () => {
    const phone = '254711900001';
    await p.payBySms(phone, 'EVCHARGE', '300');
    // gateway -> ussd -> payments (PIN) and billing (balance)
    const ussd = new UssdPhone(ussdPort, '254711900002');
    expect((await ussd.dial()).text).toMatch(/^Welcome to dialpay/);
    expect((await ussd.answer('2468', '2468')).text).toMatch(/^PIN saved\./);
    expect((await ussd.answer('4', '1')).text).toBe('Balance:\ndialpay wallet 0.00 KES\nSafari Mobile 10,000.00 KES');
    // gateway -> payments (merchant subject), billing (merchant balance), settlement (lines)
    const get = async (path: string) => {
      const res = await fetch(`${apiBase}${path}`, { headers: { authorization: `Bearer ${evKey.key}` } });
      return { status: res.status, body: (await res.json()) as any };
    };
    const list = await get('/v1/payments');
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.body)).toContain('300');
    expect((await get('/v1/balance')).status).toBe(200);
    expect((await get('/v1/settlements')).status).toBe(200);
    // A long message: its parts meet in the gateway's KV bucket (sms_parts) before the event goes out.
    expect(await p.sim.sendFromPhone('254711900003', '384', `BAL ${'please '.repeat(30)}`, { split: 'udh8' })).toEqual([0, 0]);
    // webhooks consumed the merchant events (acked, nothing left waiting)
    const admin = await as('admin');
    const webhooks = await admin.jsm.consumers.info('MERCHANT_EVENTS', 'webhooks-delivery');
    expect(webhooks.delivered.stream_seq).toBeGreaterThan(0);
    // Each component's health watcher read the info of the streams it consumes, limits streams
    // included (cluster-health.ts, permissions.ts): their leaders are known.
    for (const [component, stream] of [['billing', 'DEBITS'], ['webhooks', 'MERCHANT_EVENTS'], ['payments', 'DEBITS'], ['gateway', 'SMS_OUTBOUND']] as const) {
      const text = await (await fetch(`http://127.0.0.1:${p.host.opsPorts[component]}/metrics`)).text();
      expect(text, component).toMatch(new RegExp(`^dialpay_nats_stream_leader_known\\{[^}]*stream="${stream}"[^}]*\\} 1$`, 'm'));
    }
    expect(violations()).toEqual([]);
  });

  it('settles a window and reconciles a file as the users `dialpay settle` and `dialpay reconcile` run as', async () => {
    const before = violations().length;
    const settlementUser = await as('settlement');
    const closable = day(-2);
    const closed = await new SettlementService({ pool: p.pool, nc: settlementUser.nc, config, log: quietLogger() }).close('safaricom-ke', closable);
    expect(closed.windowId).toBe(`safaricom-ke/${closable}`);
    const reconciliationUser = await as('reconciliation');
    const dir = mkdtempSync(join(tmpdir(), 'dialpay-nats-auth-rec-'));
    writeFileSync(join(dir, 'charges.csv'), 'carrier_tx_id,correlator,msisdn,amount_minor,currency,status,charged_at\n');
    const summary = await reconcile({ operator: config.operators[0] as Config['operators'][number], file: join(dir, 'charges.csv'), outBase: join(dir, 'report'), nc: reconciliationUser.nc, js: reconciliationUser.js, publishTimeoutMs: 5_000 });
    expect(summary.badRows).toBe(0);
    expect(violations().slice(before)).toEqual([]);
  });

  it('runs `dialpay provision` as admin: the components’ users may not create a consumer', async () => {
    const gateway = await as('gateway');
    await expect(gateway.jsm.consumers.add('DEBITS', { durable_name: 'sneaky', ack_policy: AckPolicy.Explicit, filter_subject: 'dialpay.debit.reserve.requested' })).rejects.toThrow();
    const admin = await as('admin');
    const names: string[] = [];
    for await (const c of admin.jsm.consumers.list('DEBITS')) names.push(c.name);
    expect(names).not.toContain('sneaky');
    expect(names).toContain('billing-debit-reserve');
  });
});

describe('outside its permissions', () => {
  it('the gateway cannot publish a debit request, nor pull billing’s debit requests', async () => {
    const admin = await as('admin');
    const before = (await admin.jsm.streams.info('DEBITS')).state.messages;
    const gateway = await as('gateway');
    const logged = violations().length;
    await expect(gateway.js.publish('dialpay.debit.reserve.requested', new Uint8Array([1]), { msgID: 'forged-1', timeout: 2_000 })).rejects.toThrow();
    await expect(gateway.js.consumers.get('DEBITS', 'billing-debit-reserve')).rejects.toThrow();
    expect((await admin.jsm.streams.info('DEBITS')).state.messages).toBe(before);
    // The server refused it for this user and subject: not any other error (a timeout, a closed connection).
    expect(await violationLogged(publishViolation('gateway', 'dialpay.debit.reserve.requested'), logged)).toBe(true);
  });

  it('no user but the gateway may call payments’ merchant subject, and none may listen on it but payments', async () => {
    const ussd = await as('ussd');
    const before = violations().length;
    await expect(requestReply(ussd.nc, Requests.paymentsMerchant, { merchantId: 'EVCHARGE', listPayments: {} }, 2_000)).rejects.toThrow();
    // The client only sees its request go unanswered (a refused publish is an async error): the
    // server's log says why, for this user and subject.
    expect(await violationLogged(publishViolation('ussd', Requests.paymentsMerchant.subject), before)).toBe(true);
    // The gateway may call it, and gets EVCHARGE's payments.
    const gateway = await as('gateway');
    const reply = await requestReply(gateway.nc, Requests.paymentsMerchant, { merchantId: 'EVCHARGE', listPayments: {} }, 5_000);
    expect(reply).toBeTruthy();
    // A subscription outside the permissions is refused by the server: it sees nothing.
    const seen: string[] = [];
    const refused: string[] = [];
    const callback = (err: Error | null, m: { subject: string }) => void (err ? refused.push(err.message) : seen.push(m.subject));
    gateway.nc.subscribe(Requests.paymentsMerchant.subject, { callback });
    gateway.nc.subscribe('_INBOX_payments.>', { callback });
    await gateway.nc.flush();
    await requestReply(gateway.nc, Requests.paymentsMerchant, { merchantId: 'EVCHARGE', listPayments: {} }, 5_000);
    expect(seen).toEqual([]);
    expect(refused).toHaveLength(2);
    expect(refused.join(' ')).toMatch(/permission/i);
    expect(violations().some((l) => l.includes('Subscription') && l.includes('dialpay.payments.merchant'))).toBe(true);
  });
});
