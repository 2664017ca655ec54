// deploy/ must match the code. Every file parses. Everything it runs is a real subcommand.
// The configs it ships pass the daemon's own validation with the environment each container
// gets, and every DIALPAY__ variable lands on a real key. The ports that probes, health checks,
// Services and Prometheus use are the ones those configs give. Kustomize references resolve,
// and nothing in them is silently ignored. No docker, kubectl or network: files only.
import { existsSync, readFileSync } from 'node:fs';
import { natsServers } from '../../runtime/nats/connect.js';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { COMPONENTS } from '../../cli/components.js';
import { COMPONENT_NAMES, ENV_OVERRIDE_PREFIX, type ComponentName, type Config } from '../../runtime/config/index.js';
import { loadConfigText } from '../../cli/config.js';
import { verifySecret } from '../../runtime/secrets.js';
import { PRODUCTION_SHAPE } from '../../load-tests/chaos/cluster-faults.js';
import {
  DEPLOY, ROOT, cliCommands, cliConfigErrorExitCode, cliHardStopMarginMs, dockerContextAdmits, dockerStages, filesUnder,
  interpolateCompose, kustomize, parseEnvFile, parseUnit, podContainers, resolvePort, splitImage, unitValues, valueAt, yamlDocs,
} from '../support/deploy-files.js';

const components = new Set<string>(COMPONENT_NAMES);
const schemaOwners = new Set(COMPONENTS.filter((c) => c.schema !== null).map((c) => c.name));
/** Subcommands that are not components but run as their own process in deploy/ (migrate, operator-sim, reconcile). */
const commands = cliCommands();
const hardStopMarginMs = cliHardStopMarginMs();
const isComponent = (name: unknown): name is ComponentName => typeof name === 'string' && components.has(name);

/** Loads a config with an environment, and checks each DIALPAY__ variable ended up at its key. */
function loadWithEnv(configPath: string, env: Record<string, string>, where: string): Config {
  const config = loadConfigText(readFileSync(configPath, 'utf8'), env);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_OVERRIDE_PREFIX)) continue;
    const path = name.slice(ENV_OVERRIDE_PREFIX.length).split('__');
    expect(JSON.stringify(valueAt(config, path)), `${where}: ${name} does not land on a config key`).toBe(JSON.stringify(parseYaml(value)));
  }
  return config;
}

function hostOf(url: string): string {
  return new URL(url).hostname;
}

/** Seconds a process needs after SIGTERM: its drain plus the CLI's own margin before it gives up. */
function drainSeconds(config: Config): number {
  return (config.shutdown.drainTimeoutMs + hardStopMarginMs) / 1000;
}

function durationSeconds(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+)(ms|s|m)?$/.exec(value.trim());
  if (!match) throw new Error(`not a duration: ${value}`);
  return Number(match[1]) * ({ ms: 0.001, s: 1, m: 60 }[match[2] ?? 's'] as number);
}

describe('deploy/', () => {
  it('every YAML and JSON file parses', () => {
    const files = filesUnder(DEPLOY).filter((f) => /\.(ya?ml|json)$/.test(f));
    expect(files.length).toBeGreaterThan(15);
    for (const file of files) {
      if (file.endsWith('.json')) expect(() => JSON.parse(readFileSync(file, 'utf8')), file).not.toThrow();
      else expect(() => yamlDocs(file), file).not.toThrow();
    }
  });
});

