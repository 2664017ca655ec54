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
import { COMPONENT_NAMES, validateConfig, type ComponentName, type Config } from '../../runtime/config/index.js';
import { freePort, startNatsServer, startPostgres, type NatsServerHandle, type PostgresHandle } from '../../runtime/engines/index.js';
import { SmscSimulator } from '../operator-sim/smsc.js';
import { ChargingApiSimulator } from '../operator-sim/charging-api.js';
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
}

export interface ComponentProcess {
  readonly name: ComponentName;
  readonly opsPort: number;
  pid(): number | null;
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
  readonly nats: NatsServerHandle;
  readonly postgres: PostgresHandle;
  readonly databaseUrl: string;
  readonly smsc: SmscSimulator;
  /** operators[1]'s SMSC when ClusterOptions.walletOperatorSmsc asked for one, else null. */
  readonly walletSmsc: SmscSimulator | null;
  readonly chargingApi: ChargingApiSimulator | null;
  readonly components: ReadonlyMap<ComponentName, ComponentProcess>;
  component(name: ComponentName): ComponentProcess;
  /** Every process id a component has had, to name its CPU profile or log lines afterwards. */
  readonly pidNames: ReadonlyMap<number, ComponentName>;
  /** Process ids by group, for ProcessWatch: each component, nats-server, PostgreSQL and its backends. */
  processGroups(): Map<string, () => number[]>;
  stop(): Promise<void>;
}

function componentProcess(name: ComponentName, configPath: string, opsPort: number, logPath: string, nodeArgs: readonly string[], pidNames: Map<number, ComponentName>): ComponentProcess {
  let child: ChildProcess | null = null;
  const cli = [...nodeArgs, ...(compiled ? [join(PROJECT_ROOT, 'dist/cli/dialpay.js')] : ['--import', 'tsx', join(PROJECT_ROOT, 'cli/dialpay.ts')])];
  const ready = async (): Promise<boolean> => {
    const res = await fetch(`http://127.0.0.1:${opsPort}/readyz`, { signal: AbortSignal.timeout(1_000) }).catch(() => null);
    return res?.status === 200;
  };
  const self: ComponentProcess = {
    name,
    opsPort,
    pid: () => child?.pid ?? null,
    start: async () => {
      const logFd = openSync(logPath, 'a');
      const started = spawn(process.execPath, [...cli, name, '--config', configPath], { cwd: PROJECT_ROOT, stdio: ['ignore', logFd, logFd] });
      closeSync(logFd);
      child = started;
      if (started.pid !== undefined) pidNames.set(started.pid, name);
      const deadline = Date.now() + READY_TIMEOUT_MS;
      while (!(await ready())) {
        if (started.exitCode !== null || started.signalCode !== null) throw new Error(`${name} exited (${started.exitCode ?? started.signalCode}) before it was ready; see ${logPath}`);
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
  const [nats, postgres] = await Promise.all([
    startNatsServer({ storeDir: join(workDir, 'nats') }),
    startPostgres({ durable: options.durablePostgres ?? true, settings: options.postgresSettings ?? [] }),
  ]);
  await postgres.createDatabase('dialpay');
  const smsc = new SmscSimulator({ systemId: 'dialpay', password: 'secret1', receiptDelayMs: options.smscReceiptDelayMs ?? 50 });
  const walletSmsc = options.walletOperatorSmsc ? new SmscSimulator({ systemId: 'orangesn', password: 'secret2', receiptDelayMs: options.smscReceiptDelayMs ?? 50 }) : null;
  const chargingApi = options.carrier === 'http' ? new ChargingApiSimulator({ openingBalanceMinor: 10n ** 12n, clientId: 'dialpay', clientSecret: 'camara-secret' }) : null;

  const raw = parse(readFileSync(join(PROJECT_ROOT, 'dialpay.example.yaml'), 'utf8')) as any;
  raw.nats.url = nats.url;
  raw.postgres = { ...raw.postgres, url: postgres.urlFor('dialpay') };
  raw.log = { level: options.logLevel ?? 'warn' };
  raw.http.opsPorts = Object.fromEntries(await Promise.all(COMPONENT_NAMES.map(async (c) => [c, await freePort()])));
  raw.ussd.http.port = await freePort();
  raw.merchantApi.port = await freePort();
  Object.assign(raw.operators[0].smpp, { port: await smsc.start(), reconnectDelayMsMin: 100, reconnectDelayMsMax: 1_000 });
  if (walletSmsc) {
    raw.operators[1].smpp = { mode: 'client', host: '127.0.0.1', port: await walletSmsc.start(), systemId: 'orangesn', password: 'secret2', bindCount: 1, windowSize: 100, reconnectDelayMsMin: 100, reconnectDelayMsMax: 1_000 };
  } else {
    raw.operators[1].smpp.port = await freePort();
  }
  if (chargingApi) Object.assign(raw.operators[0], { billingAdapter: 'http', charging: { baseUrl: await chargingApi.start(), timeoutMs: 2_000, tokenUrl: chargingApi.tokenUrl, clientId: 'dialpay', clientSecret: 'camara-secret' } });
  options.configure?.(raw);
  const configPath = join(workDir, 'dialpay.yaml');
  writeFileSync(configPath, stringify(raw));

  const components = new Map<ComponentName, ComponentProcess>();
  const pidNames = new Map<number, ComponentName>();
  for (const name of options.components) {
    const component = componentProcess(name, configPath, raw.http.opsPorts[name], join(workDir, `${name}.log`), options.componentNodeArgs ?? [], pidNames);
    components.set(name, component);
    // One at a time: each migrates its own schema and declares its streams before the next starts.
    await component.start();
  }
  let stopped = false;
  const component = (name: ComponentName) => {
    const found = components.get(name);
    if (!found) throw new Error(`${name} is not running in this cluster`);
    return found;
  };
  return {
    workDir,
    configPath,
    config: validateConfig(structuredClone(raw)),
    nats,
    postgres,
    databaseUrl: postgres.urlFor('dialpay'),
    smsc,
    walletSmsc,
    chargingApi,
    components,
    component,
    pidNames,
    processGroups: () => {
      const groups = new Map<string, () => number[]>();
      for (const [name, c] of components) groups.set(name, () => pidOf(c.pid()));
      groups.set('nats-server', () => pidOf(nats.pid()));
      groups.set('postgres', () => treeOf(postgres.pid()));
      groups.set(LOAD_GENERATOR_GROUP, () => [process.pid]);
      return groups;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      // Gateway first (stop taking traffic), then the services, as production would.
      for (const c of [...components.values()].reverse()) await c.stop();
      await smsc.stop();
      await walletSmsc?.stop();
      await chargingApi?.stop();
      await Promise.allSettled([nats.stop(), postgres.stop()]);
    },
  };
}

/** Log lines a component wrote, for a failure report. */
export function componentLog(cluster: Cluster, name: ComponentName, tailBytes = 4_000): string {
  const path = join(cluster.workDir, `${name}.log`);
  return existsSync(path) ? readFileSync(path, 'utf8').slice(-tailBytes) : '';
}
