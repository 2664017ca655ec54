// Runs one or more components in this process: config is already valid;
// here we connect, provision, migrate, start, serve /metrics, and on SIGTERM
// stop taking work, finish in-flight work, and drain NATS before exiting.
import type { Config } from './config/index.js';
import type { ComponentDefinition, StartedComponent } from './component.js';
import { createLogger, type Logger } from './log.js';
import { createRegistry } from './metrics.js';
import {
  composeTopology, connectNats, effectiveConsumer, natsOptionsFor, provisionTopologyWithRetry, withReassemblyTimeouts,
  type NatsHandle, type Topology,
} from './nats/index.js';
import { ConsumerMetrics } from './nats/consume.js';
import { startClusterHealth, type ClusterHealth } from './nats/cluster-health.js';
import { createPool, migrateSchemas, type Pool } from './pg/index.js';
import { startOpsServer, type OpsServer } from './ops-server.js';
import { withNats, withPostgres } from './engine-error.js';

interface Running {
  readonly definition: ComponentDefinition;
  readonly log: Logger;
  readonly nats: NatsHandle;
  readonly pool: Pool | null;
  readonly started: StartedComponent;
  readonly ops: OpsServer;
  readonly health: ClusterHealth;
}

export interface Host {
  /** Stops everything in reverse start order; safe to call twice. */
  stop(): Promise<void>;
  /** Hands a re-read, validated config to every running component that can apply some of it live. */
  reloadConfig(config: Config): void;
  readonly opsPorts: Record<string, number>;
}

export async function migrateAll(config: Config, definitions: readonly ComponentDefinition[], log: Logger): Promise<void> {
  const sets = definitions
    .filter((d) => d.schema !== null)
    .map((d) => ({ schema: d.schema as string, dir: d.migrationsDir }));
  if (sets.length > 0) await migrateSchemas(config.postgres.url, sets, log, config.postgres.connectTimeoutMs);
}

/** Every component's own config check, before any engine is contacted: a config error exits 2 whatever NATS and PostgreSQL are doing. */
export function checkComponentConfigs(config: Config, definitions: readonly ComponentDefinition[]): void {
  for (const definition of definitions) definition.checkConfig?.(config);
}

/**
 * Creates or updates the JetStream topology (composeTopology: the shared streams and buckets, and the
 * consumers the components declare) as the admin identity: components' own users may not (permissions.ts).
 */
export async function provisionNats(config: Config, log: Logger, topology: Topology): Promise<void> {
  const setupNats = await withNats(config, () => connectNats(natsOptionsFor(config.nats, 'admin', 'dialpay-setup'), log));
  try {
    const configured = withReassemblyTimeouts(topology, config.operators.map((o) => o.smpp.reassemblyTimeoutMs));
    const consumers = configured.consumers.map((c) => effectiveConsumer(c, config.consumers));
    await provisionTopologyWithRetry(setupNats, { ...configured, consumers }, config.nats.streamReplicas, log);
  } finally {
    await setupNats.close();
  }
}

export async function startHost(
  config: Config,
  definitions: readonly ComponentDefinition[],
  /** topology: what to provision when nats.provisionAtStart; by default the streams and buckets with these components' consumers. */
  options: { topology?: Topology; log?: Logger } = {},
): Promise<Host> {
  checkComponentConfigs(config, definitions);
  const rootLog = options.log ?? createLogger({ level: config.log.level });
  const running: Running[] = [];
  let draining = false;

  // Provision and migrate once, before any component takes work.
  if (config.nats.provisionAtStart) await provisionNats(config, rootLog, options.topology ?? composeTopology(definitions));
  await withPostgres(config, () => migrateAll(config, definitions, rootLog));

  const stopAll = async (): Promise<void> => {
    draining = true;
    await stopRunning(running, config.shutdown.drainTimeoutMs);
  };

  try {
    for (const definition of definitions) running.push(await startComponent(config, definition, rootLog, () => draining));
  } catch (err) {
    await stopAll();
    throw err;
  }

  return {
    stop: stopAll,
    reloadConfig: (next) => {
      for (const r of running) r.started.reloadConfig?.(next);
    },
    opsPorts: Object.fromEntries(running.map((r) => [r.definition.name, r.ops.port])),
  };
}

/** Connects one component, starts it, and serves its /metrics and readiness; `draining` says whether the host is stopping. */
async function startComponent(
  config: Config, definition: ComponentDefinition, rootLog: Logger, draining: () => boolean,
): Promise<Running> {
  const log = rootLog.child({ component: definition.name });
  const registry = createRegistry(definition.name);
  const nats = await withNats(config, () => connectNats(natsOptionsFor(config.nats, definition.name), log));
  const pool = definition.schema
    ? createPool({ ...config.postgres, applicationName: `dialpay-${definition.name}` }, log)
    : null;
  const started = await definition.start({
    name: definition.name,
    config,
    log,
    registry,
    nats,
    consumerMetrics: new ConsumerMetrics(registry),
    pool,
  });
  const readiness = [
    { name: 'shutdown', check: () => (draining() ? 'draining' : null) },
    { name: 'nats', check: () => (nats.connected() ? null : 'disconnected') },
    ...(pool ? [{ name: 'postgres', check: async () => (await pool.query('SELECT 1'), null) }] : []),
    ...started.readiness,
  ];
  // Leaders of the streams and consumers it reads, its standbys and failovers (alerts.yml).
  const health = startClusterHealth({ nc: nats.nc, consumes: definition.consumers, pool, registry, log });
  let ops: OpsServer;
  try {
    ops = await startOpsServer({ host: config.http.host, port: config.http.opsPorts[definition.name], registry, readiness, log });
  } catch (err) {
    await health.stop();
    throw err;
  }
  log.info({ opsPort: ops.port }, 'started');
  return { definition, log, nats, pool, started, ops, health };
}

/** Stops the running components in reverse start order, each as far as it goes, and forgets them. */
async function stopRunning(running: Running[], timeoutMs: number): Promise<void> {
  for (const r of [...running].reverse()) {
    try {
      await r.health.stop();
      await r.started.stop(timeoutMs);
      await r.nats.close();
      await r.pool?.end();
      await r.ops.close();
      r.log.info('stopped');
    } catch (err) {
      r.log.error({ err }, 'error while stopping');
    }
  }
  running.length = 0;
}