describe('the image', () => {
  const text = readFileSync(join(DEPLOY, 'docker/Dockerfile'), 'utf8');
  const stages = dockerStages(text);
  const [build, runtime] = [stages[0], stages.at(-1)] as [(typeof stages)[number], (typeof stages)[number]];
  const dockerignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');

  it('builds on node:20-bookworm-slim with the Makefile, from sources the context lets in', () => {
    for (const stage of stages) expect(stage.from).toBe('node:20-bookworm-slim');
    expect(build.lines.some((l) => /^RUN .*\bmake\b.* build\b/.test(l)), 'the build stage runs `make build`').toBe(true);
    const copied = build.lines.flatMap((l) => (/^COPY (?!--from)/.test(l) ? l.split(/\s+/).slice(1, -1) : []));
    for (const source of copied) {
      expect(existsSync(join(ROOT, source)), source).toBe(true);
      expect(dockerContextAdmits(dockerignore, source), `.dockerignore keeps ${source} out`).toBe(true);
    }
    // Whatever the Makefile's product build compiles and copies, and tsconfig.build.json includes, must be in the stage.
    const makefile = readFileSync(join(ROOT, 'Makefile'), 'utf8');
    const findRoots = [...makefile.matchAll(/^(?:TS_SRC|SQL_SRC) := \$\(shell find ([a-z -]+?) -name/gm)].flatMap((m) => (m[1] as string).split(' '));
    const includeRoots = (JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')).include as string[]).map((p) => p.split('/')[0] as string);
    expect(findRoots.length).toBeGreaterThan(0);
    for (const root of new Set([...findRoots, ...includeRoots, 'Makefile', 'package.json', 'package-lock.json', 'tsconfig.build.json'])) {
      expect(copied.map((c) => c.replace(/\/$/, '')), `the build stage does not copy ${root}`).toContain(root);
    }
    expect(dockerContextAdmits(dockerignore, 'node_modules'), 'node_modules in the context').toBe(false);
    expect(dockerContextAdmits(dockerignore, 'dialpay.yaml'), 'a local dialpay.yaml (secrets) in the context').toBe(false);
    // Benchmarks, drills and tests are tools, not product: neither compiled into the image nor sent with the context.
    for (const tool of ['load-tests', 'test']) {
      expect(copied.map((c) => c.replace(/\/$/, '')), `the build stage copies ${tool}`).not.toContain(tool);
      expect(includeRoots, `tsconfig.build.json includes ${tool}`).not.toContain(tool);
      expect(dockerContextAdmits(dockerignore, tool), `${tool} in the context`).toBe(false);
    }
  });

  it('runs dist/ with production modules, as a numeric non-root user, through the CLI', () => {
    const fromBuild = runtime.lines.filter((l) => l.startsWith(`COPY --from=${build.name}`)).map((l) => l.split(/\s+/).at(-2) as string);
    expect(fromBuild.map((p) => p.replace(/^\/src\//, ''))).toEqual(expect.arrayContaining(['dist', 'node_modules', 'package.json']));
    // package.json is what makes Node load dist/ as ES modules.
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).type).toBe('module');
    expect(build.lines.some((l) => /npm prune --omit=dev/.test(l))).toBe(true);
    const user = runtime.lines.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toMatch(/^USER [1-9]\d*(:\d+)?$/);
    const entrypoint = JSON.parse(runtime.lines.find((l) => l.startsWith('ENTRYPOINT '))?.slice('ENTRYPOINT '.length) ?? '[]') as string[];
    expect(entrypoint[0]).toBe('node');
    const outDir = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')).compilerOptions.outDir as string;
    const workdir = runtime.lines.filter((l) => l.startsWith('WORKDIR ')).at(-1)?.slice('WORKDIR '.length) as string;
    expect(entrypoint[1]).toBe(join(workdir, outDir, 'cli/dialpay.js'));
    expect(existsSync(join(ROOT, 'cli/dialpay.ts'))).toBe(true);
  });
});

function imageUid(): number {
  const stages = dockerStages(readFileSync(join(DEPLOY, 'docker/Dockerfile'), 'utf8'));
  return Number(/^USER (\d+)/.exec(stages.at(-1)?.lines.filter((l) => l.startsWith('USER ')).at(-1) ?? '')?.[1]);
}

describe('docker compose', () => {
  const composePath = join(DEPLOY, 'compose/docker-compose.yml');
  const composeDir = dirname(composePath);
  const compose = yamlDocs(composePath)[0];
  const services = compose.services as Record<string, any>;
  const image = services.migrate?.image ?? services.gateway?.image;
  const dialpay = Object.entries(services).filter(([, s]) => s.image === image);
  const missingVariables: string[] = [];
  const envOf = (s: any): Record<string, string> =>
    Object.fromEntries(Object.entries((s.environment ?? {}) as Record<string, string>)
      .map(([k, v]) => [k, interpolateCompose(String(v), missingVariables)]));
  const configOf = (name: string, s: any): Config => {
    const configArg = s.command[s.command.indexOf('--config') + 1] as string;
    const mount = (s.volumes as string[]).find((v) => v.split(':')[1] === configArg);
    expect(mount, `${name}: nothing is mounted at ${configArg}`).toBeDefined();
    const hostPath = join(composeDir, (mount as string).split(':')[0] as string);
    expect(existsSync(hostPath), hostPath).toBe(true);
    return loadWithEnv(hostPath, envOf(s), `compose ${name}`);
  };

  it('runs every component once, and only real subcommands, from one image', () => {
    expect(splitImage(image).repository).toBe('dialpay');
    const run = dialpay.map(([, s]) => s.command[0] as string);
    for (const name of COMPONENT_NAMES) expect(run.filter((c) => c === name), name).toHaveLength(1);
    for (const [name, s] of dialpay) {
      expect(isComponent(s.command[0]) || commands.has(s.command[0]), `${name}: ${s.command[0]} is no dialpay command`).toBe(true);
      expect(s.command.slice(1, 2), name).toEqual(['--config']);
    }
    expect(commands).toContain('migrate');
  });

  it('gives each service a config that validates, every DIALPAY__ variable landing on a key, with no .env', () => {
    for (const [name, s] of dialpay) configOf(name, s);
    expect(missingVariables, 'variables without a default: compose would pass empty strings').toEqual([]);
  });

  it('points every config at hosts that are compose services, listening where the others can reach them', () => {
    const names = new Set(Object.keys(services));
    for (const [name, s] of dialpay) {
      const config = configOf(name, s);
      for (const seed of natsServers(config.nats.url)) expect(names, `${name}: nats.url`).toContain(hostOf(seed));
      expect(names, `${name}: postgres.url`).toContain(hostOf(config.postgres.url));
      for (const op of config.operators) {
        if (op.charging) expect(names, `${name}: ${op.id} charging`).toContain(hostOf(op.charging.baseUrl));
        // The operator simulator dials server-mode links and serves client-mode ones; components the reverse.
        const dials = s.command[0] === 'operator-sim' ? op.smpp.mode === 'server' : op.smpp.mode === 'client';
        if (dials) expect(names, `${name}: ${op.id} smpp.host`).toContain(op.smpp.host);
        else if (s.command[0] !== 'operator-sim') expect(op.smpp.host, `${name}: ${op.id} listens`).toBe('0.0.0.0');
      }
      if (isComponent(s.command[0])) {
        expect([config.http.host, config.merchantApi.host, config.ussd.http.host], name).toEqual(['0.0.0.0', '0.0.0.0', '0.0.0.0']);
      }
    }
  });

  it('health-checks each component on its ops port and lets it drain before the kill', () => {
    for (const [name, s] of dialpay) {
      if (!isComponent(s.command[0])) continue;
      const config = configOf(name, s);
      expect(JSON.stringify(s.healthcheck?.test), name).toContain(`127.0.0.1:${config.http.opsPorts[s.command[0]]}/readyz`);
      expect(durationSeconds(s.stop_grace_period ?? '10s'), `${name}: stop_grace_period`).toBeGreaterThanOrEqual(drainSeconds(config));
    }
  });

  it('orders start-up: migrations and NATS before the components, and waits only on what can say so', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries((s.depends_on ?? {}) as Record<string, { condition: string }>)) {
        expect(services[dependency], `${name} depends on ${dependency}`).toBeDefined();
        if (condition === 'service_healthy') expect(services[dependency].healthcheck, `${name} waits for ${dependency} to be healthy`).toBeDefined();
        if (condition === 'service_completed_successfully') expect(services[dependency].restart, `${dependency} runs once`).toBe('no');
      }
    }
    const migrate = dialpay.find(([, s]) => s.command[0] === 'migrate');
    expect(migrate, 'a migrate service').toBeDefined();
    const nats = Object.keys(services).filter((n) => services[n].image?.startsWith('nats:'));
    for (const [name, s] of dialpay) {
      if (!schemaOwners.has(s.command[0])) continue;
      expect(s.depends_on?.[migrate?.[0] as string]?.condition, name).toBe('service_completed_successfully');
      for (const node of nats) expect(s.depends_on?.[node]?.condition, `${name} on ${node}`).toBe('service_healthy');
    }
  });

  it('runs a 3-node JetStream cluster with its own volumes, and streams no wider than it', () => {
    const nats = Object.entries(services).filter(([, s]) => s.image?.startsWith('nats:'));
    expect(nats).toHaveLength(3);
    const flag = (s: any, name: string) => s.command[s.command.indexOf(name) + 1] as string;
    expect(new Set(nats.map(([, s]) => flag(s, '--server_name'))).size).toBe(3);
    expect(new Set(nats.map(([, s]) => flag(s, '--cluster_name'))).size).toBe(1);
    expect(new Set(nats.map(([, s]) => s.volumes[0].split(':')[0])).size).toBe(3);
    for (const [name, s] of nats) {
      expect(s.command, name).toContain('--jetstream');
      for (const [other] of nats) if (other !== name) expect(flag(s, '--routes'), `${name} routes to ${other}`).toContain(`nats://${other}:`);
    }
    for (const [name, s] of dialpay) expect(configOf(name, s).nats.streamReplicas, name).toBeLessThanOrEqual(nats.length);
  });

  it('publishes the gateway\'s listeners, and the simulator binds with the password the config hashes', async () => {
    const [gatewayName, gateway] = dialpay.find(([, s]) => s.command[0] === 'gateway') as [string, any];
    const config = configOf(gatewayName, gateway);
    const published = (gateway.ports as string[]).map((p) => Number(p.split(':').at(-1)));
    const listeners = [config.merchantApi.port, config.ussd.http.port, ...config.operators.filter((o) => o.smpp.mode === 'server').map((o) => o.smpp.port)];
    expect(published.sort()).toEqual(listeners.sort());
    const [simName, sim] = dialpay.find(([, s]) => s.command[0] === 'operator-sim') as [string, any];
    const peers = envOf(sim).DIALPAY_SIM_PEER_PASSWORDS ?? '';
    for (const pair of peers.split(',').filter((p) => p !== '')) {
      const [operatorId, password] = pair.split('=') as [string, string];
      const operator = configOf(simName, sim).operators.find((o) => o.id === operatorId);
      expect(operator?.smpp.mode, operatorId).toBe('server');
      expect(await verifySecret(password, operator?.smpp.passwordHash ?? ''), `${operatorId}: the simulator's password does not match passwordHash`).toBe(true);
    }
  });

  it('mounts the Prometheus config and rules, which scrape every component on its ops port', () => {
    // Bind mounts only (a source that is a path); "prometheus-data:/prometheus" is a named volume.
    const binds = (services.prometheus.volumes as string[]).filter((v) => /^[./]/.test(v));
    const mounts = new Map(binds.map((v) => [v.split(':')[1] as string, join(composeDir, v.split(':')[0] as string)]));
    const configArg = (services.prometheus.command as string[]).find((c) => c.startsWith('--config.file='))?.split('=')[1] as string;
    const configPath = mounts.get(configArg);
    expect(configPath, `${configArg} is not mounted`).toBeDefined();
    for (const path of mounts.values()) expect(existsSync(path), path).toBe(true);
    const prometheus = yamlDocs(configPath as string)[0];
    for (const rules of prometheus.rule_files as string[]) {
      const inContainer = isAbsolute(rules) ? rules : join(dirname(configArg), rules);
      expect(mounts.get(inContainer), `rule file ${inContainer} is not mounted`).toBeDefined();
    }
    const targets = (prometheus.scrape_configs as any[])
      .flatMap((j) => (j.static_configs ?? []).flatMap((c: any) => c.targets as string[]));
    for (const [name, s] of dialpay) {
      if (!isComponent(s.command[0])) continue;
      expect(targets, name).toContain(`${name}:${configOf(name, s).http.opsPorts[s.command[0]]}`);
    }
  });
});

