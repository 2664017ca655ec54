// The health watcher on a 3-node NATS cluster: it sees a stream's and a
// consumer's leader, counts a change when the leader is killed, sees the dead
// node's replica lag, and reports no leader while a majority is down; on a
// single server, the leader is always known and nothing lags.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { startNatsCluster, startNatsServer, type NatsClusterHandle, type NatsServerHandle } from '../../runtime/engines/index.js';
import { createRegistry, type Registry } from '../../runtime/metrics.js';
import { startClusterHealth, type ClusterHealth } from '../../runtime/nats/cluster-health.js';
import { quietLogger, eventually } from '../support/stack.js';

const CONSUMES = [{ stream: 'DRILL', durableName: 'drill-reader' }];

async function value(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const values = (await metric.get()).values;
  return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

async function provision(jsm: JetStreamManager, replicas: number): Promise<void> {
  await eventually(() => jsm.streams.add({ name: 'DRILL', subjects: ['drill.>'], num_replicas: replicas }), 30_000);
  await eventually(() => jsm.consumers.add('DRILL', { durable_name: 'drill-reader', ack_policy: AckPolicy.Explicit }), 30_000);
}

describe('on a 3-node cluster', () => {
  let cluster: NatsClusterHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let registry: Registry;
  let health: ClusterHealth;
  const stream = { stream: 'DRILL' };
  const consumer = { stream: 'DRILL', consumer: 'drill-reader' };
  /** One poll, then the metric. */
  const polled = async (name: string, labels: Record<string, string>) => {
    await health.pollOnce();
    return value(registry, name, labels);
  };

  beforeAll(async () => {
    cluster = await startNatsCluster({ nodes: 3 });
    nc = await connect({ servers: cluster.url.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    jsm = await eventually(() => jetstreamManager(nc), 30_000);
    await provision(jsm, 3);
    registry = createRegistry('test');
    // The timer is left idle: the test drives every poll.
    health = startClusterHealth({
      nc, consumes: CONSUMES, pool: null, registry, log: quietLogger(), intervalMs: 3_600_000, requestTimeoutMs: 1_000,
    });
  }, 90_000);

  afterAll(async () => {
    await health?.stop();
    await nc?.close();
    await cluster?.stop();
  });

  it('sees the leaders, no change yet, and every replica current', async () => {
    await eventually(async () => {
      expect(await polled('dialpay_nats_stream_replicas_lagging', stream)).toBe(0);
    }, 30_000);
    expect(await value(registry, 'dialpay_nats_stream_leader_known', stream)).toBe(1);
    expect(await value(registry, 'dialpay_nats_consumer_leader_known', consumer)).toBe(1);
    expect(await value(registry, 'dialpay_nats_stream_leader_changes_total', stream)).toBe(0);
    expect(await value(registry, 'dialpay_nats_consumer_leader_changes_total', consumer)).toBe(0);
  }, 60_000);

  it('counts one stream leader change when the leader is killed, and the dead replica as lagging', async () => {
    const leader = (await jsm.streams.info('DRILL')).cluster?.leader as string;
    const consumerLeader = (await jsm.consumers.info('DRILL', 'drill-reader')).cluster?.leader as string;
    await cluster.node(leader).kill();
    await eventually(async () => {
      expect(await polled('dialpay_nats_stream_leader_changes_total', stream)).toBe(1);
    }, 45_000);
    expect(await value(registry, 'dialpay_nats_stream_leader_known', stream)).toBe(1);
    const now = (await jsm.streams.info('DRILL')).cluster?.leader;
    expect(now).not.toBe(leader);
    await eventually(async () => {
      expect(await polled('dialpay_nats_stream_replicas_lagging', stream)).toBe(1);
    }, 30_000);
    // The consumer's leader changed too when it was on the killed node; not otherwise.
    await eventually(async () => {
      expect(await polled('dialpay_nats_consumer_leader_known', consumer)).toBe(1);
      expect(await value(registry, 'dialpay_nats_consumer_leader_changes_total', consumer)).toBe(consumerLeader === leader ? 1 : 0);
    }, 45_000);
    await cluster.node(leader).restart();
    await eventually(async () => {
      expect(await polled('dialpay_nats_stream_replicas_lagging', stream)).toBe(0);
    }, 45_000);
    // The restarted node is a follower now: no further change.
    expect(await value(registry, 'dialpay_nats_stream_leader_changes_total', stream)).toBe(1);
  }, 150_000);

  it('reports no leader while a majority of the nodes is down, and the leader again once they are back', async () => {
    const leader = (await jsm.streams.info('DRILL')).cluster?.leader as string;
    const others = cluster.names.filter((n) => n !== leader);
    // Keep the leader's node; kill the other two: no quorum, no stream or consumer leader.
    for (const name of others) await cluster.node(name).kill();
    await eventually(async () => {
      expect(await polled('dialpay_nats_stream_leader_known', stream)).toBe(0);
      expect(await value(registry, 'dialpay_nats_consumer_leader_known', consumer)).toBe(0);
    }, 60_000);
    for (const name of others) await cluster.node(name).restart();
    await eventually(async () => {
      expect(await polled('dialpay_nats_stream_leader_known', stream)).toBe(1);
      expect(await value(registry, 'dialpay_nats_consumer_leader_known', consumer)).toBe(1);
    }, 60_000);
  }, 180_000);
});

describe('on a single server', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await provision(await jetstreamManager(nc), 1);
  }, 30_000);

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('always knows the leader and sees nothing lagging; a stream it may not find is left unset, not reported leaderless', async () => {
    const registry = createRegistry('test');
    const health = startClusterHealth({
      nc, registry, log: quietLogger(), pool: null, intervalMs: 3_600_000, requestTimeoutMs: 1_000,
      consumes: [...CONSUMES, { stream: 'MISSING', durableName: 'nobody' }],
    });
    try {
      await health.pollOnce();
      await health.pollOnce();
      expect(await value(registry, 'dialpay_nats_stream_leader_known', { stream: 'DRILL' })).toBe(1);
      expect(await value(registry, 'dialpay_nats_stream_replicas_lagging', { stream: 'DRILL' })).toBe(0);
      expect(await value(registry, 'dialpay_nats_consumer_leader_known', { stream: 'DRILL', consumer: 'drill-reader' })).toBe(1);
      expect(await value(registry, 'dialpay_nats_stream_leader_changes_total', { stream: 'DRILL' })).toBe(0);
      expect(await value(registry, 'dialpay_nats_stream_leader_known', { stream: 'MISSING' })).toBeUndefined();
      expect(await value(registry, 'dialpay_nats_consumer_leader_known', { stream: 'MISSING', consumer: 'nobody' })).toBeUndefined();
      // Its counter is there from the start, at 0, so increase() sees a first change.
      expect(await value(registry, 'dialpay_nats_stream_leader_changes_total', { stream: 'MISSING' })).toBe(0);
    } finally {
      await health.stop();
    }
  }, 30_000);
});
