// `dialpay dev` (what `make run` calls): use NATS and PostgreSQL at the
// configured URLs when they answer; otherwise start project-owned ones under
// .data/ on those ports, create the database, and run every component. A
// PostgreSQL it starts itself is reached through its unix socket (cheaper than
// loopback TCP); one it merely finds is used at the configured URL.
import { resolve } from 'node:path';
import type { Config } from '../runtime/config/index.js';
import { isPortOpen, socketUrl, startNatsServer, startPostgres } from '../runtime/engines/index.js';
import { parsePeerPasswords, PHONE_LINE_DEFAULT, startOperatorSim } from '../operator-sim/index.js';
import { natsServers } from '../runtime/nats/connect.js';
import { ensureDatabase } from '../runtime/pg/index.js';
import { createLogger } from '../runtime/log.js';
import { migrateAll } from '../runtime/host.js';
import { COMPONENTS } from './components.js';
import { seedDemoAgents } from './demo-agents.js';
import { devSimSwapLines, withDevSimSwap } from './dev-sim-swap.js';

export async function runDev(configured: Config, configPath: string, run: (config: Config, afterStop: () => Promise<void>) => Promise<void>,
): Promise<void> {
  let config = configured;
  const owned: { stop(): Promise<void> }[] = [];
  const say = (line: string) => process.stdout.write(`dialpay dev: ${line}\n`);
  // The first seed is the one `make run` starts when nothing answers.
  const natsUrl = new URL(natsServers(config.nats.url)[0] as string);
  const natsPort = Number(natsUrl.port || 4222);
  if (await isPortOpen(natsUrl.hostname, natsPort)) {
    say(`using NATS at ${natsUrl.host}`);
  } else {
    const nats = await startNatsServer({ port: natsPort, storeDir: resolve('.data/nats'), detached: true });
    say(`started nats-server on port ${nats.port} (store .data/nats)`);
    owned.push(nats);
  }
  const pgUrl = new URL(config.postgres.url);
  const pgPort = Number(pgUrl.port || 5432);
  const database = pgUrl.pathname.replace(/^\//, '') || 'dialpay';
  if (await isPortOpen(pgUrl.hostname, pgPort)) {
    say(`using PostgreSQL at ${pgUrl.host}`);
    if (await ensureDatabase(config.postgres.url, config.postgres.connectTimeoutMs)) say(`created database ${database}`);
  } else {
    const pg = await startPostgres({ port: pgPort, dataDir: resolve('.data/pg') });
    await pg.createDatabase(database);
    say(`started PostgreSQL on port ${pg.port} (data .data/pg), used through its socket in ${pg.socketDir}`);
    owned.push(pg);
    config = { ...config, postgres: { ...config.postgres, url: socketUrl(config.postgres.url, pg.socketDir) } };
  }
  // The schemas first, so the demo agents of wallet-model operators can be seeded before any phone pays (demo-agents.ts).
  const log = createLogger({ level: config.log.level, component: 'dev' });
  await migrateAll(config, COMPONENTS, log);
  const demoAgents = await seedDemoAgents(config, log, say);
  config = withDevSimSwap(config); // every operator SIM-swap checked, against the simulator
  for (const line of devSimSwapLines(config)) say(line);
  const sim = await startOperatorSim(config, {
    trafficIntervalMs: 3_000, phoneLine: PHONE_LINE_DEFAULT, peerPasswords: parsePeerPasswords(process.env.DIALPAY_SIM_PEER_PASSWORDS),
    demoAgents, say: (l) => process.stdout.write(`operator-sim: ${l}\n`),
  });
  owned.unshift(sim); // stopped last, after the gateway has unbound
  say(`running every component with ${configPath}; Ctrl-C stops`);
  try {
    await run(config, async () => {
      for (const engine of owned.reverse()) await engine.stop();
    });
  } catch (err) {
    for (const engine of owned.reverse()) await engine.stop().catch(() => undefined);
    throw err;
  }
}
