// The fault drills: each breaks one part of the running stack the way
// production sees it break, then undoes the fault the way operations (or a
// supervisor) would, and resolves once the broken part is back. What the
// payments did meanwhile is the runner's business (run.ts).
import type { Cluster } from '../harness/cluster.js';
import type { ComponentName } from '../../runtime/config/index.js';

export interface FaultTiming {
  /** How long NATS, PostgreSQL or the SMPP link stays down before it is back. */
  readonly outageMs: number;
  /** How long the operator's SMSC throttles. */
  readonly throttleMs: number;
  /** Submits per second above which the throttling SMSC answers ESME_RTHROTTLED. */
  readonly throttleAboveTps: number;
  /** How long the broken part may take to come back before the drill counts it as not recovered. */
  readonly backTimeoutMs: number;
}

export interface Drill {
  readonly name: string;
  /** What the drill does, for the report. */
  readonly fault: string;
  /** Injects the fault and undoes it; resolves once the broken part is back (restarted and ready, rebound, cleared). */
  inject(cluster: Cluster, timing: FaultTiming): Promise<void>;
  /** The runner adds agents' deposits and subscribers' withdrawals (harness/cash.ts) to the payment load. */
  readonly cashLoad?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const POLL_MS = 100;

async function until(what: string, timeoutMs: number, done: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what} not back within ${timeoutMs} ms`);
    await sleep(POLL_MS);
  }
}

/** Every component answers /readyz (NATS connected, PostgreSQL answering, outbox relaying) and the gateway is bound. */
export async function waitStackReady(cluster: Cluster, timeoutMs: number): Promise<void> {
  for (const name of cluster.components.keys()) {
    for (const c of cluster.replicas(name)) {
      await until(`${name}${c.replica > 0 ? ` replica ${c.replica}` : ''} /readyz`, timeoutMs, () => c.ready());
    }
  }
  await waitBound(cluster, timeoutMs);
}

export async function waitBound(cluster: Cluster, timeoutMs: number): Promise<void> {
  if (!cluster.components.has('gateway')) return;
  // Each gateway replica binds bindCount times.
  const binds = (cluster.config.operators[0]?.smpp.bindCount ?? 1) * cluster.replicas('gateway').length;
  await until(`gateway's ${binds} SMPP binds`, timeoutMs, () => cluster.smsc.boundSessions >= binds);
  const wallet = cluster.walletSmsc;
  if (wallet) {
    const walletBinds = (cluster.config.operators[1]?.smpp.bindCount ?? 1) * cluster.replicas('gateway').length;
    await until(`gateway's ${walletBinds} SMPP binds to the wallet operator`, timeoutMs, () => wallet.boundSessions >= walletBinds);
  }
}

export const natsRestart: Drill = {
  name: 'nats-restart',
  fault: 'nats-server stopped (SIGTERM), down for the outage, started again on the same store',
  inject: async (cluster, t) => {
    await cluster.nats.stop();
    await sleep(t.outageMs);
    await cluster.nats.restart();
    await waitStackReady(cluster, t.backTimeoutMs);
  },
};

export const natsKill: Drill = {
  name: 'nats-kill',
  fault: 'nats-server SIGKILLed (a crash: no clean close of its store), down for the outage, started again on the same store',
  inject: async (cluster, t) => {
    await cluster.nats.kill();
    await sleep(t.outageMs);
    await cluster.nats.restart();
    await waitStackReady(cluster, t.backTimeoutMs);
  },
};

export const postgresRestart: Drill = {
  name: 'postgres-restart',
  fault: 'PostgreSQL stopped (pg_ctl -m fast), down for the outage, started again',
  inject: async (cluster, t) => {
    await cluster.postgres.stop();
    await sleep(t.outageMs);
    await cluster.postgres.restart();
    await waitStackReady(cluster, t.backTimeoutMs);
  },
};

export const postgresCrash: Drill = {
  name: 'postgres-crash',
  fault: 'PostgreSQL stopped with pg_ctl -m immediate (a crash: WAL recovery at start), down for the outage, started again',
  inject: async (cluster, t) => {
    await cluster.postgres.kill();
    await sleep(t.outageMs);
    await cluster.postgres.restart();
    await waitStackReady(cluster, t.backTimeoutMs);
  },
};

export const smppLinkDrop: Drill = {
  name: 'smpp-link-drop',
  fault: "the SMSC drops every bound session's socket without an unbind; the gateway must bind again by itself",
  inject: async (cluster, t) => {
    cluster.smsc.disconnectAll();
    // The sockets close asynchronously: first see the binds gone, then back.
    await until('SMPP sessions closed', t.backTimeoutMs, () => cluster.smsc.boundSessions === 0);
    await waitBound(cluster, t.backTimeoutMs);
  },
};

export const smppLinkDown: Drill = {
  name: 'smpp-link-down',
  fault: 'the SMSC drops every session and cuts each new connection for the outage (the link is down); ' +
    'the gateway must keep trying and bind again',
  inject: async (cluster, t) => {
    cluster.smsc.disconnectAll(t.outageMs);
    await until('SMPP sessions closed', t.backTimeoutMs, () => cluster.smsc.boundSessions === 0);
    await sleep(t.outageMs);
    await waitBound(cluster, t.backTimeoutMs);
  },
};

export const operatorThrottle: Drill = {
  name: 'operator-throttle',
  fault: 'the SMSC answers ESME_RTHROTTLED above a low submit rate for a while, then stops throttling',
  inject: async (cluster, t) => {
    cluster.smsc.setFaults({ throttleAboveTps: t.throttleAboveTps });
    await sleep(t.throttleMs);
    cluster.smsc.setFaults({ throttleAboveTps: 0 });
  },
};

/** SIGKILL of one component process, then a start as a supervisor would do it. */
export function killComponent(name: ComponentName): Drill {
  return {
    name: `kill-${name}`,
    fault: `SIGKILL ${name}, then start it again at once (as a supervisor would)`,
    inject: async (cluster, t) => {
      const component = cluster.component(name);
      await component.stop('SIGKILL');
      await component.start(); // resolves at /readyz
      await waitStackReady(cluster, t.backTimeoutMs);
    },
  };
}

/** How long the stack runs between the two kills: long enough for flows to be in flight at billing's and at payments'. */
const BETWEEN_KILLS_MS = 2_000;

/**
 * Issue 16's drill: agents cash in and subscribers withdraw (cashLoad) while the two services
 * that move their money die: billing (which reserves from floats and wallets and captures into
 * them) and then payments (which holds the PIN and code challenges and asks billing to capture).
 */
export const cashKillBillingPayments: Drill = {
  name: 'cash-kill-billing-payments',
  fault: 'agents cash in (DEP, PIN) and subscribers withdraw (WITHDRAW, code) beside the payment load; SIGKILL billing and start it ' +
    'again, then SIGKILL payments and start it again',
  cashLoad: true,
  inject: async (cluster, t) => {
    for (const name of ['billing', 'payments'] as const) {
      const component = cluster.component(name);
      await component.stop('SIGKILL');
      await component.start();
      if (name === 'billing') await sleep(BETWEEN_KILLS_MS);
    }
    await waitStackReady(cluster, t.backTimeoutMs);
  },
};

/** Every drill for these components, in the order a full run takes them. */
export function allDrills(components: readonly ComponentName[]): Drill[] {
  return [
    smppLinkDrop,
    smppLinkDown,
    operatorThrottle,
    ...components.map(killComponent),
    ...(components.includes('billing') && components.includes('payments') ? [cashKillBillingPayments] : []),
    natsRestart,
    natsKill,
    postgresRestart,
    postgresCrash,
  ];
}
