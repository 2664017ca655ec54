// `dialpay phone`, the terminal phone DESIGN.md names, driven as a person would:
// a real `dialpay all` and a real `dialpay operator-sim` (its SMSC, its
// server-mode aggregator and its phone line) as child processes, and the phone
// as a third one whose stdin we type into. It pays by SMS with the code it
// received, dials *384# and walks the USSD menu, and texts through an operator
// whose SMSC binds to us. The phone line's answers to bad requests are checked
// straight over HTTP.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../../runtime/engines/index.js';
import { runTs, type Child } from '../support/child.js';
import { setupStack, waitFor, type Stack } from '../support/stack.js';
import { USSD_TEST_SECRET } from '../support/ussd-phone.js';

let stack: Stack;
let daemon: Child;
let sim: Child;
let line: string;

beforeAll(async () => {
  stack = await setupStack();
  const raw = structuredClone(stack.rawConfig) as {
    operators: { id: string; smpp: { mode: string; port: number } }[]; ussd: { http: { sharedSecret?: string } };
  };
  // The USSD edge's secret comes from the environment, as in production: both the gateway and the simulated aggregator read it there.
  delete raw.ussd.http.sharedSecret;
  const secretEnv = { DIALPAY__ussd__http__sharedSecret: USSD_TEST_SECRET };
  // Client-mode operators: the simulator's SMSC listens here and the gateway binds to it.
  for (const op of raw.operators) if (op.smpp.mode === 'client') op.smpp.port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'dialpay-phone-'));
  const configPath = join(dir, 'dialpay.yaml');
  writeFileSync(configPath, stringify(raw));
  line = `127.0.0.1:${await freePort()}`;
  sim = runTs('cli/dialpay.ts', ['operator-sim', '--config', configPath, '--phone-line', line, '--traffic-ms', '0'], { DIALPAY_SIM_PEER_PASSWORDS: 'orange-sn=secret2', ...secretEnv });
  await sim.waitForLine(/phone line on/);
  daemon = runTs('cli/dialpay.ts', ['all', '--config', configPath], secretEnv);
  // Every operator linked: the gateway bound to the SMSC, the aggregator bound to the gateway.
  await waitFor(
    'every operator linked',
    async () => {
      const res = await fetch(`http://${line}/`).catch(() => null);
      const body = res ? ((await res.json()) as { operators: { linked: boolean }[] }) : null;
      return body?.operators.every((o) => o.linked) ?? false;
    },
    60_000,
  );
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([daemon?.kill('SIGTERM'), sim?.kill('SIGTERM')]);
  await stack?.cleanup();
}, 60_000);

function startPhone(msisdn: string): Child {
  return runTs('cli/dialpay.ts', ['phone', msisdn, '--phone-line', line], {}, { stdin: 'pipe' });
}

function type(phone: Child, text: string): void {
  phone.process.stdin?.write(`${text}\n`);
}

