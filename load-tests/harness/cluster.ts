// A dialpay stack the way production runs it: every component its own
// `dialpay <component>` process, nats-server and PostgreSQL beside them, and
// the operator (an SMSC simulator, and a CAMARA charging API when billing is over
// http) in the calling process. Benchmarks drive load through it; the fault
// drills kill and restart its parts.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { natsServers } from '../../runtime/nats/connect.js';
import { COMPONENT_NAMES, type ComponentName, type Config } from '../../runtime/config/index.js';
import { validateConfig } from '../../cli/config.js';
import {
  freePort, startNatsCluster, startNatsServer, startPostgres, startStandby, type NatsClusterHandle, type NatsServerHandle,
  type PostgresHandle, type StandbyHandle,
} from '../../runtime/engines/index.js';
import { ChargingApiSimulator, SmscSimulator } from '../../operator-sim/index.js';
import { pidOf, treeOf } from './processes.js';

const here = fileURLToPath(new URL('.', import.meta.url));
/** The project root, whether this runs compiled (dist/load-tests/harness) or from source with tsx. */
export const PROJECT_ROOT = here.replace(/\/(dist\/)?load-tests\/harness\/?$/, '/');
const compiled = here.includes('/dist/');
const READY_TIMEOUT_MS = 60_000;
/** processGroups()' name for this process: the load generator and the simulated operator, not the system under test. */
export const LOAD_GENERATOR_GROUP = 'load generator + operator sim';
const STOP_TIMEOUT_MS = 30_000;

export interface ClusterOptions {
  /** Components to run, each as its own process, started in this order (billing migrates first). */
  readonly components: readonly ComponentName[];
  /** simulator: billing's in-process simulated carrier; http: the CAMARA charging API simulator here (operator-sim/charging-api.ts). */
  readonly carrier: 'simulator' | 'http';
  readonly durablePostgres?: boolean;
  readonly postgresSettings?: readonly string[];
  readonly logLevel?: string;
  readonly smscReceiptDelayMs?: number;
  /** Extra node flags for every component, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']. */
  readonly componentNodeArgs?: readonly string[];
  /**
   * Gives operators[1] (orange-sn, the `wallet` billing model: its subscribers' money comes in
   * through agents) an SMSC of its own (walletSmsc), the gateway binding to it as a client. The
   * example config has that operator's SMSC bind to us (server mode); a client bind lets the
   * harness reuse SmscSimulator and its phones. Without it that link has no peer.
   */
  readonly walletOperatorSmsc?: boolean;
  /** Last word on the config (the example config, wired to this cluster's engines and ports). */
  readonly configure?: (raw: any) => void;
  /** NATS nodes: 1 (default) is one nats-server; 3 is the production shape, every stream R3. */
  readonly natsNodes?: number;
  /** A synchronous streaming standby, and a postgres.url naming both servers (read-write), as production runs. */
  readonly postgresStandby?: boolean;
  /** Processes per component (default 1 each), each with its own ops, API and SMPP server ports. */
  readonly replicas?: Partial<Record<ComponentName, number>>;
}

/** Processes of one component at most: every one needs its own ports. */
export const REPLICAS_MAX = 4;

export interface ComponentProcess {
  readonly name: ComponentName;
  /** 0 for the first process of the component, 1 for its second replica, and so on. */
  readonly replica: number;
  readonly opsPort: number;
  pid(): number | null;
  /** Whether its /readyz answers 200 now. */
  ready(): Promise<boolean>;
  /** Starts the process and waits for /readyz. */
  start(): Promise<void>;
  /** Sends the signal and waits for the exit; SIGTERM is the graceful drain. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  /** The component's /metrics text. */
  metrics(): Promise<string>;
}

