// The production shape, small: two processes each of gateway, payments and
// billing on a 3-node NATS cluster (every stream R3), PostgreSQL with a
// synchronous standby. A payment whose long SEND arrives in two parts, one on
// each gateway replica's bind, is joined once and completes; more payments
// follow with the parts spread the same way.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../load-tests/harness/cluster.js';
import { waitBound } from '../../load-tests/chaos/faults.js';
import { payeePhone, payerPhone } from '../../load-tests/harness/phones.js';
import { waitFor } from '../support/stack.js';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({
    components: ['billing', 'payments', 'gateway'],
    carrier: 'simulator',
    natsNodes: 3,
    postgresStandby: true,
    replicas: { gateway: 2, payments: 2, billing: 2 },
    durablePostgres: false,
    // One bind per gateway replica: the SMSC's two sessions are the two replicas.
    configure: (raw) => Object.assign(raw.operators[0].smpp, { bindCount: 1 }),
  });
  await waitBound(cluster, 60_000);
}, 300_000);

afterAll(async () => {
  await cluster?.stop();
}, 120_000);

/** The next SMS to `phone` that `accepts`, within the wait. */
function nextSms(phone: string, accepts: (text: string) => boolean, waitMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no SMS for ${phone} within ${waitMs} ms`)), waitMs);
    cluster.smsc.onMessage((m) => {
      if (m.destination === phone && accepts(m.text)) {
        clearTimeout(timer);
        resolve(m.text);
      }
    });
  });
}

/** deliver_sm this gateway replica has answered, from its own /metrics. */
async function deliverSmSeen(replica: number): Promise<number> {
  const text = await cluster.component('gateway', replica).metrics();
  return [...text.matchAll(/^dialpay_smpp_pdus_total\{([^}]*)\} (\d+)/gm)]
    .filter(([, labels]) => /command="deliver_sm"/.test(labels ?? '') && /direction="in"/.test(labels ?? ''))
    .reduce((n, [, , v]) => n + Number(v), 0);
}

/** One payment whose SEND is a long SMS, each part on another bind; resolves with the payer's receipt. */
async function payWithLongSend(payer: string, payee: string): Promise<string> {
  // Padding past one segment (the grammar reads words; trailing blanks are nothing to it).
  const text = `SEND 0${payee.slice(3)} 1.50${' '.repeat(170)}`;
  const challenge = nextSms(payer, (t) => /YES \d{4}/.test(t) || /^Payment (refused|of)/.test(t));
  expect(await cluster.smsc.sendFromPhone(payer, '384', text, { split: 'udh8', spread: true })).toEqual([0, 0]);
  const code = /YES (\d{4})/.exec(await challenge)?.[1];
  expect(code).toBeDefined();
  const receipt = nextSms(payer, (t) => /^Paid /.test(t) || /failed/.test(t));
  expect(await cluster.smsc.sendFromPhone(payer, '384', `YES ${code}`)).toEqual([0]);
  return receipt;
}

it('runs two replicas of gateway, payments and billing on three NATS nodes, each joining long SENDs split across the replicas', async () => {
  expect(cluster.smsc.boundSessions).toBe(2);
  expect(cluster.replicas('payments')).toHaveLength(2);
  expect(cluster.replicas('billing')).toHaveLength(2);
  const before = [await deliverSmSeen(0), await deliverSmSeen(1)];
  expect(await payWithLongSend(payerPhone(1), payeePhone(1))).toMatch(/^Paid /);
  // Each replica answered one part of the SEND at least (and one of them the YES).
  const after = [await deliverSmSeen(0), await deliverSmSeen(1)];
  expect(after[0]! - before[0]!).toBeGreaterThanOrEqual(1);
  expect(after[1]! - before[1]!).toBeGreaterThanOrEqual(1);
  // More at once: each joined once, each paid once.
  const receipts = await Promise.all([2, 3, 4, 5, 6].map((i) => payWithLongSend(payerPhone(i), payeePhone(i))));
  expect(receipts.every((r) => /^Paid /.test(r))).toBe(true);
  // Each payee told once (the payee's receipt may come a moment after the payer's).
  const told = () => new Set(cluster.smsc.submitted.filter((m) => /received/i.test(m.text)).map((m) => m.destination));
  await waitFor('every payee told', async () => [1, 2, 3, 4, 5, 6].every((i) => told().has(payeePhone(i))), 30_000);
}, 240_000);
