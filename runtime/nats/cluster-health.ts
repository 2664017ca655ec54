// Watches the clustered engines a component depends on, and exports what it
// sees: whether each stream and durable consumer it reads has a JetStream
// leader, how often that leader changes, how many stream replicas are behind;
// and, for a component with a pool, the primary's standbys (how many stream,
// how far behind) and the failovers its pool followed. The alerts in
// deploy/prometheus/alerts.yml read these. One poll every intervalMs, a few
// requests at a time, each with its own timeout; a poll never throws into the
// process and never overlaps the previous one.
import { jetstreamManager, JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import { errors, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../log.js';
import { Counter, Gauge, type Registry } from '../metrics.js';
import type { Pool } from '../pg/index.js';
import { poolFailoverState } from '../pg/pool.js';
import { replicationStatus } from '../pg/replication.js';

export const CLUSTER_HEALTH_INTERVAL_MS = 15_000;
/** Longer than a healthy JetStream API answer by far, shorter than the interval. */
export const CLUSTER_HEALTH_REQUEST_TIMEOUT_MS = 5_000;
/** JetStream info requests in flight at once: a component reads at most a handful of consumers. */
export const CLUSTER_HEALTH_CONCURRENCY = 4;

export interface ClusterHealthOptions {
  /** null: PostgreSQL only (a tool, a test); the host always passes the component's connection. */
  readonly nc: NatsConnection | null;
  /** The component's durable consumers (ComponentDefinition.consumers); their streams are watched too. */
  readonly consumes: readonly { readonly stream: string; readonly durableName: string }[];
  /** The component's pool, or null when it keeps no data in PostgreSQL. */
  readonly pool: Pool | null;
  readonly registry: Registry;
  readonly log: Logger;
  readonly intervalMs?: number;
  readonly requestTimeoutMs?: number;
}

export interface ClusterHealth {
  /** One poll of everything watched; what the timer runs. Never rejects. */
  pollOnce(): Promise<void>;
  /** Stops the timer and waits for a poll in flight, at most one request timeout: shutdown must not hang on it. */
  stop(): Promise<void>;
}

/** What an info request said about a leader: its name, none (the request timed out), or nothing (another error). */
type LeaderAnswer = { readonly leader: string; readonly laggingReplicas: number } | 'no-leader' | 'unanswered';

/**
 * An info request no leader answered: a timeout, no responders, or the server's own "JetStream
 * cluster not available" (status 503). Other errors (not found, permissions, a closed connection)
 * say nothing about leaders.
 */
export function meansNoLeader(err: unknown): boolean {
  for (let e = err as { name?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e instanceof errors.TimeoutError || e instanceof errors.NoRespondersError) return true;
    if (e instanceof JetStreamApiError && e.status === 503) return true;
  }
  return false;
}

/**
 * The leader an info response names. A server outside a cluster names itself or no one, and has
 * no replicas: its leader is known (the one server) and nothing lags.
 */
export function leaderOf(
  cluster: { name?: string; leader?: string; replicas?: { current: boolean }[] } | undefined,
): { leader: string; laggingReplicas: number } | null {
  if (!cluster?.name && !cluster?.replicas?.length) return { leader: cluster?.leader ?? 'standalone', laggingReplicas: 0 };
  if (!cluster.leader) return null;
  return { leader: cluster.leader, laggingReplicas: (cluster.replicas ?? []).filter((r) => !r.current).length };
}

/** Last leader seen per key, and whether it changed: the first one seen is not a change; an unknown one in between is not either. */
class LeaderHistory {
  readonly #last = new Map<string, string>();

  /** True when `leader` differs from the last known leader of `key`. */
  changed(key: string, leader: string): boolean {
    const before = this.#last.get(key);
    this.#last.set(key, leader);
    return before !== undefined && before !== leader;
  }
}

type ClusterInfo = { name?: string; leader?: string; replicas?: { current: boolean }[] };
type WatchedConsumer = { readonly stream: string; readonly durableName: string };
type WarnOnce = (key: string, fields: Record<string, unknown>, message: string) => void;

export function startClusterHealth(options: ClusterHealthOptions): ClusterHealth {
  const { nc, pool, registry, log } = options;
  const intervalMs = options.intervalMs ?? CLUSTER_HEALTH_INTERVAL_MS;
  const timeoutMs = options.requestTimeoutMs ?? CLUSTER_HEALTH_REQUEST_TIMEOUT_MS;
  const warnOnce = createWarnOnce(log);
  const jobs = [
    ...natsPollJobs(nc, options.consumes, registry, timeoutMs, warnOnce),
    ...(pool === null ? [] : [postgresPoller(pool, registry, warnOnce)]),
  ];

  let inFlight: Promise<void> | null = null;
  const pollOnce = (): Promise<void> => {
    inFlight ??= (async () => {
      try {
        await runLimited(jobs, CLUSTER_HEALTH_CONCURRENCY);
      } catch (err) {
        warnOnce(`poll:${(err as Error).name}`, { err }, 'cluster health: poll failed');
      }
    })().finally(() => {
      inFlight = null;
    });
    return inFlight;
  };

  const timer = setInterval(() => void pollOnce(), intervalMs);
  timer.unref();
  void pollOnce();
  return {
    pollOnce,
    stop: async () => {
      clearInterval(timer);
      if (!inFlight) return;
      let waited: NodeJS.Timeout | undefined;
      await Promise.race([inFlight, new Promise<void>((resolve) => {
        waited = setTimeout(resolve, timeoutMs);
        waited.unref();
      })]);
      clearTimeout(waited);
    },
  };
}

/** One warning per distinct failure, not one per poll: a missing permission would say so every 15 s. */
function createWarnOnce(log: Logger): WarnOnce {
  const warned = new Set<string>();
  return (key, fields, message) => {
    if (warned.has(key)) return;
    warned.add(key);
    log.warn(fields, message);
  };
}

/** One job per watched stream and per durable consumer, each setting its leader gauges; none without a connection. */
function natsPollJobs(
  nc: NatsConnection | null, consumes: readonly WatchedConsumer[], registry: Registry, timeoutMs: number, warnOnce: WarnOnce,
): (() => Promise<void>)[] {
  const consumers = nc === null ? [] : [...new Map(consumes.map((c) => [`${c.stream}/${c.durableName}`, c])).values()];
  const streams = [...new Set(consumers.map((c) => c.stream))];
  const gauges = natsGauges(registry, streams, consumers);
  if (nc === null) return [];
  const history = new LeaderHistory();
  const ask = leaderAsker(nc, timeoutMs, warnOnce);

  const pollStream = async (stream: string): Promise<void> => {
    const answer = await ask(`stream ${stream}`, (m) => m.streams.info(stream));
    if (answer === 'unanswered') return;
    if (answer === 'no-leader') {
      gauges.streamLeaderKnown.set({ stream }, 0);
      return;
    }
    gauges.streamLeaderKnown.set({ stream }, 1);
    gauges.replicasLagging.set({ stream }, answer.laggingReplicas);
    if (history.changed(`stream:${stream}`, answer.leader)) gauges.streamLeaderChanges.inc({ stream });
  };

  const pollConsumer = async (c: WatchedConsumer): Promise<void> => {
    const labels = { stream: c.stream, consumer: c.durableName };
    const answer = await ask(`consumer ${c.stream}/${c.durableName}`, (m) => m.consumers.info(c.stream, c.durableName));
    if (answer === 'unanswered') return;
    gauges.consumerLeaderKnown.set(labels, answer === 'no-leader' ? 0 : 1);
    if (answer !== 'no-leader' && history.changed(`consumer:${c.stream}/${c.durableName}`, answer.leader)) {
      gauges.consumerLeaderChanges.inc(labels);
    }
  };

  return [...streams.map((s) => () => pollStream(s)), ...consumers.map((c) => () => pollConsumer(c))];
}

/** Asks JetStream for one stream's or consumer's info and reads its leader from the answer. Never rejects. */
function leaderAsker(nc: NatsConnection, timeoutMs: number, warnOnce: WarnOnce) {
  let jsm: JetStreamManager | null = null;
  return async (what: string, request: (m: JetStreamManager) => Promise<{ cluster?: ClusterInfo }>): Promise<LeaderAnswer> => {
    try {
      // Its own manager: the component's has the connection's timeout, too long for a poll.
      jsm ??= await jetstreamManager(nc, { timeout: timeoutMs, checkAPI: false });
      const found = leaderOf((await request(jsm)).cluster);
      return found ?? 'no-leader';
    } catch (err) {
      if (meansNoLeader(err)) return 'no-leader';
      warnOnce(`${what}:${(err as Error).name}`, { err, what }, 'cluster health: info request failed');
      return 'unanswered';
    }
  };
}

function natsGauges(registry: Registry, streams: readonly string[], consumers: readonly WatchedConsumer[]) {
  const registers = [registry];
  const streamLeaderKnown = new Gauge({ name: 'dialpay_nats_stream_leader_known',
    help: 'Whether the stream has a JetStream leader (1) or its info request went unanswered (0)', labelNames: ['stream'], registers });
  const streamLeaderChanges = new Counter({ name: 'dialpay_nats_stream_leader_changes_total',
    help: 'Times the stream\'s JetStream leader was seen to be another server', labelNames: ['stream'], registers });
  const replicasLagging = new Gauge({ name: 'dialpay_nats_stream_replicas_lagging',
    help: 'Replicas of the stream that are not current (behind or offline)', labelNames: ['stream'], registers });
  const consumerLeaderKnown = new Gauge({ name: 'dialpay_nats_consumer_leader_known',
    help: 'Whether the durable consumer has a JetStream leader (1) or its info request went unanswered (0)',
    labelNames: ['stream', 'consumer'], registers });
  const consumerLeaderChanges = new Counter({ name: 'dialpay_nats_consumer_leader_changes_total',
    help: 'Times the durable consumer\'s JetStream leader was seen to be another server', labelNames: ['stream', 'consumer'], registers });
  // Counters start at 0 for everything watched, so increase() sees the first change.
  for (const stream of streams) streamLeaderChanges.inc({ stream }, 0);
  for (const c of consumers) consumerLeaderChanges.inc({ stream: c.stream, consumer: c.durableName }, 0);
  return { streamLeaderKnown, streamLeaderChanges, replicasLagging, consumerLeaderKnown, consumerLeaderChanges };
}

/** The pool's standbys (how many stream, how far behind) and the failovers it followed since the last poll. */
function postgresPoller(pool: Pool, registry: Registry, warnOnce: WarnOnce): () => Promise<void> {
  const pg = postgresGauges(registry);
  let failoversSeen = 0;
  return async () => {
    pg.servers.set(poolFailoverState(pool).servers);
    try {
      const status = await replicationStatus(pool);
      if (status.hidden > 0) {
        pg.streaming.remove({});
        pg.lagBytes.remove({});
        warnOnce('pg:hidden', { hidden: status.hidden },
          'cluster health: pg_stat_replication hides the standbys\' state from this role; grant it pg_monitor to export standby lag');
      } else {
        pg.streaming.set(status.streaming);
        if (status.lagBytes === null) pg.lagBytes.remove({});
        else pg.lagBytes.set(Number(status.lagBytes));
      }
    } catch (err) {
      // Unreachable or read-only for now: no value rather than a stale one.
      pg.streaming.remove({});
      pg.lagBytes.remove({});
      warnOnce(`pg:${(err as Error).name}`, { err }, 'cluster health: reading pg_stat_replication failed');
    }
    // After the query: a failover it connected through is counted in this poll.
    const failovers = poolFailoverState(pool).failovers;
    if (failovers > failoversSeen) {
      pg.failovers.inc(failovers - failoversSeen);
      failoversSeen = failovers;
    }
  };
}

function postgresGauges(registry: Registry) {
  const registers = [registry];
  const lagBytes = new Gauge({ name: 'dialpay_postgres_standby_lag_bytes',
    help: 'WAL the slowest standby has not replayed, in bytes (pg_stat_replication on the primary; unset without pg_monitor)', registers });
  const streaming = new Gauge({ name: 'dialpay_postgres_standbys_streaming',
    help: 'Standbys streaming WAL from the primary (unset without pg_monitor)', registers });
  // Unset until read: a 0 before the first poll would look like a standby lost.
  lagBytes.remove({});
  streaming.remove({});
  return {
    lagBytes,
    streaming,
    servers: new Gauge({ name: 'dialpay_postgres_servers',
      help: 'Servers postgres.url names: more than one means standbys are expected', registers }),
    failovers: new Counter({ name: 'dialpay_postgres_failovers_total',
      help: 'Times the pool found another server accepting writes than the one before (a standby promoted)', registers }),
  };
}

/** Runs the jobs, at most `limit` at a time; each job handles its own errors. */
async function runLimited(jobs: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++] as () => Promise<void>;
      await job();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
}