it('pays by SMS with the code it was sent, then walks the USSD menu to the balance, then hangs up', async () => {
  const phone = startPhone('+254 700 000123');
  try {
    await phone.waitForLine(/^ready$/);
    expect(phone.stdout()).toMatch(/\+254700000123 on Safari Mobile\. Short code 384, USSD \*384#\./);

    type(phone, 'PAY SHOP42 150 coffee');
    await phone.waitForLine(/^\[sent to 384\]$/);
    const challenge = await phone.waitForLine(/^\[SMS from 384\] Pay .* Reply YES (\d{4,8})/, 30_000);
    const code = /YES (\d{4,8})/.exec(challenge)?.[1] as string;
    // The simulator's own phones answer challenges by themselves; a terminal phone's are left to the person.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(phone.stdout()).not.toMatch(/^\[SMS from 384\] Paid/m);
    type(phone, `YES ${code}`);
    await phone.waitForLine(/^\[SMS from 384\] Paid 150\.00 KES to Duka Ya Mama \(SHOP42\)\. Fee 2\.35 KES\. Ref /, 30_000);

    type(phone, '*384#');
    await phone.waitForLine(/^\| Welcome to dialpay\. Choose a 4-digit PIN/);
    type(phone, '2580');
    await phone.waitForLine(/^\| Enter the same PIN again:/);
    type(phone, '2580');
    await phone.waitForLine(/^\| 4 My account$/);
    type(phone, '4');
    await phone.waitForLine(/^\| 1 Balance$/);
    type(phone, '1');
    await phone.waitForLine(/^\| Balance:/);
    const balance = await phone.waitForLine(/^\| dialpay wallet /);
    expect(balance).toMatch(/\d/);
    await phone.waitForLine(/^\+-- \(session ended\)$/);
    // With the session over, a line is an SMS again.
    type(phone, 'BAL');
    await phone.waitForLine(/^\[SMS from 384\] .*(Balance|balance)/, 30_000);

    type(phone, '/quit');
    expect(await phone.exited()).toBe(0);
    expect(phone.stdout()).toMatch(/^hung up$/m);
  } finally {
    await phone.kill('SIGTERM');
  }
}, 120_000);

it('texts through an operator whose SMSC binds to us, and answers in French; a USSD session can be cancelled', async () => {
  const phone = startPhone('221770000123');
  try {
    await phone.waitForLine(/^ready$/);
    type(phone, '*384#');
    await phone.waitForLine(/^\| Bienvenue sur dialpay\. Choisissez un PIN/);
    type(phone, '/cancel');
    await phone.waitForLine(/^\+-- \(cancelled\)$/);
    // With the session cancelled, a line is an SMS again.
    type(phone, 'AIDE');
    await phone.waitForLine(/^\[SMS from 384\] dialpay: PAYER /, 30_000);
    type(phone, '/quit');
    expect(await phone.exited()).toBe(0);
  } finally {
    await phone.kill('SIGTERM');
  }
}, 60_000);

it('a number no operator serves is refused with the number ranges there are', async () => {
  const phone = startPhone('+33612345678');
  expect(await phone.exited()).toBe(64);
  expect(phone.stdout()).toMatch(/no simulated operator serves \+33612345678; number ranges: \+2547, \+2541, \+22177, \+22178/);
});

it('the phone line answers bad requests with a clear error', async () => {
  const post = async (path: string, body: string) => {
    const res = await fetch(`http://${line}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: res.status, error: ((await res.json()) as { error: string }).error };
  };
  expect(await post('/phones/254700000999/sms', '{"text":""}')).toEqual({ status: 400, error: '"text" must be 1 to 1000 characters' });
  expect(await post('/phones/254700000999/sms', 'not json')).toEqual({ status: 400, error: 'the body must be a JSON object' });
  expect(await post('/phones/254700000999/sms', JSON.stringify({ text: 'x'.repeat(5_000) }))).toEqual({ status: 413, error: 'the body is over 4096 bytes' });
  expect(await post('/phones/12/sms', '{"text":"BAL"}')).toEqual({ status: 400, error: 'the phone number must be 8 to 15 digits, with its country code' });
  expect(await post('/phones/254700000999/ussd', '{"answer":"1"}')).toEqual({ status: 409, error: 'no USSD session: dial first' });
  expect(await post('/phones/254700000999/ussd', '{"dial":"384"}')).toEqual({ status: 400, error: '"dial" must look like *384#' });
  expect((await post('/nowhere', '{}')).status).toBe(404);
  // A session cannot grow without bound: the menu ends it (after about 40 answers here) or the line does at 64.
  expect((await post('/phones/254700000999/ussd', '{"dial":"*384#"}')).status).toBe(200);
  const statuses: number[] = [];
  let last = { status: 200, error: '' };
  for (let i = 0; i < 70 && last.status === 200; i++) {
    last = await post('/phones/254700000999/ussd', '{"answer":"9"}'); // not an option: the same screen again, session open
    statuses.push(last.status);
  }
  expect(statuses.filter((st) => st === 200).length).toBeLessThanOrEqual(64);
  expect(last.status).toBe(409);
  expect(['no USSD session: dial first', 'a USSD session takes at most 64 answers: dial again']).toContain(last.error);
});

it('the phone line will not listen beyond loopback: it has no authentication', async () => {
  const { PhoneLine } = await import('../../operator-sim/index.js');
  const line = new PhoneLine(stack.config, new Map(), new Map());
  await expect(line.listen('0.0.0.0:0')).rejects.toThrow(/loopback only/);
  await expect(line.listen('10.1.2.3:9190')).rejects.toThrow(/loopback only/);
});
