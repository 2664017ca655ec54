import { describe, expect, it } from 'vitest';
import { captureLog } from '../support/log-capture.js';
import { maskMsisdn, sanitizeForLog } from '../../runtime/log.js';

const MSISDN = '254712345678';
const PIN = '4821';
const PASSWORD = 'Sup3rSecret';

describe('log redaction', () => {
  it("keeps an error's code (ECONNRESET) but redacts a one-time code under the same key", () => {
    expect(sanitizeForLog({ err: { code: 'ECONNRESET' }, code: 'ERR_STREAM_WRITE_AFTER_END' })).toEqual({ err: { code: 'ECONNRESET' }, code: 'ERR_STREAM_WRITE_AFTER_END' });
    expect(sanitizeForLog({ code: PIN })).toEqual({ code: '[REDACTED]' });
    expect(sanitizeForLog({ code: 4821 })).toEqual({ code: '[REDACTED]' });
    expect(sanitizeForLog({ code: 'x4821' })).toEqual({ code: '[REDACTED]' });
  });

  it("keeps PostgreSQL's SQLSTATE on a logged error (err.code, cause.code) but still redacts a one-time code outside an error", async () => {
    const { lines, log } = captureLog('trace');
    // What node-postgres throws: an Error with the SQLSTATE in `code`.
    const pgError = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021', severity: 'ERROR' });
    log.error({ err: pgError }, 'insert failed');
    log.info({ paymentId: 'p-1', code: PIN, challenge: { code: PIN } }, 'challenge sent');
    await new Promise((r) => setImmediate(r));
    const [insert, challenge] = lines.map((l) => JSON.parse(l));
    expect(insert.err.code).toBe('22021');
    expect(challenge.code).toBe('[REDACTED]');
    expect(challenge.challenge.code).toBe('[REDACTED]');
    expect(sanitizeForLog({ err: { code: '22P05', cause: { code: '23505' } }, error: { code: 'ECONNREFUSED' } })).toEqual({ err: { code: '22P05', cause: { code: '23505' } }, error: { code: 'ECONNREFUSED' } });
    // Inside an error, a four-digit code is still not an error code.
    expect(sanitizeForLog({ err: { code: PIN, pin: PIN } })).toEqual({ err: { code: '[REDACTED]', pin: '[REDACTED]' } });
  });

  it('never writes a full MSISDN, a PIN, a code or a password, wherever they appear', async () => {
    const { lines, log } = captureLog('trace');
    log.info({ msisdn: MSISDN, pin: PIN, password: PASSWORD }, 'pay request');
    log.info({ payerMsisdn: `+${MSISDN}`, nested: { deeper: { password: PASSWORD, code: PIN } } }, 'nested');
    log.warn(`inbound sms from ${MSISDN} failed`);
    log.info({ text: `YES ${PIN}` }, 'confirmation text');
    log.error({ err: new Error(`bind failed for ${MSISDN}`) }, 'error with msisdn');
    log.child({ from: MSISDN, smpp: { system_id: 'op', password: PASSWORD } }).info('child bindings');
    log.info({ source_addr: MSISDN, destination_addr: '384', short_message: `PAY SHOP42 500 ${PIN}` }, 'pdu');
    await new Promise((r) => setImmediate(r));
    expect(lines.length).toBe(7);
    const output = lines.join('\n');
    expect(output).not.toContain(MSISDN);
    expect(output).not.toContain(PASSWORD);
    expect(output).not.toMatch(new RegExp(`\\b${PIN}\\b`));
    expect(output).toContain(maskMsisdn(MSISDN));
    expect(output).toContain('[REDACTED]');
    // Masked but still useful: the country prefix and the last digits survive.
    expect(maskMsisdn(MSISDN)).toBe('2547******78');
  });

  it('masks numbers in free text and USSD session ids, but leaves a payment id whole', async () => {
    const { lines, log } = captureLog('trace');
    const paymentId = 'ec007675-69c0-427c-8972-277012345678';
    log.info({ paymentId, sessionId: `smpp:orange-sn:${MSISDN}:3` }, `payment ${paymentId} for ${MSISDN}`);
    await new Promise((r) => setImmediate(r));
    expect(lines.join('\n')).not.toContain(MSISDN);
    expect(lines.join('\n').split(paymentId).length).toBe(3); // the field and the message
  });

  it('keeps money as a string and leaves ordinary fields alone', () => {
    expect(sanitizeForLog({ amountMinor: 50_000n, paymentId: 'p-1', shortCode: '384' })).toEqual({
      amountMinor: '50000',
      paymentId: 'p-1',
      shortCode: '384',
    });
  });

  it('redacts the config secrets wherever a config or options object is logged, and keeps file paths', async () => {
    const seal = 'c2VhbGluZy1rZXktMzItYnl0ZXMtb2YtcmFuZG9tbmVzcz0=';
    const config = {
      ussd: {
        sessionSealKey: seal,
        http: { sharedSecret: 'edge-secret-0123456789', sharedSecretPrevious: 'edge-secret-previous-01', aggregators: [{ id: 'agg', sharedSecret: 'agg-secret-0123456789', sharedSecretPrevious: 'agg-secret-previous-01' }] },
      },
      operators: [{ smpp: { passwordHash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==' }, charging: { apiKey: 'charging-bearer-token' } }],
      merchants: [{ webhookSecret: 'whsec-0123456789abcdef' }],
      nats: { auth: { user: 'payments', password: PASSWORD, passwordFile: '/run/secrets/nats' } },
      // A name added later that ends like a secret.
      billing: { operatorWebhookSecret: 'later-secret-0123456789', adminPassword: 'later-password' },
    };
    const { lines, log } = captureLog('trace');
    log.info({ config }, 'starting');
    log.info(config.ussd, 'ussd options');
    const written = lines.join('\n');
    for (const secret of [seal, 'edge-secret-0123456789', 'edge-secret-previous-01', 'agg-secret-0123456789', 'agg-secret-previous-01', 'scrypt$16384', 'charging-bearer-token', 'whsec-0123456789abcdef', PASSWORD, 'later-secret-0123456789', 'later-password']) {
      expect(written, secret).not.toContain(secret);
    }
    expect(written).toContain('/run/secrets/nats');
    expect(written).toContain('"id":"agg"');
  });

  it('is bounded on deep and wide input', () => {
    let deep: Record<string, unknown> = { msisdn: MSISDN };
    for (let i = 0; i < 50; i++) deep = { next: deep };
    expect(JSON.stringify(sanitizeForLog(deep))).toContain('[too deep]');
    const wide = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i]));
    expect(Object.keys(sanitizeForLog(wide) as object).length).toBeLessThanOrEqual(65);
  });
});
