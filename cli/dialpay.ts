#!/usr/bin/env node
// dialpay: one command, a subcommand per component.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { COMPONENT_NAMES, ConfigError, type ComponentName, type Config } from '../runtime/config/index.js';
import { loadConfigFile } from './config.js';
import { createLogger, type Logger } from '../runtime/log.js';
import { migrateAll, provisionNats, startHost, type Host } from '../runtime/host.js';
import { natsServerAuthorization } from '../runtime/nats/permissions.js';
import { COMPONENTS, TOPOLOGY, componentByName } from './components.js';
import { runDev } from './dev.js';
import { newApiKey } from '../runtime/api-keys.js';
import { openApiDocument } from '../gateway/merchant-api/openapi.js';
import { replayDeadLetters } from '../services/webhooks/index.js';
import { resetPin } from '../services/payments/index.js';
import { InteropDayStillOpenError, InteropSettlement, SettlementService, windowId, writeInteropReports, writeReports } from '../services/settlement/index.js';
import { reconcileOnce } from '../services/reconciliation/index.js';
import { createPool, databaseName, ensureDatabase } from '../runtime/pg/index.js';
import { Leases } from '../runtime/pg/lease.js';
import { EngineUnavailableError, withPostgres } from '../runtime/engine-error.js';
import { connectNats, natsOptionsFor, replayDeadLetters as replayConsumerDeadLetters, summariseDeadLetters } from '../runtime/nats/index.js';
import { hashSecret } from '../runtime/secrets.js';
import { parsePeerPasswords, startOperatorSim } from '../operator-sim/index.js';
import { PHONE_LINE_DEFAULT } from '../operator-sim/index.js';
import { runPhone } from './phone.js';
import { AGENT_USAGE, runAgentCommand } from './agent.js';

const USAGE = `usage: dialpay <command> [--config FILE]

components (each runs until SIGTERM):
  gateway          SMPP, USSD and merchant HTTP edges
  payments         SMS commands, challenges, limits, payment state
  ussd             USSD menus
  billing          carrier debits and the ledger
  settlement       merchant payouts and revenue share
  reconciliation   operator charging records against the ledger
  webhooks         signed merchant webhooks, retried for hours
  all              every component in this process, still talking through NATS

other commands:
  migrate          create the database if it is missing, apply every service's schema migrations, then exit
  provision        create or update the JetStream streams, consumers and KV buckets as the NATS
                   admin user (nats.users.admin), then exit
  nats-config      print the nats-server authorization block: one user per component, each
                   allowed only its own subjects (deploy/README.md, "NATS users")
  operator-sim [--phone-line HOST:PORT] [--traffic-ms N]
                   a simulated operator: an SMSC per client-mode operator, an aggregator for
                   server-mode ones, charging APIs, a few phones that pay every N ms (3000; 0 for
                   none), and the phone line that \`dialpay phone\` attaches to (127.0.0.1:9190)
  phone MSISDN [--phone-line HOST:PORT]
                   a phone in this terminal, attached to operator-sim's phone line: type an SMS
                   to the short code, dial *384# for the USSD menu, read what comes back
  dev              start NATS and PostgreSQL under .data/ when none is reachable,
                   the operator simulator, then every component
  hash-password    read a password on stdin, print its scrypt hash for the config
  api-key          make an API key: prints the key once, and the entry for merchants[].apiKeys (or operators[].apiKeys)
  settle --operator ID --window YYYY-MM-DD [--out DIR] [--paid]
                   close that settlement window (idempotent) and write its CSV and JSON reports;
                   --paid marks a closed window paid out (SETTLED); while another process (a
                   settlement replica) closes it, waits for it, then answers with its batch
  settle --interop --window YYYY-MM-DD [--out DIR]
                   close that UTC day's operator-to-operator settlement (idempotent): the net
                   position of each pair of operators per currency, as CSV and JSON reports
  reconcile --operator ID FILE [--out BASE] [--again]
                   match an operator's charging-records CSV against the ledger; writes BASE.csv
                   (every discrepancy and bad row) and BASE.json (the summary); exit 3 when a person must look;
                   a file reconciled before (same bytes, any host) answers with that run's summary
                   unless --again; one run per file at a time, a second waits for the first
  webhooks replay [--merchant ID]
                   send dead-lettered webhook events again (after the merchant's endpoint is back)
  pin reset --operator ID --msisdn NUMBER [--by AGENT]
                   customer care: clear a subscriber's PIN and its lock (after checking who calls);
                   they are told by SMS and choose a new PIN at their next USSD dial; refused
                   while a payment waits for the PIN; the log records AGENT (default: the login)
${AGENT_USAGE}  dlq list         the dead-letter stream per consumer: how many, and the newest error
  dlq replay --consumer NAME
                   put a consumer's dead letters back on their subject once the cause is fixed;
                   handlers are idempotent on their ids, so work already done is not done twice
  openapi          print the merchant API's OpenAPI 3.1 document (the repo keeps it in gateway/merchant-api/openapi.json)

--config FILE defaults to $DIALPAY_CONFIG, then ./dialpay.yaml, then ./dialpay.example.yaml.
Environment overrides: DIALPAY__<key>__<key>=value, for example DIALPAY__nats__url=nats://10.0.0.5:4222.
`;