export interface Cluster {
  readonly workDir: string;
  readonly configPath: string;
  /** The config the components read, as they read it (validated: defaults in place, number ranges without '+'). */
  readonly config: Config;
  /** The one nats-server, or the cluster's first node. */
  readonly nats: NatsServerHandle;
  /** Every node, when natsNodes > 1. */
  readonly natsCluster: NatsClusterHandle | null;
  /** The primary PostgreSQL (the one the harness started first, even after a failover). */
  readonly postgres: PostgresHandle;
  readonly standby: StandbyHandle | null;
  /** postgres.url as the components read it: with a standby, both servers (read-write); open it with createPool or writableUrl. */
  readonly databaseUrl: string;
  readonly smsc: SmscSimulator;
  /** operators[1]'s SMSC when ClusterOptions.walletOperatorSmsc asked for one, else null. */
  readonly walletSmsc: SmscSimulator | null;
  readonly chargingApi: ChargingApiSimulator | null;
  /** Each component's first process. */
  readonly components: ReadonlyMap<ComponentName, ComponentProcess>;
  /** A component's first process (replica 0), or the one asked for. */
  component(name: ComponentName, replica?: number): ComponentProcess;
  /** Every process of a component. */
  replicas(name: ComponentName): readonly ComponentProcess[];
  /** Every process id a component has had, to name its CPU profile or log lines afterwards. */
  readonly pidNames: ReadonlyMap<number, ComponentName>;
  /** Process ids by group, for ProcessWatch: each component, nats-server, PostgreSQL and its backends. */
  processGroups(): Map<string, () => number[]>;
  stop(): Promise<void>;
}

