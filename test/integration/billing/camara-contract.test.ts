// The CAMARA contract: the http adapter drives the operator simulator over real HTTP through
// reserve, capture (full and partial), release, refund, status lookups, timeouts, 5xx/429 and an
// expired token, plus requests the adapter never makes (conflicts, wrong states) so the
// simulator's error answers are covered too. Every exchange is recorded by the simulator, and
// every request body, query parameter and response body (with its x-correlator) is validated
// against the official OpenAPI definitions (../shared/camara/carrier-billing/code/API_definitions/,
// Carrier Billing 0.5.0 and Carrier Billing Refund 0.3.0) with ajv, after
// @apidevtools/swagger-parser dereferenced them. A status the definitions do not list for an
// operation fails the test. The top-up contract (docs/top-up-api.md) is driven here too.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { HttpChargingAdapter } from '../../../services/billing/adapters/http.js';
import { CarrierOutcome } from '../../../services/billing/adapters/types.js';
import { ChargingApiSimulator, CARRIER_BILLING_BASE, CARRIER_BILLING_REFUND_BASE, type Exchange } from '../../../operator-sim/index.js';
import { ROOT } from '../../support/stack.js';

// The official definitions, vendored unchanged (test/contracts/camara/README.md) so a clean clone needs nothing beside it.
const DEFINITIONS = join(ROOT, 'test', 'contracts', 'camara');
/** Where the project is given them; when present, the vendored copies must not have drifted from it. */
const GIVEN = join(ROOT, '..', 'shared', 'camara', 'carrier-billing', 'code', 'API_definitions');
const SECRET = 'contract-secret';
const api = new ChargingApiSimulator({ openingBalanceMinor: 100_000n, clientId: 'dialpay', clientSecret: SECRET, record: true, topUp: { path: '/airtime', apiKey: 'top-up-key' } });
let adapter: HttpChargingAdapter;
let docs: { base: string; doc: any }[];

/** ajv with OpenAPI 3.0's vocabulary: nullable is ajv's own keyword; discriminator, example and the like are annotations. */
const ajv = new Ajv({ strict: false, allErrors: true, multipleOfPrecision: 9, validateFormats: true });
addFormats.default(ajv);
ajv.addFormat('float', { type: 'number', validate: (n: number) => Number.isFinite(n) });
const compiled = new WeakMap<object, ValidateFunction>();
const paramAjv = new Ajv({ strict: false, coerceTypes: 'array', allErrors: true });
addFormats.default(paramAjv);

function validator(schema: object): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) compiled.set(schema, (v = ajv.compile(schema)));
  return v;
}

/** Errors of `value` against `schema`, following an OpenAPI discriminator mapping to the concrete schema. */
function errorsOf(doc: any, schema: any, value: unknown): string[] {
  const v = validator(schema);
  const errors = v(value) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
  const d = schema.discriminator;
  if (d?.mapping && value && typeof value === 'object') {
    const target = d.mapping[(value as Record<string, string>)[d.propertyName] ?? ''];
    if (typeof target !== 'string') return [...errors, `discriminator ${d.propertyName} matches no mapping`];
    const concrete = doc.components.schemas[target.replace('#/components/schemas/', '')];
    if (concrete && concrete !== schema) errors.push(...errorsOf(doc, concrete, value).map((e) => `(${target}) ${e}`));
  }
  return errors;
}

function operationOf(x: Exchange): { doc: any; op: any; template: string } | null {
  for (const { base, doc } of docs) {
    if (!x.path.startsWith(`${base}/`)) continue;
    const rest = x.path.slice(base.length);
    for (const [template, item] of Object.entries<any>(doc.paths)) {
      const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
      const op = item[x.method.toLowerCase()];
      // A literal segment wins over a parameter (prepare, remaining-amount).
      if (op && pattern.test(rest) && !(template.includes('{') && Object.keys(doc.paths).some((t) => !t.includes('{', t.lastIndexOf('/')) && t !== template && new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(rest) && doc.paths[t][x.method.toLowerCase()]))) {
        return { doc, op, template };
      }
    }
  }
  return null;
}