export const EXIT_CONFIG_ERROR = 2;
/** A command used wrongly (a missing or bad argument): sysexits' EX_USAGE. */
const EXIT_USAGE = 64;

/** An engine that cannot be used at start gets one line naming its config key, not a stack trace; anything else is rethrown. */
function exitIfEngineUnavailable(err: unknown): never {
  if (!(err instanceof EngineUnavailableError)) throw err;
  process.stderr.write(`dialpay: ${err.message}\n`);
  process.exit(1);
}

function defaultConfigPath(): string {
  if (process.env.DIALPAY_CONFIG) return process.env.DIALPAY_CONFIG;
  return existsSync('dialpay.yaml') ? 'dialpay.yaml' : 'dialpay.example.yaml';
}

/**
 * SIGHUP re-reads the config file (and the environment overrides) and hands it to the running
 * components, which apply what they can live (the merchant API's keys). A config that does not
 * load is logged, naming the key, and the running one stays. Installed before start: a SIGHUP
 * during provisioning or migration would otherwise meet node's default action and kill the
 * process. One that arrives then is applied once the components have started.
 */
function reloadOnHangup(configPath: string, log: Logger): { started(host: Host): void } {
  let running: Host | null = null;
  let pending = false;
  const reload = (host: Host) => {
    let next: Config;
    try {
      next = loadConfigFile(configPath);
    } catch (err) {
      log.error({ err, configPath }, 'config reload failed; the running config stays');
      return;
    }
    try {
      host.reloadConfig(next);
      log.info({ configPath }, 'config reloaded: merchant API keys applied; other settings take a restart');
    } catch (err) {
      log.error({ err, configPath }, 'config reload failed while applying it');
    }
  };
  process.on('SIGHUP', () => {
    if (running) return reload(running);
    if (!pending) log.info({ configPath }, 'SIGHUP during start-up: the config is re-read once started');
    pending = true;
  });
  return {
    started(host) {
      running = host;
      if (pending) reload(host);
      pending = false;
    },
  };
}

