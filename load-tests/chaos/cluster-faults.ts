// Fault drills on the production shape (harness/cluster.ts with natsNodes 3,
// a PostgreSQL standby and replicas): a NATS stream leader killed, one NATS
// node cut off from the others, one replica of each kind killed while its twin
// carries on, the PostgreSQL primary lost and its standby promoted, and the
// operator's SMSC away for minutes. Each resolves once the broken part is back.
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Cluster } from '../harness/cluster.js';
import type { ComponentName } from '../../runtime/config/index.js';
import { waitBound, waitStackReady, type Drill, type FaultTiming } from './faults.js';
import { natsServers } from '../../runtime/nats/connect.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The production shape the cluster drills run and deploy/ ships (a test holds them together):
 * 3 NATS nodes with every stream R3, and at least two processes of each component, settlement
 * and reconciliation included (their runs are exclusive under a lease, so two prove it).
 */
export const PRODUCTION_SHAPE = { natsNodes: 3, streamReplicas: 3, replicasPerComponent: 2 } as const;

export interface ClusterFaultTiming extends FaultTiming {
  /** How long the SMSC stays away in the long outage drill (5 minutes in a full run). */
  readonly smscOutageMs: number;
}

/** The stream whose leader the leader drill kills: every MO goes through it. */
export const LEADER_DRILL_STREAM = 'SMS_INBOUND';

/** The server name (n1, n2, n3) that leads `stream` now. */
export async function streamLeader(cluster: Cluster, stream: string): Promise<string> {
  const nc = await connect({ servers: natsServers(cluster.config.nats.url), timeout: 5_000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5_000 });
    const leader = (await jsm.streams.info(stream)).cluster?.leader;
    if (!leader) throw new Error(`${stream} has no leader`);
    return leader;
  } finally {
    await nc.close();
  }
}

/** Every stream has a leader and every replica is current again: the cluster has healed. */
async function waitStreamsCurrent(cluster: Cluster, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const nc = await connect({ servers: natsServers(cluster.config.nats.url), timeout: 5_000 });
  try {
    for (;;) {
      const lagging: string[] = [];
      try {
        const jsm = await jetstreamManager(nc, { timeout: 5_000 });
        for await (const s of jsm.streams.list()) {
          const c = s.cluster;
          if (!c?.leader || (c.replicas ?? []).some((r) => !r.current || r.offline)) lagging.push(s.config.name);
        }
      } catch (err) {
        lagging.push(`(${(err as Error).message})`);
      }
      if (lagging.length === 0) return;
      if (Date.now() > deadline) throw new Error(`streams not current within ${timeoutMs} ms: ${lagging.join(', ')}`);
      await sleep(500);
    }
  } finally {
    await nc.close();
  }
}

function natsCluster(cluster: Cluster) {
  if (!cluster.natsCluster) throw new Error('this drill needs a NATS cluster (natsNodes > 1)');
  return cluster.natsCluster;
}

export const natsLeaderKill: Drill = {
  name: 'nats-leader-kill',
  fault: `SIGKILL of the NATS node leading ${LEADER_DRILL_STREAM}, down for the outage, then started again on its store`,
  inject: async (cluster, t) => {
    const leader = await streamLeader(cluster, LEADER_DRILL_STREAM);
    const node = natsCluster(cluster).node(leader);
    await node.kill();
    await sleep(t.outageMs);
    await node.restart();
    await waitStreamsCurrent(cluster, t.backTimeoutMs);
    await waitStackReady(cluster, t.backTimeoutMs);
  },
};

export const natsPartition: Drill = {
  name: 'nats-partition',
  fault: `the node leading ${LEADER_DRILL_STREAM} cut off from the other two (its routes dropped; its clients still connected to it) for ` +
    `the outage, then healed`,
  inject: async (cluster, t) => {
    const nats = natsCluster(cluster);
    const index = nats.names.indexOf(await streamLeader(cluster, LEADER_DRILL_STREAM));
    nats.partition(index);
    await sleep(t.outageMs);
    nats.heal(index);
    await waitStreamsCurrent(cluster, t.backTimeoutMs);
    await waitStackReady(cluster, t.backTimeoutMs);
  },
};

/** SIGKILL of one replica while the others carry on, then a start as a supervisor would. */
export function killReplica(name: ComponentName): Drill {
  return {
    name: `kill-${name}-replica`,
    fault: `SIGKILL of one ${name} replica (the others keep running), then started again`,
    inject: async (cluster, t) => {
      const replicas = cluster.replicas(name);
      const victim = replicas[replicas.length - 1];
      if (!victim) throw new Error(`${name} is not running`);
      await victim.stop('SIGKILL');
      await victim.start();
      await waitStackReady(cluster, t.backTimeoutMs);
    },
  };
}

export const postgresFailover: Drill = {
  name: 'postgres-failover',
  fault: 'the PostgreSQL primary crashes (pg_ctl -m immediate) and stays down; the synchronous standby is promoted after the outage and ' +
    'the services reconnect to it through the multi-host postgres.url',
  inject: async (cluster, t) => {
    if (!cluster.standby) throw new Error('this drill needs a PostgreSQL standby');
    await cluster.postgres.kill();
    await sleep(t.outageMs);
    await cluster.standby.promote();
    await waitStackReady(cluster, t.backTimeoutMs);
  },
};

export const smscLongOutage: Drill = {
  name: 'smsc-outage',
  fault: 'the SMSC drops every session and refuses connections for the long outage; what is still useful must be delivered when the ' +
    'binds return, with no dead letters',
  inject: async (cluster, t) => {
    const { smscOutageMs } = t as ClusterFaultTiming;
    cluster.smsc.disconnectAll(smscOutageMs);
    await sleep(smscOutageMs);
    await waitBound(cluster, t.backTimeoutMs);
  },
};

/** The cluster drills in the order a run takes them: the primary's loss last, since the stack has no standby after it. */
export function clusterDrills(replicated: readonly ComponentName[]): Drill[] {
  return [natsLeaderKill, natsPartition, ...replicated.map(killReplica), smscLongOutage, postgresFailover];
}
