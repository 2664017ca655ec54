// What every component (gateway, payments, ussd, ...) provides to the host.
// The host owns connections, migrations, the ops server and shutdown; a
// component only starts its work and stops it.
import type { Config, ComponentName } from './config/index.js';
import type { Logger } from './log.js';
import type { Registry } from './metrics.js';
import type { NatsHandle } from './nats/index.js';
import type { ConsumerSpec } from './nats/topology.js';
import type { ConsumerMetrics } from './nats/consume.js';
import type { Pool } from './pg/index.js';
import type { ReadinessCheck } from './ops-server.js';

export interface ComponentContext {
  readonly name: ComponentName;
  readonly config: Config;
  readonly log: Logger;
  readonly registry: Registry;
  readonly nats: NatsHandle;
  readonly consumerMetrics: ConsumerMetrics;
  /** The component's own pool, or null for the gateway, which never opens Postgres. */
  readonly pool: Pool | null;
}

export interface ComponentDefinition {
  readonly name: ComponentName;
  /** Postgres schema the component owns, or null if it keeps no data there. */
  readonly schema: string | null;
  /** Folder of its NNNN_name.sql migrations, or null for the runtime tables only. */
  readonly migrationsDir: string | null;
  /**
   * The durable consumers its handlers read, on the shared streams (nats/topology.ts): the runtime
   * provisions them (composeTopology), lets the component's NATS user read them (nats/permissions.ts)
   * and watches their leaders.
   */
  readonly consumers: readonly ConsumerSpec[];
  /**
   * The component's own config rules beyond the schema (say, secrets only it holds): throws a
   * ConfigError naming the key. The host runs every component's check before it contacts any engine.
   */
  checkConfig?(config: Config): void;
  start(context: ComponentContext): Promise<StartedComponent>;
}

export interface StartedComponent {
  readonly readiness: readonly ReadinessCheck[];
  /** Stop taking new work, then finish in-flight work within timeoutMs. */
  stop(timeoutMs: number): Promise<void>;
  /** Takes the parts of a re-read, validated config it can apply without a restart (SIGHUP); the rest waits for one. */
  reloadConfig?(config: Config): void;
}
