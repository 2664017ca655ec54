// OAuth2 client credentials: the token is asked for with HTTP Basic, cached until its expiry minus
// the margin, fetched once for concurrent callers, fetched again after invalidate, and a refusal
// names the status but never the secret.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientCredentials, TokenUnavailable } from '../../../services/billing/adapters/oauth.js';

let server: Server;
let url: string;
let issued = 0;
let lastAuth = '';
let lastBody = '';
let refuse = false;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      lastAuth = req.headers.authorization ?? '';
      lastBody = body;
      if (refuse) return res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
      issued++;
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `t${issued}`, token_type: 'Bearer', expires_in: 60 })), 20);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('ClientCredentials', () => {
  it('asks with Basic auth and the client_credentials grant, caches until expiry minus the margin, shares one fetch', async () => {
    let now = 1_000_000;
    const c = new ClientCredentials({ tokenUrl: url, clientId: 'id:1', clientSecret: 's/2 3', scope: 'a b', timeoutMs: 1_000, refreshMarginMs: 10_000, now: () => now });
    const before = issued;
    const [a, b] = await Promise.all([c.token(), c.token()]);
    expect(a).toBe(b);
    expect(issued).toBe(before + 1);
    expect(Buffer.from(lastAuth.replace('Basic ', ''), 'base64').toString()).toBe('id%3A1:s%2F2%203');
    expect(Object.fromEntries(new URLSearchParams(lastBody))).toEqual({ grant_type: 'client_credentials', scope: 'a b' });
    now += 49_000;
    expect(await c.token()).toBe(a); // 60 s - 10 s margin not yet reached
    now += 1_001;
    const renewed = await c.token();
    expect(renewed).not.toBe(a);
    c.invalidate('not-the-current-one');
    expect(await c.token()).toBe(renewed);
    c.invalidate(renewed);
    expect(await c.token()).not.toBe(renewed);
  });

  it('a refusal is TokenUnavailable naming the status, never the secret', async () => {
    refuse = true;
    try {
      const c = new ClientCredentials({ tokenUrl: url, clientId: 'id', clientSecret: 'super-secret-value', timeoutMs: 1_000, refreshMarginMs: 0 });
      const err = await c.token().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TokenUnavailable);
      expect(String((err as Error).message)).toMatch(/401/);
      expect(String((err as Error).message)).not.toMatch(/super-secret-value/);
    } finally {
      refuse = false;
    }
  });
});