function violations(x: Exchange): string[] {
  const found = operationOf(x);
  if (!found) return [`${x.method} ${x.path}: no such operation in the CAMARA definitions`];
  const { doc, op } = found;
  const where = `${op.operationId} ${x.status}`;
  const out: string[] = [];
  const xc = x.requestHeaders['x-correlator'];
  if (typeof xc !== 'string' || errorsOf(doc, doc.components.schemas.XCorrelator, xc).length) out.push(`${where}: request x-correlator missing or malformed: ${String(xc)}`);
  if (x.responseHeaders['x-correlator'] !== xc) out.push(`${where}: response x-correlator is not the request's`);
  const requestSchema = op.requestBody?.content?.['application/json']?.schema;
  if (requestSchema && String(xc).startsWith(INVALID_ON_PURPOSE)) {
    // A request made wrong on purpose, to see the simulator's 400: it must not conform.
    if (!errorsOf(doc, requestSchema, JSON.parse(x.requestText)).length) out.push(`${where}: a request meant to be invalid conforms`);
  } else if (requestSchema) {
    let body: unknown;
    try {
      body = JSON.parse(x.requestText);
    } catch {
      out.push(`${where}: request body is not JSON`);
    }
    if (body !== undefined) out.push(...errorsOf(doc, requestSchema, body).map((e) => `${where} request: ${e}`));
  } else if (x.requestText) out.push(`${where}: a body where the operation takes none`);
  const params = new URLSearchParams(x.query);
  for (const name of new Set(params.keys())) {
    const p = (op.parameters ?? []).find((q: any) => q.in === 'query' && q.name === name);
    if (!p) out.push(`${where}: query parameter ${name} is not defined`);
    else {
      const value = p.schema.type === 'array' ? params.getAll(name) : params.get(name);
      const holder = { v: value };
      const v = paramAjv.compile({ type: 'object', properties: { v: p.schema } });
      if (!v(holder)) out.push(`${where}: query ${name}=${String(value)}: ${paramAjv.errorsText(v.errors)}`);
    }
  }
  const response = op.responses[String(x.status)];
  if (!response) return [...out, `${where}: status ${x.status} is not a documented response of ${op.operationId}`];
  const responseSchema = response.content?.['application/json']?.schema;
  if (responseSchema) {
    if (x.responseHeaders['content-type'] !== 'application/json') out.push(`${where}: response content-type ${x.responseHeaders['content-type']}`);
    out.push(...errorsOf(doc, responseSchema, JSON.parse(x.responseText)).map((e) => `${where} response: ${e}`));
  } else if (x.responseText) out.push(`${where}: a response body where the definition has none`);
  return out;
}

/** x-correlator prefix of a request made invalid on purpose. */
const INVALID_ON_PURPOSE = 'invalid-';