async function runUntilSignal(
  config: Config,
  names: readonly ComponentName[],
  configPath: string,
  afterStop: () => Promise<void> = async () => undefined,
): Promise<void> {
  const log = createLogger({ level: config.log.level });
  const reloads = reloadOnHangup(configPath, log);
  log.info({ components: names }, 'starting');
  const host = await startHost(config, names.map(componentByName), { log, topology: TOPOLOGY }).catch((err: unknown) => {
    // A component's own config check (the webhooks' secrets) is a config error too: exit 2, naming the key.
    if (err instanceof ConfigError) {
      process.stderr.write(`dialpay: ${err.message}\n`);
      process.exit(EXIT_CONFIG_ERROR);
    }
    return exitIfEngineUnavailable(err);
  });
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'draining');
    const hardStop = setTimeout(() => {
      log.error('drain took too long: exiting');
      process.exit(1);
    }, config.shutdown.drainTimeoutMs + 5_000);
    hardStop.unref();
    host.stop().then(afterStop).then(
      () => {
        log.info('drained, exiting');
        log.flush();
        process.exitCode = 0;
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  reloads.started(host);
}

/** What `dialpay settle` works with: the settlement service's NATS identity and a small pool (one connection holds the lease). */
async function settleEngines(config: Config) {
  const log = createLogger({ level: config.log.level, component: 'settle' });
  const nats = await connectNats(natsOptionsFor(config.nats, 'settlement', 'dialpay-settle'), log);
  const pool = createPool({ url: config.postgres.url, poolSizeMax: 3, connectTimeoutMs: config.postgres.connectTimeoutMs, statementTimeoutMs: 120_000, applicationName: 'dialpay-settle' }, log);
  return { log, nats, pool, leases: new Leases({ pool, log }) };
}

/**
 * How long `dialpay settle` and `dialpay reconcile` wait for another closer or run of the same
 * window (a settlement replica, another host's timer) to finish or die: longer than a close or a
 * run takes. Once it is free they answer with what it stored, or do the work it left unfinished.
 */
const LEASE_WAIT_MS = 15 * 60_000;
const leaseWaitNote = (what: string) => () => process.stderr.write(`dialpay: another process is ${what}; waiting for it (up to ${LEASE_WAIT_MS / 60_000} min)\n`);

/** `dialpay settle --interop --window DAY`: closes the UTC day's operator-to-operator settlement and writes its reports. */
async function settleInterop(config: Config, day: string | undefined, out: string | undefined): Promise<void> {
  if (!day) {
    process.stderr.write('dialpay settle --interop needs --window YYYY-MM-DD (a UTC day)\n');
    process.exit(EXIT_USAGE);
  }
  const { log, nats, pool, leases } = await settleEngines(config);
  try {
    const closed = await new InteropSettlement({ pool, nc: nats.nc, log, leases }).close(day, { leaseWaitMs: LEASE_WAIT_MS, onLeaseWait: leaseWaitNote(`closing interop/${day}`) });
    const base = writeInteropReports(out ?? '.', closed);
    process.stdout.write(`${closed.closedNow ? 'closed' : 'already closed'} ${closed.windowId}: ${closed.lines.length} pair(s) of operators; wrote ${base}.csv and ${base}.json\n`);
  } catch (err) {
    if (!(err instanceof InteropDayStillOpenError)) throw err;
    process.stderr.write(`dialpay: ${err.message}; nothing written\n`);
    process.exitCode = 1;
  } finally {
    await pool.end();
    await nats.close();
  }
}

export async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' }, 'phone-line': { type: 'string' }, 'traffic-ms': { type: 'string' }, consumer: { type: 'string' }, msisdn: { type: 'string' }, by: { type: 'string' }, merchant: { type: 'string' }, operator: { type: 'string' }, id: { type: 'string' }, name: { type: 'string' }, agent: { type: 'string' }, amount: { type: 'string' }, ref: { type: 'string' }, window: { type: 'string' }, out: { type: 'string' }, paid: { type: 'boolean' }, interop: { type: 'boolean' }, again: { type: 'boolean' } },
  });
  const command = positionals[0];
  if (values.help || !command || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (command === 'api-key') {
    const { key, stored } = newApiKey();
    process.stdout.write(`key (give it to the merchant or operator; it is not kept): ${key}\nconfig entry for merchants[].apiKeys (or operators[].apiKeys, the operator API): { id: ${stored.id}, sha256: ${stored.sha256} }\n`);
    return;
  }
  if (command === 'openapi') {
    process.stdout.write(`${JSON.stringify(openApiDocument(), null, 2)}\n`);
    return;
  }
  if (command === 'nats-config') {
    process.stdout.write(natsServerAuthorization(COMPONENTS));
    return;
  }
  if (command === 'phone') {
    // Exit at once on hang-up: an open stdin (a terminal, or a test's pipe) would keep the process alive.
    process.exit(await runPhone(positionals[1], { line: values['phone-line'] ?? PHONE_LINE_DEFAULT, input: process.stdin, output: process.stdout }));
  }
  if (command === 'hash-password') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    process.stdout.write(`${await hashSecret(Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, ''))}\n`);
    return;
  }
  const configPath = values.config ?? defaultConfigPath();
  let config: Config;
  try {
    config = loadConfigFile(configPath);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`dialpay: ${configPath}: ${err.message}\n`);
      process.exit(EXIT_CONFIG_ERROR);
    }
    throw err;
  }
  if (command === 'all') return runUntilSignal(config, COMPONENTS.map((c) => c.name), configPath);
  if ((COMPONENT_NAMES as readonly string[]).includes(command) && positionals.length === 1) return runUntilSignal(config, [command as ComponentName], configPath);
  if (command === 'provision') {
    const log = createLogger({ level: config.log.level, component: 'provision' });
    await provisionNats(config, log, TOPOLOGY).catch(exitIfEngineUnavailable);
    log.info('JetStream topology up to date');
    return;
  }
  if (command === 'migrate') {
    const log = createLogger({ level: config.log.level, component: 'migrate' });
    await withPostgres(config, async () => {
      if (await ensureDatabase(config.postgres.url, config.postgres.connectTimeoutMs)) log.info({ database: databaseName(config.postgres.url) }, 'database created');
      await migrateAll(config, COMPONENTS, log);
    }).catch(exitIfEngineUnavailable);
    log.info('migrations up to date');
    return;
  }
  if (command === 'operator-sim') {
    const trafficMs = Number(values['traffic-ms'] ?? 3_000);
    if (!Number.isInteger(trafficMs) || trafficMs < 0) {
      process.stderr.write('dialpay: --traffic-ms must be a whole number of milliseconds, 0 for none\n');
      process.exit(EXIT_USAGE);
    }
    const sim = await startOperatorSim(config, { trafficIntervalMs: trafficMs, phoneLine: values['phone-line'] ?? PHONE_LINE_DEFAULT, peerPasswords: parsePeerPasswords(process.env.DIALPAY_SIM_PEER_PASSWORDS), say: (l) => process.stdout.write(`operator-sim: ${l}\n`) });
    const stop = () => void sim.stop().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    return;
  }
  if (command === 'webhooks' && positionals[1] === 'replay') {
    const log = createLogger({ level: config.log.level, component: 'webhooks-replay' });
    const nats = await connectNats(natsOptionsFor(config.nats, 'admin', 'dialpay-webhooks-replay'), log);
    try {
      const replayed = await replayDeadLetters(nats, { merchantId: values.merchant, timeoutMs: config.nats.publishTimeoutMs });
      process.stdout.write(`replayed ${replayed} webhook event(s)\n`);
    } finally {
      await nats.close();
    }
    return;
  }
  if (command === 'dlq' && (positionals[1] === 'list' || positionals[1] === 'replay')) {
    const log = createLogger({ level: config.log.level, component: 'dlq' });
    if (positionals[1] === 'replay' && !TOPOLOGY.consumers.some((c) => c.durableName === values.consumer)) {
      process.stderr.write(`dialpay: dlq replay needs --consumer NAME, one of: ${TOPOLOGY.consumers.map((c) => c.durableName).join(', ')}\n`);
      process.exit(EXIT_USAGE);
    }
    const nats = await connectNats(natsOptionsFor(config.nats, 'admin', 'dialpay-dlq'), log);
    try {
      if (positionals[1] === 'list') {
        const summary = await summariseDeadLetters(nats);
        if (summary.length === 0) process.stdout.write('the DLQ is empty\n');
        for (const s of summary) process.stdout.write(`${s.consumer}: ${s.count}${s.truncated ? ' or more' : ''} dead letter(s); newest error: ${s.lastError || '(none recorded)'}\n`);
      } else {
        const replayed = await replayConsumerDeadLetters(nats, { consumer: values.consumer as string, timeoutMs: config.nats.publishTimeoutMs });
        process.stdout.write(`replayed ${replayed} message(s) of ${values.consumer}\n`);
      }
    } finally {
      await nats.close();
    }
    return;
  }
  if (command === 'pin' && positionals[1] === 'reset') {
    if (!values.operator || !values.msisdn || !config.operators.some((o) => o.id === values.operator)) {
      process.stderr.write(`dialpay pin reset needs --operator ID (one of: ${config.operators.map((o) => o.id).join(', ')}) and --msisdn NUMBER\n`);
      process.exit(EXIT_USAGE);
    }
    const log = createLogger({ level: config.log.level, component: 'pin-reset' });
    const pool = createPool({ url: config.postgres.url, poolSizeMax: 1, connectTimeoutMs: config.postgres.connectTimeoutMs, statementTimeoutMs: config.postgres.statementTimeoutMs, applicationName: 'dialpay-pin-reset' }, log);
    try {
      const result = await resetPin(pool, config, values.operator, values.msisdn);
      if (result.kind === 'bad-number') {
        process.stderr.write(`dialpay: "${values.msisdn}" is not a phone number of ${values.operator}\n`);
        process.exitCode = EXIT_USAGE;
      } else if (result.kind === 'unknown-subscriber') {
        process.stderr.write(`dialpay: +${result.msisdn} has never used dialpay; there is no PIN to reset\n`);
        process.exitCode = 1;
      } else if (result.kind === 'pin-challenges-open') {
        process.stderr.write(`dialpay: +${result.msisdn} has ${result.count} payment(s) under way that may ask for the PIN; nothing changed. They end within ${Math.ceil(config.limits.challengeTtlMs / 60_000)} min (or the subscriber sends STOP): try again then\n`);
        process.exitCode = 1;
      } else {
        // An audit line: whose PIN, by whom (--by, else the login), and that it was by hand.
        log.warn({ operator: values.operator, msisdn: result.msisdn, wasLocked: result.wasLocked, by: values.by ?? process.env.SUDO_USER ?? process.env.USER ?? 'unknown' }, 'PIN reset by customer care');
        process.stdout.write(`PIN of +${result.msisdn} reset${result.wasLocked ? ' (it was locked)' : ''}; they were told by SMS and choose a new one at their next USSD dial\n`);
      }
    } finally {
      await pool.end();
    }
    return;
  }
  if (command === 'agent') {
    process.exitCode = await runAgentCommand(config, positionals[1], values, EXIT_USAGE);
    return;
  }
  if (command === 'settle' && values.interop) return settleInterop(config, values.window, values.out);
  if (command === 'settle') {
    if (!values.operator || !values.window) {
      process.stderr.write('dialpay settle needs --operator ID and --window YYYY-MM-DD\n');
      process.exit(EXIT_USAGE);
    }
    const { log, nats, pool, leases } = await settleEngines(config);
    try {
      const service = new SettlementService({ pool, nc: nats.nc, config, log, leases });
      if (values.paid) {
        const id = windowId(values.operator, values.window);
        process.stdout.write(`${await service.markSettled(id)} ${id}\n`);
        return;
      }
      const closed = await service.close(values.operator, values.window, { leaseWaitMs: LEASE_WAIT_MS, onLeaseWait: leaseWaitNote(`closing ${windowId(values.operator, values.window)}`) });
      const base = writeReports(values.out ?? '.', closed);
      process.stdout.write(`${closed.closedNow ? 'closed' : 'already closed'} ${closed.windowId}: ${closed.batch.merchants.length} merchant(s); wrote ${base}.csv, ${base}-operator.csv and ${base}.json\n`);
    } finally {
      await pool.end();
      await nats.close();
    }
    return;
  }
  if (command === 'reconcile') {
    const file = positionals[1];
    const operator = config.operators.find((o) => o.id === values.operator);
    if (!file || !operator) {
      process.stderr.write('dialpay reconcile needs --operator ID (one in the config) and a FILE\n');
      process.exit(EXIT_USAGE);
    }
    const log = createLogger({ level: config.log.level, component: 'reconcile' });
    const nats = await connectNats(natsOptionsFor(config.nats, 'reconciliation', 'dialpay-reconcile'), log);
    // One connection holds the file's lease, one records the run.
    const pool = createPool({ url: config.postgres.url, poolSizeMax: 2, connectTimeoutMs: config.postgres.connectTimeoutMs, statementTimeoutMs: 120_000, applicationName: 'dialpay-reconcile' }, log);
    try {
      const { summary, ranNow } = await reconcileOnce({
        operator, file, outBase: values.out ?? `reconciliation-${operator.id}-${Date.now()}`, nc: nats.nc, js: nats.js, publishTimeoutMs: config.nats.publishTimeoutMs,
        pool, leases: new Leases({ pool, log }), leaseWaitMs: LEASE_WAIT_MS, onLeaseWait: leaseWaitNote(`reconciling this file for ${operator.id}`), again: values.again === true,
      });
      process.stdout.write(`${JSON.stringify({ counts: summary.counts, badRows: summary.badRows, needsAction: summary.needsAction, report: summary.reportCsv, ...(ranNow ? {} : { alreadyReconciled: true }) })}\n`);
      if (summary.needsAction) process.exitCode = 3;
    } finally {
      await pool.end();
      await nats.close();
    }
    return;
  }
  if (command === 'dev') return runDev(config, configPath, (c, afterStop) => runUntilSignal(c, COMPONENTS.map((d) => d.name), configPath, afterStop));
  process.stderr.write(`dialpay: unknown command "${command}"\n\n${USAGE}`);
  process.exit(EXIT_USAGE);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`dialpay: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
