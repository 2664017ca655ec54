// The credential methods and TLS of nats.auth / nats.tls against a real nats-server that
// verifies client certificates: an NKey seed and a password file connect, the wrong seed or no
// client certificate is refused, and the log says how a process connected without the secret.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { nkeys } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../../runtime/engines/index.js';
import { createLogger } from '../../runtime/log.js';
import { connectNats, type NatsHandle, type NatsOptions } from '../../runtime/nats/index.js';
import { quietLogger } from '../support/stack.js';

const dir = mkdtempSync(join(tmpdir(), 'dialpay-nats-tls-'));
const file = (name: string) => join(dir, name);
const PASSWORD = 'pw-0a1b2c3d4e5f';
const user = nkeys.createUser();
const seed = new TextDecoder().decode(user.getSeed());
let server: NatsServerHandle;
const handles: NatsHandle[] = [];

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function makeCertificates(): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=dialpay test CA', '-keyout', 'ca-key.pem', '-out', 'ca.pem');
  for (const [name, cn, ext] of [['server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], ['client', 'dialpay-gateway', 'extendedKeyUsage=clientAuth']] as const) {
    writeFileSync(file(`${name}.ext`), `${ext}\n`);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  }
}

const base = (): Omit<NatsOptions, 'auth' | 'tls'> => ({ url: server.url, name: 'test', connectTimeoutMs: 3_000, reconnectWaitMs: 100, reconnectAttemptsMax: 0, publishTimeoutMs: 2_000 });
const clientTls = () => ({ caFile: file('ca.pem'), certFile: file('client.pem'), keyFile: file('client-key.pem') });

async function open(options: NatsOptions, log = quietLogger()): Promise<NatsHandle> {
  const h = await connectNats(options, log);
  handles.push(h);
  return h;
}

beforeAll(async () => {
  makeCertificates();
  writeFileSync(file('password'), `${PASSWORD}\n`);
  writeFileSync(file('seed'), `${seed}\n`);
  writeFileSync(file('server.conf'), [
    `tls { cert_file: "${file('server.pem')}", key_file: "${file('server-key.pem')}", ca_file: "${file('ca.pem')}", verify: true }`,
    `authorization { users = [ { user: "gateway", password: "${PASSWORD}" }, { nkey: "${user.getPublicKey()}" } ] }`,
    '',
  ].join('\n'));
  server = await startNatsServer({ configFile: file('server.conf') });
}, 30_000);

afterAll(async () => {
  await Promise.allSettled(handles.map((h) => h.close()));
  await server?.stop();
});

describe('nats credentials and TLS', () => {
  it('connects with an NKey seed (or its file) and a client certificate, and carries messages', async () => {
    for (const auth of [{ nkeySeed: seed }, { nkeySeedFile: file('seed') }]) {
      const h = await open({ ...base(), auth, tls: clientTls() });
      const sub = h.nc.subscribe('dialpay.test', { max: 1 });
      h.nc.publish('dialpay.test', 'hello');
      for await (const m of sub) expect(m.string()).toBe('hello');
    }
  });

  it('connects with a password file, and logs the user and method but never the secret', async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', destination: new Writable({ write(chunk, _e, cb) { lines.push(chunk.toString()); cb(); } }) });
    const h = await open({ ...base(), auth: { user: 'gateway', passwordFile: file('password') }, tls: clientTls() }, log);
    await h.nc.flush();
    const out = lines.join('');
    expect(out).toMatch(/"auth":"password".*"user":"gateway"|"user":"gateway".*"auth":"password"/);
    expect(out).toContain('"tls":true');
    expect(out).not.toContain(PASSWORD);
  });

  it('refuses another NKey, a wrong password, and a client without a certificate', async () => {
    const stranger = new TextDecoder().decode(nkeys.createUser().getSeed());
    await expect(open({ ...base(), auth: { nkeySeed: stranger }, tls: clientTls() })).rejects.toThrow(/authoriz/i);
    await expect(open({ ...base(), auth: { user: 'gateway', password: 'pw-wrong' }, tls: clientTls() })).rejects.toThrow(/authoriz/i);
    await expect(open({ ...base(), auth: { nkeySeed: seed }, tls: { caFile: file('ca.pem') } })).rejects.toThrow();
    await expect(open({ ...base(), auth: { nkeySeed: seed } })).rejects.toThrow();
  });
});
