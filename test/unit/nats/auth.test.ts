// NATS credentials and TLS in config: one method per identity, each secret also from a file or the
// environment, per-component users, and nothing secret in a log line.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, sanitizeForLog } from '../../../runtime/log.js';
import { describeNatsAuth, natsAuthenticator, natsOptionsFor } from '../../../runtime/nats/connect.js';
import { configErrorOf, loadExampleWith } from '../../support/config.js';

const SEED = 'SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU';
const PASSWORD = 'n4ts-Secr3t';
const TOKEN = 's3cret-t0ken';

function loadWith(nats: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
  return loadExampleWith((raw) => (raw.nats = { ...raw.nats, ...nats }), env);
}

const keyOf = (fn: () => unknown): string => configErrorOf(fn).key;

describe('nats credentials in config', () => {
  it('takes each method, and per-identity users over the default', () => {
    const config = loadWith({
      auth: { token: TOKEN },
      users: { gateway: { user: 'gateway', password: PASSWORD }, billing: { nkeySeed: SEED }, payments: { credsFile: '/run/secrets/payments.creds' }, admin: { user: 'admin', passwordFile: '/run/secrets/admin' } },
      tls: { caFile: '/etc/nats/ca.pem', certFile: '/etc/nats/client.pem', keyFile: '/etc/nats/client-key.pem' },
    });
    expect(natsOptionsFor(config.nats, 'gateway').auth).toEqual({ user: 'gateway', password: PASSWORD });
    expect(natsOptionsFor(config.nats, 'billing').auth).toEqual({ nkeySeed: SEED });
    expect(natsOptionsFor(config.nats, 'ussd').auth).toEqual({ token: TOKEN }); // no own entry: the default
    expect(natsOptionsFor(config.nats, 'admin', 'dialpay-setup')).toMatchObject({ name: 'dialpay-setup', inboxPrefix: '_INBOX_admin', tls: { caFile: '/etc/nats/ca.pem' } });
    expect(natsOptionsFor(config.nats, 'gateway').name).toBe('dialpay-gateway');
  });

  it('is anonymous when nothing is given, and provisions at start by default', () => {
    const config = loadWith({});
    expect(natsOptionsFor(config.nats, 'payments').auth).toBeUndefined();
    expect(config.nats.provisionAtStart).toBe(true);
  });

  it('takes secrets from the environment', () => {
    const config = loadWith({ users: { gateway: { user: 'gateway', password: 'placeholder' } } }, {
      DIALPAY__nats__users__gateway__password: PASSWORD,
      DIALPAY__nats__users__settlement__nkeySeed: SEED,
    });
    expect(config.nats.users.gateway?.password).toBe(PASSWORD);
    expect(config.nats.users.settlement?.nkeySeed).toBe(SEED);
  });

  it('names the key of a bad or ambiguous credential', () => {
    expect(keyOf(() => loadWith({ auth: { token: TOKEN, nkeySeed: SEED } }))).toBe('nats.auth');
    expect(keyOf(() => loadWith({ users: { payments: { user: 'payments' } } }))).toBe('nats.users.payments.password');
    expect(keyOf(() => loadWith({ users: { payments: { user: 'p', password: PASSWORD, passwordFile: '/x' } } }))).toBe('nats.users.payments.passwordFile');
    expect(keyOf(() => loadWith({ users: { billing: { nkeySeed: 'SXnotaseed' } } }))).toBe('nats.users.billing.nkeySeed');
    expect(keyOf(() => loadWith({ users: { nobody: { token: TOKEN } } }))).toBe('nats.users.nobody');
    expect(keyOf(() => loadWith({ tls: { certFile: '/c.pem' } }))).toBe('nats.tls.keyFile');
  });
});

describe('nats authenticator', () => {
  it('reads a password, token or seed file on every connect, so a rotated secret is used without a restart', () => {
    let secret = 'first';
    const readFile = () => Buffer.from(`${secret}\n`);
    const byPassword = natsAuthenticator({ user: 'gateway', passwordFile: '/run/secrets/p' }, readFile);
    expect(byPassword(undefined)).toEqual({ user: 'gateway', pass: 'first' });
    secret = 'second';
    expect(byPassword(undefined)).toEqual({ user: 'gateway', pass: 'second' });
    expect(natsAuthenticator({ tokenFile: '/run/secrets/t' }, readFile)(undefined)).toEqual({ auth_token: 'second' });
  });

  it('signs the nonce with an NKey seed', () => {
    const auth = natsAuthenticator({ nkeySeed: SEED })('nonce-1') as { nkey: string; sig: string };
    expect(auth.nkey).toMatch(/^U[A-Z2-7]{55}$/);
    expect(auth.sig.length).toBeGreaterThan(40);
  });
});

describe('nats secrets in logs', () => {
  it('never writes a NATS password, token or seed, whether the config or the connection is logged', () => {
    const config = loadWith({ auth: { token: TOKEN }, users: { gateway: { user: 'gateway', password: PASSWORD }, billing: { nkeySeed: SEED } } });
    const lines: string[] = [];
    const destination = new Writable({ write(chunk, _enc, cb) { lines.push(chunk.toString()); cb(); } });
    const log = createLogger({ level: 'info', destination });
    log.info({ nats: config.nats }, 'config');
    log.info({ ...describeNatsAuth(natsOptionsFor(config.nats, 'gateway')) }, 'nats connected');
    log.info({ pass: PASSWORD, seed: SEED }, 'client options');
    const out = lines.join('');
    expect(out).toContain('"user":"gateway"');
    for (const secret of [PASSWORD, TOKEN, SEED]) expect(out).not.toContain(secret);
    expect(sanitizeForLog({ nkeySeed: SEED })).toEqual({ nkeySeed: '[REDACTED]' });
  });
});