describe('Kubernetes', () => {
  const k8s = join(DEPLOY, 'k8s');
  const layers = { base: kustomize(join(k8s, 'base')), production: kustomize(join(k8s, 'overlays/production')) };
  const secretExamples = parseEnvFile(join(k8s, 'base/secret.example.env'));

  /** A value for every secret a container reads: the example file, or what CloudNativePG writes for a Cluster. */
  function secretValue(resources: readonly any[], ref: { name: string; key: string }): string | undefined {
    if (ref.name === 'dialpay-secrets') return secretExamples.get(ref.key);
    const cluster = resources.find((r) => r.kind === 'Cluster' && `${r.metadata.name}-app` === ref.name);
    if (!cluster || ref.key !== 'uri') return undefined;
    const { database, owner } = cluster.spec.bootstrap.initdb;
    return `postgresql://${owner}:example@${cluster.metadata.name}-rw.${cluster.metadata.namespace}:5432/${database}`;
  }

  function containerConfig(layer: (typeof layers)[keyof typeof layers], deployment: any, container: any): Config {
    const where = `${relative(DEPLOY, layer.dir)} ${deployment.metadata.name}/${container.name}`;
    const configArg = container.args[container.args.indexOf('--config') + 1] as string;
    const mount = (container.volumeMounts as any[]).find((m) => configArg.startsWith(`${m.mountPath}/`));
    expect(mount, `${where}: nothing mounted at ${configArg}`).toBeDefined();
    const volume = (deployment.spec.template.spec.volumes as any[]).find((v) => v.name === mount.name);
    const files = layer.configMaps.get(volume?.configMap?.name);
    expect(files, `${where}: ConfigMap ${volume?.configMap?.name} is not generated`).toBeDefined();
    const file = files?.get(configArg.slice(mount.mountPath.length + 1)) as string;
    expect(file, `${where}: the ConfigMap has no ${configArg}`).toBeDefined();
    const env: Record<string, string> = {};
    for (const e of (container.env ?? []) as any[]) {
      const value = e.value ?? secretValue(layer.resources, e.valueFrom?.secretKeyRef ?? {});
      expect(value, `${where}: ${e.name} comes from a secret nobody makes`).toBeDefined();
      env[e.name] = value;
    }
    return loadWithEnv(file, env, where);
  }

  it('resolves every kustomization entry, and every patch, replica count and image entry changes something', () => {
    expect(layers.base.problems).toEqual([]);
    expect(layers.production.problems).toEqual([]);
    const production = yamlDocs(join(k8s, 'overlays/production/kustomization.yaml'))[0];
    const tag = production.images?.[0]?.newTag;
    expect(tag, 'production pins an image tag').toMatch(/^\d+\.\d+\.\d+/);
    for (const container of podContainers(layers.production.resources)) expect(splitImage(container.image).tag, container.name).toBe(tag);
  });

  it('uses the one image everywhere, the same as compose\'s', () => {
    for (const layer of Object.values(layers)) {
      const repositories = new Set(podContainers(layer.resources).map((c) => splitImage(c.image).repository));
      expect(repositories.size, relative(DEPLOY, layer.dir)).toBe(1);
    }
    const raw = filesUnder(join(k8s, 'base')).filter((f) => /\.ya?ml$/.test(f) && !f.endsWith('kustomization.yaml')).flatMap((f) => podContainers(yamlDocs(f)));
    expect(new Set(raw.map((c) => c.image))).toEqual(new Set([splitImage(yamlDocs(join(DEPLOY, 'compose/docker-compose.yml'))[0].services.gateway.image).repository]));
  });

  for (const [layerName, layer] of Object.entries(layers)) {
    describe(layerName, () => {
      const deployments = layer.resources.filter((r) => r.kind === 'Deployment');
      const byComponent = (name: string) => deployments.filter((d) => d.spec.template.spec.containers[0].args[0] === name);

      it('has one Deployment per component, running only real subcommands', () => {
        for (const name of COMPONENT_NAMES) expect(byComponent(name), name).toHaveLength(1);
        for (const d of deployments) {
          const spec = d.spec.template.spec;
          expect(isComponent(spec.containers[0].args[0]), d.metadata.name).toBe(true);
          for (const init of spec.initContainers ?? []) expect(commands, `${d.metadata.name} init ${init.name}`).toContain(init.args[0]);
        }
      });

      it('gives each container a config that validates, secrets landing on real keys, Postgres only to schema owners, webhook secrets only to webhooks', () => {
        for (const d of deployments) {
          const spec = d.spec.template.spec;
          const component = spec.containers[0].args[0];
          for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
            const config = containerConfig(layer, d, container);
            expect(config.http.host, `${d.metadata.name}: probes come from outside the pod`).toBe('0.0.0.0');
            const env = (container.env ?? []) as { name: string }[];
            const hasPostgres = env.some((e) => e.name === `${ENV_OVERRIDE_PREFIX}postgres__url`);
            const needsPostgres = container.args[0] === 'migrate' || schemaOwners.has(container.args[0]);
            expect(hasPostgres, `${d.metadata.name}/${container.name}: Postgres credentials`).toBe(needsPostgres);
            // Only the webhooks component signs, so only it holds the merchants' signing secrets.
            const hasWebhookSecrets = env.some((e) => /^DIALPAY__merchants__\d+__webhookSecret$/.test(e.name));
            expect(hasWebhookSecrets, `${d.metadata.name}/${container.name}: webhook secrets`).toBe(container.args[0] === 'webhooks');
            // Only the gateway serves the USSD HTTP edge, so only it holds the aggregators' secret, and it must.
            expect(env.some((e) => e.name === `${ENV_OVERRIDE_PREFIX}ussd__http__sharedSecret`), `${d.metadata.name}/${container.name}: USSD secret`).toBe(container.args[0] === 'gateway');
            if (config.ussd.http.port !== undefined) expect(config.ussd.http.sharedSecret, `${d.metadata.name}/${container.name}: USSD edge secret`).toBeDefined();
            // Behind the Ingress every peer is an Ingress pod: without trusted proxies one caller's failures would block them all.
            if (config.ussd.http.port !== undefined) expect(config.ussd.http.trustedProxies, `${d.metadata.name}/${container.name}: USSD trusted proxies`).not.toEqual([]);
            if (config.merchantApi.port !== undefined) expect(config.merchantApi.trustedProxies, `${d.metadata.name}/${container.name}: merchant API trusted proxies`).not.toEqual([]);
            // ... and only the Ingress may reach a port that believes X-Forwarded-For: no rule lets anyone else in.
            const podLabels = d.spec.template.metadata.labels as Record<string, string>;
            const policies = layer.resources.filter((r: any) => r.kind === 'NetworkPolicy' && Object.entries(r.spec.podSelector.matchLabels ?? {}).every(([k, v]) => podLabels[k] === v));
            for (const port of [
              config.merchantApi.trustedProxies.length > 0 ? config.merchantApi.port : undefined,
              config.ussd.http.trustedProxies.length > 0 ? config.ussd.http.port : undefined,
            ]) {
              if (port === undefined || container.args[0] !== 'gateway') continue;
              const rules = policies.flatMap((policy: any) => (policy.spec.ingress ?? [])
                .filter((rule: any) => !rule.ports || rule.ports.some((p: any) => p.port === port)));
              expect(policies.length, `${d.metadata.name}: a NetworkPolicy for port ${port}`).toBeGreaterThan(0);
              for (const rule of rules) expect(rule.from?.length > 0 && rule.from.every((f: any) => f.namespaceSelector && !f.ipBlock), `${d.metadata.name}: port ${port} open beyond the Ingress namespace`).toBe(true);
            }
          }
          // A schema owner migrates before it takes work, so a failed migration stops the rollout.
          const migrates = (spec.initContainers ?? []).some((c: any) => c.args[0] === 'migrate');
          expect(migrates, `${d.metadata.name}: migrate init container`).toBe(schemaOwners.has(component));
        }
      });

      it('probes, annotates and labels each component at its ops port', () => {
        for (const d of deployments) {
          const pod = d.spec.template;
          const container = pod.spec.containers[0];
          const component = container.args[0] as ComponentName;
          const opsPort = containerConfig(layer, d, container).http.opsPorts[component];
          expect(resolvePort(container, container.livenessProbe.httpGet.port), `${component} liveness`).toBe(opsPort);
          expect(container.livenessProbe.httpGet.path).toBe('/healthz');
          expect(resolvePort(container, container.readinessProbe.httpGet.port), `${component} readiness`).toBe(opsPort);
          expect(container.readinessProbe.httpGet.path).toBe('/readyz');
          if (container.startupProbe) expect(resolvePort(container, container.startupProbe.httpGet.port), `${component} startup`).toBe(opsPort);
          // deploy/prometheus/prometheus-k8s.yml keeps pods by these and names them by the component label.
          expect(pod.metadata.annotations['prometheus.io/scrape']).toBe('true');
          expect(pod.metadata.annotations['prometheus.io/port'], component).toBe(String(opsPort));
          expect(pod.metadata.labels['app.kubernetes.io/component']).toBe(component);
        }
      });

      it('drains within the grace period, as the image\'s non-root user, within resource bounds', () => {
        for (const d of deployments) {
          const spec = d.spec.template.spec;
          const container = spec.containers[0];
          const preStop = container.lifecycle?.preStop?.exec?.command as string[] | undefined;
          const preStopSeconds = preStop?.[0] === 'sleep' ? Number(preStop[1]) : 0;
          const config = containerConfig(layer, d, container);
          expect(spec.terminationGracePeriodSeconds, d.metadata.name).toBeGreaterThanOrEqual(preStopSeconds + drainSeconds(config));
          expect(spec.securityContext.runAsNonRoot).toBe(true);
          expect(spec.securityContext.runAsUser, d.metadata.name).toBe(imageUid());
          for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
            expect(c.resources?.requests?.cpu, `${d.metadata.name}/${c.name}`).toBeDefined();
            expect(c.resources?.requests?.memory, `${d.metadata.name}/${c.name}`).toBeDefined();
            expect(c.resources?.limits?.memory, `${d.metadata.name}/${c.name}`).toBeDefined();
          }
        }
      });

      it('has a Service and a PodDisruptionBudget per component, and Services reach the ports the config opens', () => {
        const services = layer.resources.filter((r) => r.kind === 'Service');
        const selects = (selector: Record<string, string>, d: any) =>
          Object.entries(selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v);
        for (const d of deployments) {
          const component = d.spec.template.spec.containers[0].args[0];
          expect(services.some((s) => selects(s.spec.selector, d)), `${component}: Service`).toBe(true);
          const pdbs = layer.resources.filter((r) => r.kind === 'PodDisruptionBudget' && selects(r.spec.selector.matchLabels, d));
          expect(pdbs, `${component}: PodDisruptionBudget`).toHaveLength(1);
        }
        for (const s of services) {
          const targets = deployments.filter((d) => selects(s.spec.selector, d));
          expect(targets, `Service ${s.metadata.name} selects one Deployment`).toHaveLength(1);
          const container = targets[0].spec.template.spec.containers[0];
          for (const port of s.spec.ports) expect(resolvePort(container, port.targetPort), `${s.metadata.name} ${port.name}`).toBeDefined();
        }
        const gateway = byComponent('gateway')[0];
        const container = gateway.spec.template.spec.containers[0];
        const config = containerConfig(layer, gateway, container);
        const servedBy = (port: number, type?: string) =>
          services.filter((s) => selects(s.spec.selector, gateway) && (!type || s.spec.type === type))
            .flatMap((s) => s.spec.ports.map((p: any) => resolvePort(container, p.targetPort))).includes(port);
        expect(servedBy(config.merchantApi.port as number), 'merchant API').toBe(true);
        expect(servedBy(config.ussd.http.port as number), 'USSD HTTP').toBe(true);
        for (const op of config.operators.filter((o) => o.smpp.mode === 'server')) {
          // Operators bind from outside the cluster, and allowedAddresses needs their own address.
          expect(servedBy(op.smpp.port, 'LoadBalancer'), `${op.id} SMPP`).toBe(true);
          const lb = services.find((s) => s.spec.type === 'LoadBalancer' && s.spec.ports.some((p: any) => resolvePort(container, p.targetPort) === op.smpp.port));
          expect(lb?.spec.externalTrafficPolicy, `${op.id}: source addresses`).toBe('Local');
        }
      });

      it('runs the shape the cluster drills prove: every component replicated, streams R3, a synchronous standby', () => {
        for (const name of COMPONENT_NAMES) {
          for (const d of byComponent(name)) expect(d.spec.replicas, `${layerName} ${d.metadata.name}`).toBeGreaterThanOrEqual(PRODUCTION_SHAPE.replicasPerComponent);
        }
        const nats = parseYaml(readFileSync(join(k8s, 'nats-values.yaml'), 'utf8'));
        expect(nats.config.cluster.replicas).toBe(PRODUCTION_SHAPE.natsNodes);
        const config = containerConfig(layer, byComponent('payments')[0], byComponent('payments')[0].spec.template.spec.containers[0]);
        expect(config.nats.streamReplicas).toBe(PRODUCTION_SHAPE.streamReplicas);
        const pg = layer.resources.find((r) => r.kind === 'Cluster' && r.apiVersion === 'postgresql.cnpg.io/v1');
        expect(pg?.spec.postgresql.synchronous.number, 'a commit waits for a standby').toBeGreaterThanOrEqual(1);
      });

      it('reaches NATS and PostgreSQL by their in-cluster names, streams no wider than the NATS cluster', () => {
        const nats = parseYaml(readFileSync(join(k8s, 'nats-values.yaml'), 'utf8'));
        const cluster = layer.resources.find((r) => r.kind === 'Cluster' && r.apiVersion === 'postgresql.cnpg.io/v1');
        expect(cluster?.spec.instances).toBe(3);
        const config = containerConfig(layer, byComponent('billing')[0], byComponent('billing')[0].spec.template.spec.containers[0]);
        expect(config.nats.streamReplicas).toBe(3);
        expect(config.nats.streamReplicas).toBeLessThanOrEqual(nats.config.cluster.replicas);
        expect(nats.config.jetstream.fileStore.enabled).toBe(true);
        const namespace = cluster.metadata.namespace;
        const file = readFileSync(layer.configMaps.get('dialpay-config')?.get('dialpay.yaml') as string, 'utf8');
        const raw = parseYaml(file);
        expect(hostOf(raw.postgres.url)).toBe(`${cluster.metadata.name}-rw.${namespace}.svc`);
        expect(new URL(raw.postgres.url).pathname).toBe(`/${cluster.spec.bootstrap.initdb.database}`);
        expect(hostOf(raw.nats.url).split('.').slice(1, 2), 'NATS in the same namespace').toEqual([namespace]);
      });
    });
  }

  it('lists in secret.example.env exactly the keys the manifests read', () => {
    const read = new Set(podContainers(layers.base.resources).flatMap((c) => (c.env ?? []).map((e: any) => e.valueFrom?.secretKeyRef).filter((r: any) => r?.name === 'dialpay-secrets').map((r: any) => r.key)));
    expect(new Set(secretExamples.keys())).toEqual(read);
  });
});

