// The 3-node cluster the harness and the replica tests run on: R3 streams keep
// taking writes when a stream's leader is killed, and a partitioned node (its
// routes cut, its clients still on it) cannot write until it is healed.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { startNatsCluster, type NatsClusterHandle } from '../../runtime/engines/index.js';
import { eventually } from '../support/stack.js';
import { natsServers } from '../../runtime/nats/connect.js';

let cluster: NatsClusterHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  cluster = await startNatsCluster({ nodes: 3 });
  nc = await connect({ servers: natsServers(cluster.url), maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  // The meta leader is elected a moment after the routes are up.
  jsm = await eventually(() => jetstreamManager(nc), 30_000);
  await eventually(() => jsm.streams.add({ name: 'DRILL', subjects: ['drill.>'], num_replicas: 3 }), 30_000);
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
});

it('keeps an R3 stream writable through the SIGKILL of its leader, and the node catches up on its return', async () => {
  const js = jetstream(nc, { timeout: 2_000 });
  for (let i = 0; i < 10; i++) await js.publish('drill.a', `before ${i}`);
  const info = await jsm.streams.info('DRILL');
  expect(info.cluster?.replicas?.length).toBe(2);
  const leader = info.cluster?.leader as string;
  await cluster.node(leader).kill();
  await eventually(() => js.publish('drill.a', 'after'), 30_000);
  const after = await jsm.streams.info('DRILL');
  expect(after.cluster?.leader).not.toBe(leader);
  expect(after.state.messages).toBe(11);
  await cluster.node(leader).restart();
  await eventually(async () => {
    const peers = (await jsm.streams.info('DRILL')).cluster?.replicas ?? [];
    if (!peers.some((p) => p.name === leader && p.current)) throw new Error(`${leader} not current yet`);
  }, 30_000);
}, 90_000);

it('a partitioned node takes no writes from its own clients until it is healed', async () => {
  const only = await connect({ servers: cluster.nodes[0]?.url, reconnect: false });
  try {
    const js = jetstream(only, { timeout: 1_500 });
    await eventually(() => js.publish('drill.b', 'joined'), 30_000);
    cluster.partition(0);
    // The node may take a moment to notice; once cut off, every write fails.
    await eventually(async () => {
      const ok = await js.publish('drill.b', 'cut').then(() => true, () => false);
      if (ok) throw new Error('still writable');
    }, 30_000);
    await expect(js.publish('drill.b', 'cut')).rejects.toThrow();
    // The other nodes still have a quorum: asked through one of them (the shared connection may be on node 0,
    // which then answers "no responders", as it did when the client happened to pick it).
    const others = [cluster.nodes[1]?.url, cluster.nodes[2]?.url].filter((u) => u !== undefined);
    const majority = await connect({ servers: others, reconnect: false });
    try {
      await eventually(() => jetstream(majority, { timeout: 2_000 }).publish('drill.b', 'majority'), 30_000);
    } finally {
      await majority.close();
    }
    cluster.heal(0);
    await eventually(() => js.publish('drill.b', 'healed'), 30_000);
  } finally {
    await only.close();
  }
}, 120_000);