async function raw(method: 'GET' | 'POST', path: string, body?: unknown, invalid = false): Promise<{ status: number; json: any }> {
  const form = 'grant_type=client_credentials';
  const t = await fetch(api.tokenUrl, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`dialpay:${SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: form });
  const { access_token } = (await t.json()) as { access_token: string };
  const res = await fetch(`${api.url}${path}`, {
    method, headers: { authorization: `Bearer ${access_token}`, 'x-correlator': `${invalid ? INVALID_ON_PURPOSE : 'raw-'}${Math.random().toString(36).slice(2)}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

function prepareBody(correlator: string, msisdn: string, amount: number): unknown {
  return { amountTransaction: { phoneNumber: `+${msisdn}`, clientCorrelator: correlator, referenceCode: correlator, paymentAmount: { chargingInformation: { amount, currency: 'KES', description: 'raw' } } } };
}

beforeAll(async () => {
  expect(existsSync(join(DEFINITIONS, 'carrier-billing.yaml')), DEFINITIONS).toBe(true);
  await api.start();
  docs = [
    { base: CARRIER_BILLING_BASE, doc: await SwaggerParser.dereference(join(DEFINITIONS, 'carrier-billing.yaml')) },
    { base: CARRIER_BILLING_REFUND_BASE, doc: await SwaggerParser.dereference(join(DEFINITIONS, 'carrier-billing-refund.yaml')) },
  ];
  adapter = new HttpChargingAdapter({
    baseUrl: api.url, timeoutMs: 300, tokenUrl: api.tokenUrl, clientId: 'dialpay', clientSecret: SECRET, retryDelayMs: 10,
    topUp: { baseUrl: `${api.url}/airtime`, timeoutMs: 300, apiKey: 'top-up-key' },
  });
});
afterAll(async () => {
  await api.stop();
});

describe('the vendored CAMARA definitions', () => {
  it('are the given r3.2 files, unchanged', () => {
    const files = ['carrier-billing.yaml', 'carrier-billing-refund.yaml'];
    for (const file of files) expect(readFileSync(join(DEFINITIONS, file), 'utf8')).toMatch(/^openapi: 3\.0\.3\n/);
    if (!existsSync(GIVEN)) return; // a clone on its own: only the vendored copies exist
    for (const file of files) expect(readFileSync(join(DEFINITIONS, file), 'utf8'), file).toBe(readFileSync(join(GIVEN, file), 'utf8'));
  });
});

describe('CAMARA contract: the adapter against the simulator', () => {
  it('reserve, partial capture, refund; reserve and release', async () => {
    const r = await adapter.reserve({ debitId: 'c-1', msisdn: '254711000001', currency: 'KES', amountMinor: 12_345n, description: 'coffee' });
    expect(r).toMatchObject({ outcome: CarrierOutcome.OK, carrierRef: api.payment('c-1')?.paymentId });
    expect((await adapter.capture('c-1', 10_001n, r.carrierRef)).outcome).toBe(CarrierOutcome.OK);
    expect(api.carrier.balanceOf('254711000001')).toBe(100_000n - 10_001n);
    expect((await adapter.capture('c-1', 10_001n, r.carrierRef)).outcome).toBe(CarrierOutcome.OK); // again: nothing more taken
    expect(api.carrier.balanceOf('254711000001')).toBe(100_000n - 10_001n);
    expect((await adapter.refund('rf-1', 'c-1', 1n, r.carrierRef)).outcome).toBe(CarrierOutcome.OK);
    expect((await adapter.refund('rf-1', 'c-1', 1n, r.carrierRef)).outcome).toBe(CarrierOutcome.OK); // the same refund
    expect(api.carrier.balanceOf('254711000001')).toBe(100_000n - 10_000n);
    expect((await adapter.refund('rf-2', 'c-1', 10_001n, r.carrierRef)).outcome).toBe(CarrierOutcome.REJECTED); // more than remains

    const v = await adapter.reserve({ debitId: 'c-2', msisdn: '254711000002', currency: 'KES', amountMinor: 500n, description: 'bus' });
    expect((await adapter.release('c-2', v.carrierRef)).outcome).toBe(CarrierOutcome.OK);
    expect((await adapter.release('c-2', v.carrierRef)).outcome).toBe(CarrierOutcome.OK); // already cancelled
    expect((await adapter.capture('c-2', 500n, v.carrierRef)).outcome).toBe(CarrierOutcome.REJECTED);
    expect(api.carrier.balanceOf('254711000002')).toBe(100_000n);
  });

  it('refusals: payment denied, a barred line', async () => {
    api.carrier.setBalance('254711000003', 1n);
    expect((await adapter.reserve({ debitId: 'c-3', msisdn: '254711000003', currency: 'KES', amountMinor: 500n, description: 'x' })).outcome).toBe(CarrierOutcome.INSUFFICIENT_FUNDS);
    api.carrier.bar('254711000004');
    expect((await adapter.reserve({ debitId: 'c-4', msisdn: '254711000004', currency: 'KES', amountMinor: 500n, description: 'x' })).outcome).toBe(CarrierOutcome.REJECTED);
  });

  it('timeouts, lookups by clientCorrelator, 5xx, 429 and an expired token', async () => {
    api.hang('254711000005');
    const claimedAtMs = Date.now();
    expect((await adapter.reserve({ debitId: 'c-5', msisdn: '254711000005', currency: 'KES', amountMinor: 700n, description: 'x', claimedAtMs })).outcome).toBe(CarrierOutcome.UNAVAILABLE);
    api.answer('254711000005');
    // No paymentId known, none made since the claim: nothing held. Without the claim's time, nothing seen proves nothing.
    expect((await adapter.release('c-5', undefined, claimedAtMs)).outcome).toBe(CarrierOutcome.OK);
    expect((await adapter.release('c-5')).outcome).toBe(CarrierOutcome.UNAVAILABLE);

    api.answerLate('254711000006', 600);
    const late = await adapter.reserve({ debitId: 'c-6', msisdn: '254711000006', currency: 'KES', amountMinor: 700n, description: 'x' });
    expect(late).toMatchObject({ outcome: CarrierOutcome.OK, carrierRef: api.payment('c-6')?.paymentId });
    expect((await adapter.capture('c-6', 700n)).outcome).toBe(CarrierOutcome.OK); // confirm answered late too; found by correlator, then status
    api.answer('254711000006');
    expect(api.payment('c-6')?.status).toBe('succeeded');
    expect(api.carrier.balanceOf('254711000006')).toBe(100_000n - 700n);

    // A billing that never learnt the paymentId (restarted, the answer lost): release finds the open payment by clientCorrelator.
    expect((await adapter.reserve({ debitId: 'c-9', msisdn: '254711000010', currency: 'KES', amountMinor: 900n, description: 'x' })).outcome).toBe(CarrierOutcome.OK);
    const restarted = new HttpChargingAdapter({ baseUrl: api.url, timeoutMs: 300, tokenUrl: api.tokenUrl, clientId: 'dialpay', clientSecret: SECRET });
    expect((await restarted.release('c-9')).outcome).toBe(CarrierOutcome.OK);
    expect(api.payment('c-9')?.status).toBe('cancelled');
    expect(api.carrier.balanceOf('254711000010')).toBe(100_000n);
    expect(api.exchanges.some((x) => x.query.includes('paymentStatus=reserved'))).toBe(true);

    api.failNext(2, 503);
    expect((await adapter.reserve({ debitId: 'c-7', msisdn: '254711000007', currency: 'KES', amountMinor: 800n, description: 'x' })).outcome).toBe(CarrierOutcome.OK);
    api.failNext(1, 429);
    expect((await adapter.release('c-7', api.payment('c-7')?.paymentId)).outcome).toBe(CarrierOutcome.OK);
    api.expireTokens();
    expect((await adapter.reserve({ debitId: 'c-8', msisdn: '254711000008', currency: 'XOF', amountMinor: 1_000n, description: 'x' })).outcome).toBe(CarrierOutcome.OK);
    expect(api.exchanges.filter((x) => x.status === 401)).toHaveLength(1);
    expect(api.payment('c-8')?.amountMinor).toBe(1_000n);
  });

  it('a release with no paymentId looks from the claim on, oldest first: found behind a hundred newer open payments', async () => {
    const claimedAtMs = Date.now();
    expect((await adapter.reserve({ debitId: 'c-40', msisdn: '254711000040', currency: 'KES', amountMinor: 300n, description: 'x', claimedAtMs })).outcome).toBe(CarrierOutcome.OK);
    const newer: string[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await adapter.reserve({ debitId: `c-40-${i}`, msisdn: '254711000041', currency: 'KES', amountMinor: 1n, description: 'x' });
      expect(r.outcome).toBe(CarrierOutcome.OK);
      newer.push(r.carrierRef as string);
    }
    // A billing that lost the paymentId, reading one page of 100: the newest hundred would hide it.
    const onePage = new HttpChargingAdapter({ baseUrl: api.url, timeoutMs: 300, tokenUrl: api.tokenUrl, clientId: 'dialpay', clientSecret: SECRET, lookupPagesMax: 1 });
    expect((await onePage.release('c-40', undefined, claimedAtMs)).outcome).toBe(CarrierOutcome.OK);
    expect(api.payment('c-40')?.status).toBe('cancelled');
    expect(api.carrier.balanceOf('254711000040')).toBe(100_000n);
    const lookups = api.exchanges.filter((x) => x.path.endsWith('/payments') && x.method === 'GET' && x.requestHeaders['x-correlator']?.toString().startsWith('c-40:'));
    expect(lookups.map((x) => new URLSearchParams(x.query).get('order'))).toEqual(['asc']);
    expect(lookups.every((x) => new URLSearchParams(x.query).has('paymentCreationDate.lte'))).toBe(true);
    for (const [i, ref] of newer.entries()) expect((await adapter.release(`c-40-${i}`, ref)).outcome).toBe(CarrierOutcome.OK);
    // Nothing made under this debit since its claim, and every page read: a sure "none".
    expect((await onePage.release('c-41', undefined, Date.now())).outcome).toBe(CarrierOutcome.OK);
  });

  it('a refund whose answer was lost, to an operator that answers the repeat 409: its refunds show it made, so it is done once', async () => {
    const r = await adapter.reserve({ debitId: 'c-30', msisdn: '254711000030', currency: 'KES', amountMinor: 1_000n, description: 'x' });
    expect((await adapter.capture('c-30', 1_000n, r.carrierRef)).outcome).toBe(CarrierOutcome.OK);
    const u = await adapter.reserve({ debitId: 'c-31', msisdn: '254711000031', currency: 'KES', amountMinor: 2_000n, description: 'x' });
    expect(u.outcome).toBe(CarrierOutcome.OK);
    api.strictRefundCorrelators(true);
    api.answerLate('254711000030', 600);
    api.answerLate('254711000031', 600);
    try {
      expect((await adapter.refund('rf-30', 'c-30', 250n, r.carrierRef)).outcome).toBe(CarrierOutcome.OK);
      // A partial capture: the confirm and the give-back of the unused part both answered too late.
      expect((await adapter.capture('c-31', 1_500n, u.carrierRef)).outcome).toBe(CarrierOutcome.OK);
    } finally {
      api.answer('254711000030');
      api.answer('254711000031');
      api.strictRefundCorrelators(false);
    }
    expect([...(api.payment('c-30')?.refunds.values() ?? [])].map((x) => [x.clientCorrelator, x.amountMinor])).toEqual([['rf-30', 250n]]);
    expect([...(api.payment('c-31')?.refunds.values() ?? [])].map((x) => [x.clientCorrelator, x.amountMinor])).toEqual([['c-31.unused', 500n]]);
    expect(api.carrier.balanceOf('254711000030')).toBe(100_000n - 750n);
    expect(api.carrier.balanceOf('254711000031')).toBe(100_000n - 1_500n);
    expect(api.exchanges.some((x) => x.method === 'POST' && x.path.endsWith('/refunds') && x.status === 409)).toBe(true);
    // A 409 for a refund that is not ours (another refund took the referenceCode): refused, not taken as done.
    const B = `${CARRIER_BILLING_REFUND_BASE}/payments/${r.carrierRef as string}/refunds`;
    expect((await raw('POST', B, { type: 'partial', amountTransaction: { clientCorrelator: 'raw-other', referenceCode: 'rf-32', refundAmount: { chargingInformation: { amount: 1, currency: 'KES', description: 'r' } } } })).status).toBe(201);
    expect((await adapter.refund('rf-32', 'c-30', 100n, r.carrierRef)).outcome).toBe(CarrierOutcome.REJECTED);
  });

  it('answers the spec error codes for what the adapter never sends', async () => {
    const B = CARRIER_BILLING_BASE;
    expect((await raw('POST', `${B}/payments/prepare`, prepareBody('raw-1', '254711000009', 12.5))).status).toBe(201);
    const again = await raw('POST', `${B}/payments/prepare`, prepareBody('raw-1', '254711000009', 12.5));
    expect(again.status).toBe(201); // the same request: the same payment
    expect(again.json.paymentId).toBe(api.payment('raw-1')?.paymentId);
    expect((await raw('POST', `${B}/payments/prepare`, prepareBody('raw-1', '254711000009', 13))).json).toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' });
    const id = api.payment('raw-1')?.paymentId as string;
    expect((await raw('POST', `${B}/payments/${id}/confirm`, { phoneNumber: '+254711000009' })).status).toBe(202);
    expect((await raw('POST', `${B}/payments/prepare`, prepareBody('raw-1', '254711000009', 13))).json).toMatchObject({ status: 409, code: 'ALREADY_EXISTS' });
    expect((await raw('POST', `${B}/payments/${id}/confirm`, { phoneNumber: '+254711000009' })).json).toMatchObject({ status: 409, code: 'CARRIER_BILLING.PAYMENT_CONFIRMED' });
    expect((await raw('POST', `${B}/payments/${id}/cancel`, { phoneNumber: '+254711000009' })).json).toMatchObject({ status: 409, code: 'CARRIER_BILLING.PAYMENT_CONFIRMED' });
    expect((await raw('POST', `${B}/payments/nope/confirm`, { phoneNumber: '+254711000009' })).json).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect((await raw('GET', `${B}/payments/nope`)).json).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect((await raw('POST', `${B}/payments/prepare`, { amountTransaction: { referenceCode: 'x' } }, true)).json).toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' });
    expect((await raw('POST', `${B}/payments/prepare`, prepareBody('raw-2', '254711000009', 0.001))).json).toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' }); // a part of a cent
    const list = await raw('GET', `${B}/payments?perPage=5&order=asc&paymentStatus=succeeded`);
    expect(list.status).toBe(200);
    expect(list.json.every((p: any) => p.paymentStatus === 'succeeded')).toBe(true);
    expect((await raw('GET', `${B}/payments?perPage=500`)).json).toMatchObject({ status: 400, code: 'OUT_OF_RANGE' });

    const R = `${CARRIER_BILLING_REFUND_BASE}/payments/${id}/refunds`;
    const partial = { type: 'partial', amountTransaction: { clientCorrelator: 'raw-r1', referenceCode: 'raw-r1', refundAmount: { chargingInformation: { amount: 2.5, currency: 'KES', description: 'r' } } } };
    const created = await raw('POST', R, partial);
    expect(created.status).toBe(201);
    expect((await raw('POST', R, partial)).json.refundId).toBe(created.json.refundId);
    expect((await raw('POST', R, { ...partial, amountTransaction: { ...partial.amountTransaction, refundAmount: { chargingInformation: { amount: 1, currency: 'KES', description: 'r' } } } })).json).toMatchObject({ status: 409, code: 'ALREADY_EXISTS' });
    expect((await raw('POST', R, { type: 'partial', amountTransaction: { clientCorrelator: 'raw-r2', referenceCode: 'raw-r2', refundAmount: { chargingInformation: { amount: 99, currency: 'KES', description: 'r' } } } })).json).toMatchObject({ status: 422, code: 'CARRIER_BILLING_REFUND.UNAUTHORIZED_AMOUNT' });
    expect((await raw('GET', `${R}/remaining-amount`)).json).toMatchObject({ amount: 10, currency: 'KES' });
    expect((await raw('GET', `${R}/${created.json.refundId}`)).status).toBe(200);
    expect((await raw('GET', R)).json).toHaveLength(1);
    expect((await raw('POST', R, { type: 'total', amountTransaction: { clientCorrelator: 'raw-r3', referenceCode: 'raw-r3', refundAmount: {} } })).status).toBe(201);
    const reserved = api.payment('c-8')?.paymentId as string;
    expect((await raw('POST', `${CARRIER_BILLING_REFUND_BASE}/payments/${reserved}/refunds`, { type: 'total', amountTransaction: { referenceCode: 'raw-r4', refundAmount: {} } })).json).toMatchObject({ status: 422, code: 'CARRIER_BILLING_REFUND.INVALID_PAYMENT_STATUS' });
    expect((await raw('GET', `${CARRIER_BILLING_REFUND_BASE}/payments/nope/refunds`)).json).toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });

  it('every request and every response conforms to the CAMARA definitions', () => {
    const camara = api.exchanges.filter((x) => x.path.startsWith(CARRIER_BILLING_BASE) || x.path.startsWith(CARRIER_BILLING_REFUND_BASE));
    const seen = new Set(camara.map((x) => operationOf(x)?.op.operationId));
    for (const op of ['preparePayment', 'confirmPayment', 'cancelPayment', 'retrievePayment', 'retrievePayments', 'createRefund', 'retrieveRefund', 'retrieveRefunds', 'retrievePaymentRemainingAmount']) {
      expect(seen, op).toContain(op);
    }
    const statuses = new Set(camara.map((x) => x.status));
    for (const s of [200, 201, 202, 400, 401, 404, 409, 422, 429, 503]) expect(statuses, String(s)).toContain(s);
    const problems = camara.flatMap((x) => violations(x).filter((v) => !(x.status === 503 && v.includes('is not a documented response'))));
    expect(problems).toEqual([]);
    // The 503s the simulator was told to send are the only undocumented statuses (CAMARA_common allows 503).
    expect(camara.filter((x) => !operationOf(x)?.op.responses[String(x.status)]).every((x) => x.status === 503)).toBe(true);
  });

  it('the validator is not blind: a wrong body and a wrong status are caught', () => {
    const good = api.exchanges.find((x) => x.path.endsWith('/payments/prepare') && x.status === 201) as Exchange;
    expect(violations(good)).toEqual([]);
    const bad = { ...good, requestText: good.requestText.replace(/"amount":[0-9.]+/, '"amount":"123.45"') };
    expect(violations(bad).join('\n')).toMatch(/must be number/);
    expect(violations({ ...good, status: 418 }).join('\n')).toMatch(/not a documented response/);
    expect(violations({ ...good, responseText: good.responseText.replace('"paymentStatus"', '"status"') }).join('\n')).toMatch(/paymentStatus/);
  });
});

describe('top-up contract (docs/top-up-api.md)', () => {
  it('credits the line once per topUpId, and learns the outcome after a timeout', async () => {
    const topUp = adapter.topUp as NonNullable<typeof adapter.topUp>;
    expect(topUp).toBeTypeOf('function');
    const request = { topUpId: 't-1', msisdn: '254711000020', currency: 'KES', amountMinor: 5_050n };
    expect((await topUp(request)).outcome).toBe(CarrierOutcome.OK);
    expect((await topUp(request)).outcome).toBe(CarrierOutcome.OK);
    expect(api.carrier.balanceOf('254711000020')).toBe(100_000n + 5_050n);
    expect(api.topUpOf('t-1')?.value).toBe('50.50');
    api.answerLate('254711000021', 600);
    expect((await topUp({ ...request, topUpId: 't-2', msisdn: '254711000021' })).outcome).toBe(CarrierOutcome.OK); // the GET says it succeeded
    api.answer('254711000021');
    expect(api.carrier.balanceOf('254711000021')).toBe(100_000n + 5_050n);
    api.hang('254711000022');
    expect((await topUp({ ...request, topUpId: 't-3', msisdn: '254711000022' })).outcome).toBe(CarrierOutcome.UNAVAILABLE); // not made: safe to send again
    api.answer('254711000022');
    api.refuseTopUps('254711000023');
    expect((await topUp({ ...request, topUpId: 't-4', msisdn: '254711000023' })).outcome).toBe(CarrierOutcome.REJECTED);
    const noTopUp = new HttpChargingAdapter({ baseUrl: api.url, timeoutMs: 300, tokenUrl: api.tokenUrl, clientId: 'dialpay', clientSecret: SECRET });
    expect(noTopUp.topUp).toBeUndefined();
  });
});