describe('systemd', () => {
  const dir = join(DEPLOY, 'systemd');
  const template = parseUnit(join(dir, 'dialpay@.service'));
  const exampleConfig = loadConfigText(readFileSync(join(ROOT, 'dialpay.example.yaml'), 'utf8'), {});

  it('groups exactly the components under dialpay.target', () => {
    const target = parseUnit(join(dir, 'dialpay.target'));
    const wanted = unitValues(target, 'Unit', 'Wants').flatMap((v) => v.split(/\s+/)).map((u) => /^dialpay@(.+)\.service$/.exec(u)?.[1]);
    expect(new Set(wanted)).toEqual(components);
    expect(unitValues(template, 'Install', 'WantedBy')).toEqual(['dialpay.target']);
  });

  it('runs the CLI the image runs, after Debian\'s NATS and PostgreSQL, and gives the drain its time', () => {
    expect(unitValues(template, 'Service', 'ExecStart')).toEqual(['/usr/bin/node /opt/dialpay/dist/cli/dialpay.js %i --config /etc/dialpay/dialpay.yaml']);
    const dockerEntrypoint = /ENTRYPOINT \["node", "([^"]+)"\]/.exec(readFileSync(join(DEPLOY, 'docker/Dockerfile'), 'utf8'))?.[1];
    expect(unitValues(template, 'Service', 'ExecStart')[0]).toContain(` ${dockerEntrypoint} `);
    for (const key of ['After', 'Wants']) {
      const units = unitValues(template, 'Unit', key).flatMap((v) => v.split(/\s+/));
      expect(units, key).toEqual(expect.arrayContaining(['nats-server.service', 'postgresql.service']));
    }
    expect(unitValues(template, 'Service', 'KillSignal')).toEqual(['SIGTERM']);
    expect(durationSeconds(unitValues(template, 'Service', 'TimeoutStopSec')[0] as string)).toBeGreaterThanOrEqual(drainSeconds(exampleConfig));
    expect(unitValues(template, 'Service', 'Restart')).toEqual(['on-failure']);
    expect(unitValues(template, 'Service', 'RestartPreventExitStatus')).toEqual([String(cliConfigErrorExitCode())]);
  });

  it('runs as the dedicated user the image uses, hardened, with secrets from a root-owned file', () => {
    const sysusers = readFileSync(join(dir, 'dialpay.sysusers'), 'utf8').split('\n').find((l) => l.startsWith('u '))?.split(/\s+/) ?? [];
    expect(unitValues(template, 'Service', 'User')).toEqual([sysusers[1]]);
    expect(Number(sysusers[2])).toBe(imageUid());
    for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'], ['CapabilityBoundingSet', '']]) {
      expect(unitValues(template, 'Service', key as string), key).toEqual([value]);
    }
    // The shared secrets, then this component's own NATS user (optional: a NATS without users needs none).
    expect(unitValues(template, 'Service', 'EnvironmentFile')).toEqual(['/etc/dialpay/secrets.env', '-/etc/dialpay/nats-%i.env']);
    // A reload is SIGHUP, which every component survives and the gateway uses to re-read its API keys.
    expect(unitValues(template, 'Service', 'ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
  });

  it('has an example secrets file whose every line overrides a real key', () => {
    // secrets.env.example is written for a config laid out like deploy/k8s/base/dialpay.yaml.
    const env = Object.fromEntries(parseEnvFile(join(dir, 'secrets.env.example')));
    expect(Object.keys(env).every((k) => k.startsWith(ENV_OVERRIDE_PREFIX))).toBe(true);
    loadWithEnv(join(DEPLOY, 'k8s/base/dialpay.yaml'), env, 'systemd secrets.env.example');
  });

  it('runs only real subcommands in every unit', () => {
    for (const file of filesUnder(dir).filter((f) => f.endsWith('.service'))) {
      for (const exec of unitValues(parseUnit(file), 'Service', 'ExecStart')) {
        const sub = /dialpay\.js (\S+)/.exec(exec)?.[1];
        expect(sub, file).toBeDefined();
        expect(sub === '%i' || isComponent(sub) || commands.has(sub as string), `${file}: ${sub}`).toBe(true);
      }
    }
  });
});