function componentProcess(name: ComponentName, replica: number, env: Readonly<Record<string, string>>, configPath: string, opsPort: number,
  logPath: string, nodeArgs: readonly string[], pidNames: Map<number, ComponentName>): ComponentProcess {
  let child: ChildProcess | null = null;
  const cli = [...nodeArgs, ...(compiled ? [join(PROJECT_ROOT, 'dist/cli/dialpay.js')] : ['--import', 'tsx',
    join(PROJECT_ROOT, 'cli/dialpay.ts')])];
  const ready = async (): Promise<boolean> => {
    const res = await fetch(`http://127.0.0.1:${opsPort}/readyz`, { signal: AbortSignal.timeout(1_000) }).catch(() => null);
    return res?.status === 200;
  };
  const self: ComponentProcess = {
    name,
    replica,
    opsPort,
    pid: () => child?.pid ?? null,
    ready,
    start: async () => {
      const logFd = openSync(logPath, 'a');
      const started = spawn(process.execPath, [...cli, name, '--config', configPath],
        { cwd: PROJECT_ROOT, stdio: ['ignore', logFd, logFd], env: { ...process.env, ...env } });
      closeSync(logFd);
      child = started;
      if (started.pid !== undefined) pidNames.set(started.pid, name);
      const deadline = Date.now() + READY_TIMEOUT_MS;
      while (!(await ready())) {
        if (started.exitCode !== null || started.signalCode !== null) throw new Error(`${name} exited ` +
          `(${started.exitCode ?? started.signalCode}) before it was ready; see ${logPath}`);
        if (Date.now() > deadline) throw new Error(`${name} not ready within ${READY_TIMEOUT_MS} ms; see ${logPath}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop: async (signal = 'SIGTERM') => {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill(signal);
      const timer = setTimeout(() => c.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      child = null;
    },
    restart: async () => {
      await self.stop();
      await self.start();
    },
    metrics: async () => (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text(),
  };
  return self;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const workDir = mkdtempSync(join(tmpdir(), 'dialpay-cluster-'));
  const natsNodes = options.natsNodes ?? 1;
  const [natsCluster, postgres] = await Promise.all([
    natsNodes > 1 ? startNatsCluster({ nodes: natsNodes, storeDir: join(workDir, 'nats') }) : null,
    startPostgres({ durable: options.durablePostgres ?? true, settings: options.postgresSettings ?? [] }),
  ]);
  const nats = natsCluster ? (natsCluster.nodes[0] as NatsServerHandle) : await startNatsServer({ storeDir: join(workDir, 'nats') });
  // A cluster takes JetStream requests only once it has elected a meta leader; the first component provisions at start.
  if (natsCluster) await waitJetStreamReady(natsCluster.url, 60_000);
  await postgres.createDatabase('dialpay');
  const standby = options.postgresStandby ? await startStandby(postgres,
    { durable: options.durablePostgres ?? true, settings: options.postgresSettings ?? [], synchronous: true }) : null;
  // With a standby, both servers over TCP (a socket folder cannot name two servers), the writable one chosen at connect.
  const databaseUrl = standby
    ? `postgres://postgres@127.0.0.1:${postgres.port},127.0.0.1:${standby.port}/dialpay?target_session_attrs=read-write`
    : postgres.urlFor('dialpay');
  const smsc = new SmscSimulator({ systemId: 'dialpay', password: 'secret1', receiptDelayMs: options.smscReceiptDelayMs ?? 50 });
  const walletSmsc = options.walletOperatorSmsc ? new SmscSimulator({ systemId: 'orangesn', password: 'secret2',
    receiptDelayMs: options.smscReceiptDelayMs ?? 50 }) : null;
  const chargingApi = options.carrier === 'http' ? new ChargingApiSimulator({ openingBalanceMinor: 10n ** 12n, clientId: 'dialpay',
    clientSecret: 'camara-secret' }) : null;

  const raw = parse(readFileSync(join(PROJECT_ROOT, 'dialpay.example.yaml'), 'utf8')) as any;
  raw.nats.url = natsCluster ? natsCluster.url : nats.url;
  if (natsCluster) raw.nats.streamReplicas = Math.min(3, natsNodes);
  raw.postgres = { ...raw.postgres, url: databaseUrl };
  raw.log = { level: options.logLevel ?? 'warn' };
  raw.http.opsPorts = Object.fromEntries(await Promise.all(COMPONENT_NAMES.map(async (c) => [c, await freePort()])));
  raw.ussd.http.port = await freePort();
  raw.merchantApi.port = await freePort();
  Object.assign(raw.operators[0].smpp, { port: await smsc.start(), reconnectDelayMsMin: 100, reconnectDelayMsMax: 1_000 });
  if (walletSmsc) {
    raw.operators[1].smpp = { mode: 'client', host: '127.0.0.1', port: await walletSmsc.start(), systemId: 'orangesn', password: 'secret2',
      bindCount: 1, windowSize: 100, reconnectDelayMsMin: 100, reconnectDelayMsMax: 1_000 };
  } else {
    raw.operators[1].smpp.port = await freePort();
  }
  // One billing process: its simulated carrier keeps its state in the process, so the records count
  // our statements, not the simulated carrier's. Billing replicas share it in PostgreSQL.
  raw.billingSimulator = { state: (options.replicas?.billing ?? 1) > 1 ? 'shared' : 'process' };
  if (chargingApi) Object.assign(raw.operators[0], { billingAdapter: 'http',
    charging: { baseUrl: await chargingApi.start(), timeoutMs: 2_000, tokenUrl: chargingApi.tokenUrl, clientId: 'dialpay',
      clientSecret: 'camara-secret' } });
  options.configure?.(raw);
  const configPath = join(workDir, 'dialpay.yaml');
  writeFileSync(configPath, stringify(raw));

  const replicas = new Map<ComponentName, ComponentProcess[]>();
  const pidNames = new Map<number, ComponentName>();
  for (const name of options.components) {
    const count = options.replicas?.[name] ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > REPLICAS_MAX) {
      throw new RangeError(`${name}: 1 to ${REPLICAS_MAX} replicas, not ${count}`);
    }
    const processes: ComponentProcess[] = [];
    for (let replica = 0; replica < count; replica++) {
      const { opsPort, env } = replica === 0 ? { opsPort: raw.http.opsPorts[name] as number, env: {} } : await replicaPorts(name, raw);
      const component = componentProcess(name, replica, env, configPath, opsPort,
        join(workDir, replica === 0 ? `${name}.log` : `${name}-${replica}.log`), options.componentNodeArgs ?? [], pidNames);
      processes.push(component);
      // One at a time: each migrates its own schema and declares its streams before the next starts.
      await component.start();
    }
    replicas.set(name, processes);
  }
  const components = new Map([...replicas].map(([name, processes]) => [name, processes[0] as ComponentProcess]));
  let stopped = false;
  const replicasOf = (name: ComponentName): ComponentProcess[] => {
    const found = replicas.get(name);
    if (!found) throw new Error(`${name} is not running in this cluster`);
    return found;
  };
  const engines = natsCluster ? natsCluster.nodes : [nats];
  return {
    workDir,
    configPath,
    config: validateConfig(structuredClone(raw)),
    nats,
    natsCluster,
    postgres,
    standby,
    databaseUrl,
    smsc,
    walletSmsc,
    chargingApi,
    components,
    component: (name, replica = 0) => {
      const found = replicasOf(name)[replica];
      if (!found) throw new Error(`${name} has no replica ${replica}`);
      return found;
    },
    replicas: replicasOf,
    pidNames,
    processGroups: () => {
      const groups = new Map<string, () => number[]>();
      for (const [name, processes] of replicas) groups.set(name, () => processes.flatMap((c) => pidOf(c.pid())));
      groups.set('nats-server', () => engines.flatMap((n) => pidOf(n.pid())));
      groups.set('postgres', () => [...treeOf(postgres.pid()), ...(standby ? treeOf(standby.pid()) : [])]);
      groups.set(LOAD_GENERATOR_GROUP, () => [process.pid]);
      return groups;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      // Gateway first (stop taking traffic), then the services, as production would.
      for (const processes of [...replicas.values()].reverse()) await Promise.all(processes.map((c) => c.stop()));
      await smsc.stop();
      await walletSmsc?.stop();
      await chargingApi?.stop();
      await Promise.allSettled([natsCluster ? natsCluster.stop() : nats.stop(), postgres.stop(), standby?.stop()]);
    },
  };
}

/**
 * A second (third...) process of a component on the same machine: its own ops port and, for the
 * gateway, its own merchant API, USSD HTTP and server-mode SMPP ports, through environment
 * overrides of the one config file.
 */
async function replicaPorts(name: ComponentName, raw: any): Promise<{ opsPort: number; env: Record<string, string> }> {
  const opsPort = await freePort();
  const env: Record<string, string> = { [`DIALPAY__http__opsPorts__${name}`]: String(opsPort) };
  if (name === 'gateway') {
    env.DIALPAY__merchantApi__port = String(await freePort());
    env.DIALPAY__ussd__http__port = String(await freePort());
    for (const [i, operator] of (raw.operators as any[]).entries()) {
      if (operator.smpp?.mode === 'server') env[`DIALPAY__operators__${i}__smpp__port`] = String(await freePort());
    }
  }
  return { opsPort, env };
}

/** Resolves once the NATS cluster answers JetStream requests (a meta leader is elected). */
async function waitJetStreamReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nc = await connect({ servers: natsServers(url), timeout: 5_000 }).catch(() => null);
    const ok = nc ? await jetstreamManager(nc, { timeout: 2_000 }).then(() => true, () => false) : false;
    await nc?.close();
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`NATS cluster at ${url}: no JetStream meta leader within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The payments benches' settings on the example config: fast links, limits out of the way, pools and consumers wide. */
export function paymentsBenchConfig(raw: any): void {
  Object.assign(raw.operators[0].smpp, { bindCount: 2, windowSize: 500, throughputPerSecondMax: 20_000 });
  raw.postgres.poolSizeMax = Number(process.env.BENCH_POOL ?? 20);
  raw.limits.paymentsPerMinuteMax = 1_000;
  raw.limits.pinRequiredAboveMinor = 10_000_000;
  raw.outbox = { pollIntervalMs: 1_000, batchSizeMax: 500 };
  raw.consumers = { ...raw.consumers, inFlightMax: Number(process.env.BENCH_CONSUMER_IN_FLIGHT ?? 256) };
}

/** Log lines a component wrote, for a failure report. */
export function componentLog(cluster: Cluster, name: ComponentName, tailBytes = 4_000, replica = 0): string {
  const path = join(cluster.workDir, replica === 0 ? `${name}.log` : `${name}-${replica}.log`);
  return existsSync(path) ? readFileSync(path, 'utf8').slice(-tailBytes) : '';
}
