// A NATS cluster of N nodes with JetStream on loopback, as production runs it
// (3 nodes, R3 streams): for the cluster harness, its drills and the tests that
// run replicas. Every route between two nodes goes through a small TCP relay of
// ours, one per direction, so a drill can cut one node off from the others (a
// network partition) while its clients still reach it, and heal it again.
// Routes are explicit and full-mesh; each node advertises a dead address, so
// gossip never opens a route that bypasses the relays.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';
import { freePort } from './process.js';

export const NATS_CLUSTER_NODES_MAX = 5;

export interface NatsClusterOptions {
  /** Nodes; 3 by default, as deploy/ runs. */
  readonly nodes?: number;
  readonly clusterName?: string;
  /** A fresh temp folder when omitted; each node stores under <storeDir>/<name>. */
  readonly storeDir?: string;
}

export interface NatsClusterHandle {
  /** Every node's client URL, comma-separated, as `nats.url` takes them. */
  readonly url: string;
  /** The nodes in order; each can be killed, stopped and restarted on its own. */
  readonly nodes: readonly NatsServerHandle[];
  /** Each node's server name (n1, n2, ...), as JetStream names stream leaders. */
  readonly names: readonly string[];
  /** The node a server name belongs to. */
  node(name: string): NatsServerHandle;
  /** Cuts node `index`'s routes to every other node (its clients stay connected to it). */
  partition(index: number): void;
  /** Lets node `index`'s routes connect again. */
  heal(index: number): void;
  stop(): Promise<void>;
}

/** One direction of one route: accepts the dialling node's connection and relays it to the other node's cluster port. */
class RouteRelay {
  readonly #sockets = new Set<Socket>();
  #cut = false;

  private constructor(readonly server: Server, readonly port: number) {}

  static async start(targetPort: number): Promise<RouteRelay> {
    const port = await freePort();
    let relay: RouteRelay | null = null;
    const server = createServer((inbound) => {
      if (!relay || relay.#cut) {
        inbound.destroy();
        return;
      }
      const sockets = relay.#sockets;
      const outbound = connect({ host: '127.0.0.1', port: targetPort });
      for (const [a, b] of [[inbound, outbound], [outbound, inbound]] as const) {
        sockets.add(a);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          sockets.delete(a);
          b.destroy();
        });
        a.pipe(b);
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    relay = new RouteRelay(server, port);
    return relay;
  }

  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.destroy();
  }

  heal(): void {
    this.#cut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsClusterHandle> {
  const count = options.nodes ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > NATS_CLUSTER_NODES_MAX) {
    throw new RangeError(`a cluster has 1 to ${NATS_CLUSTER_NODES_MAX} nodes, not ${count}`);
  }
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), 'dialpay-nats-cluster-'));
  const clusterName = options.clusterName ?? 'dialpay';
  const names = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const clusterPorts = await Promise.all(names.map(() => freePort()));
  // A port nothing listens on: what each node advertises, so no route is made from gossip.
  const deadPort = await freePort();
  // relays[i][j]: node i dials node j through it.
  const relays: (RouteRelay | null)[][] = await Promise.all(names.map((_, i) =>
    Promise.all(names.map((__, j) => (i === j ? null : RouteRelay.start(clusterPorts[j] as number))))));
  const nodes = await Promise.all(names.map((name, i) => startNatsServer({
    storeDir: join(storeDir, name),
    args: [
      '-n', name,
      '--cluster_name', clusterName,
      '--cluster', `nats://127.0.0.1:${clusterPorts[i]}`,
      '--cluster_advertise', `127.0.0.1:${deadPort}`,
      ...(count > 1 ? ['--routes', (relays[i] as (RouteRelay | null)[]).flatMap((r) => (r ? [`nats-route://127.0.0.1:${r.port}`] : [])).join(',')] : []),
    ],
  })));
  const relaysOf = (index: number): RouteRelay[] => {
    if (!Number.isInteger(index) || index < 0 || index >= count) throw new RangeError(`no node ${index}`);
    return relays.flatMap((row, i) => row.filter((r, j): r is RouteRelay => r !== null && (i === index || j === index)));
  };
  return {
    url: nodes.map((n) => n.url).join(','),
    nodes,
    names,
    node: (name) => {
      const index = names.indexOf(name);
      if (index < 0) throw new Error(`no node named ${name} (have ${names.join(', ')})`);
      return nodes[index] as NatsServerHandle;
    },
    partition: (index) => relaysOf(index).forEach((r) => r.cut()),
    heal: (index) => relaysOf(index).forEach((r) => r.heal()),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      await Promise.all(relays.flat().map((r) => r?.close()));
      if (!options.storeDir) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
