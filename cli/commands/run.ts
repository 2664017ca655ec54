// Components run until a signal: `dialpay <component>`, `all` and `dev`. SIGTERM or SIGINT
// drains them (a second one exits at once), SIGHUP reloads the config.
import { ConfigError, type ComponentName, type Config } from '../../runtime/config/index.js';
import { loadConfigFile } from '../config.js';
import { createLogger, type Logger } from '../../runtime/log.js';
import { startHost, type Host } from '../../runtime/host.js';
import { TOPOLOGY, componentByName } from '../components.js';
import { EXIT_CONFIG_ERROR, exitIfEngineUnavailable } from '../command.js';

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

export async function runUntilSignal(
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
