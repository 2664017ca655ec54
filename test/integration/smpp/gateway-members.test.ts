// Gateway replicas count each other through the gateway_members bucket, so each
// takes its share of an operator's rate; a replica that stops renewing its
// entry (killed) drops out of the count once the entry expires.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { startNatsServer, type NatsServerHandle } from '../../../runtime/engines/index.js';
import { GatewayMembers } from '../../../gateway/smpp/replica-share.js';
import { quietLogger, waitFor } from '../../support/stack.js';

let server: NatsServerHandle;
let nc: NatsConnection;
let kv: KV;
const TTL_MS = 1_500;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  kv = await new Kvm(jetstream(nc)).create('members_test', { ttl: TTL_MS, history: 1 });
}, 30_000);

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

it('each replica sees the others, and a replica that stops beating drops out after the entry expires', async () => {
  const seen: number[][] = [[], [], []];
  const members = [0, 1, 2].map((i) => new GatewayMembers(kv, (n) => seen[i]?.push(n), quietLogger()));
  for (const m of members) await m.beat();
  await members[0]?.beat();
  expect(members[0]?.count).toBe(3);
  expect(seen[0]?.at(-1)).toBe(3);
  // Replica 2 is killed: it beats no more. The others keep beating and see two.
  await members[2]?.stop();
  await waitFor('the count back to two', async () => {
    await members[0]?.beat();
    await members[1]?.beat();
    return members[0]?.count === 2 && members[1]?.count === 2;
  }, 10_000);
  expect(seen[1]?.at(-1)).toBe(2);
});
