// Readers for deploy/: YAML (multi-document, compose merge keys), compose interpolation,
// systemd units, env files, .dockerignore, and a small kustomize build. Pure file reading:
// no docker, no kubectl, no network, so test/unit/deploy.test.ts stays fast and self-contained.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { EXIT_CONFIG_ERROR } from '../../cli/command.js';
import { COMMANDS } from '../../cli/commands/index.js';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const DEPLOY = join(ROOT, 'deploy');

export function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Every document of a YAML file; throws on the first error (duplicate keys included). */
export function yamlDocs(path: string): any[] {
  return parseAllDocuments(readFileSync(path, 'utf8'), { merge: true })
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${relative(ROOT, path)}: ${doc.errors[0]?.message}`);
      return doc.toJS({ maxAliasCount: 100 });
    })
    .filter((doc) => doc !== null && doc !== undefined);
}

/** Compose's ${NAME:-default} / ${NAME-default}, read with no .env: a laptop must start without one. */
export function interpolateCompose(value: string, missing: string[]): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (whole, name: string, fallback: string | undefined) => {
    if (fallback === undefined) missing.push(name);
    return fallback ?? '';
  });
}

/** KEY=value lines of an env file (kubectl --from-env-file, systemd EnvironmentFile); comments skipped. */
export function parseEnvFile(path: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (/^\s*(#|$)/.test(line)) continue;
    const at = line.indexOf('=');
    if (at <= 0) throw new Error(`${relative(ROOT, path)}: not KEY=value: ${line}`);
    entries.set(line.slice(0, at).trim(), line.slice(at + 1));
  }
  return entries;
}

export type Unit = Map<string, Map<string, string[]>>;

/** A systemd unit: section -> key -> every value it was given, in order. */
export function parseUnit(path: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | null = null;
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1] as string, section);
      continue;
    }
    const at = line.indexOf('=');
    if (!section || at <= 0) throw new Error(`${relative(ROOT, path)}: stray line: ${line}`);
    const key = line.slice(0, at).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(at + 1).trim()]);
  }
  return unit;
}

export function unitValues(unit: Unit, section: string, key: string): string[] {
  return unit.get(section)?.get(key) ?? [];
}

/** Whether .dockerignore lets `path` (relative to the context) into the build context; the last matching pattern wins. */
export function dockerContextAdmits(dockerignore: string, path: string): boolean {
  const patterns = dockerignore.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const segments = path.replace(/\/+$/, '').split('/');
  let admitted = true;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const glob = (negated ? pattern.slice(1) : pattern).replace(/^\/+|\/+$/g, '');
    const regex = new RegExp(`^${glob.split('**').map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('.*')}$`);
    // A pattern that matches a parent directory matches everything under it.
    const matches = segments.some((_, i) => regex.test(segments.slice(0, i + 1).join('/')));
    if (matches) admitted = negated;
  }
  return admitted;
}

/** Dockerfile instructions per stage, continuation lines joined. */
export function dockerStages(text: string): { name: string; from: string; lines: string[] }[] {
  const args = new Map<string, string>();
  const stages: { name: string; from: string; lines: string[] }[] = [];
  const joined = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  for (const line of joined) {
    const arg = /^ARG (\w+)=(\S+)/.exec(line);
    if (arg && stages.length === 0) args.set(arg[1] as string, arg[2] as string);
    const from = /^FROM (\S+)(?: AS (\S+))?/i.exec(line);
    if (from) {
      const image = (from[1] as string).replace(/\$\{(\w+)\}/g, (_, n: string) => args.get(n) ?? '');
      stages.push({ name: from[2] ?? String(stages.length), from: image, lines: [] });
    } else stages.at(-1)?.lines.push(line);
  }
  return stages;
}

/** The commands `dialpay` takes (cli/commands/index.ts), by their first word ("dlq" for "dlq list"), components included. */
export function cliCommands(): Set<string> {
  return new Set(Object.keys(COMMANDS).map((words) => words.split(' ')[0] as string));
}

/** What the CLI waits past shutdown.drainTimeoutMs before it gives up and exits (cli/commands/run.ts). */
export function cliHardStopMarginMs(): number {
  const match = /config\.shutdown\.drainTimeoutMs \+ ([\d_]+)/.exec(readFileSync(join(ROOT, 'cli/commands/run.ts'), 'utf8'));
  if (!match) throw new Error('cli/commands/run.ts no longer adds a margin to shutdown.drainTimeoutMs: update this reader');
  return Number((match[1] as string).replace(/_/g, ''));
}

/** The exit code of a config error (cli/command.ts). */
export function cliConfigErrorExitCode(): number {
  return EXIT_CONFIG_ERROR;
}

/** The value at a DIALPAY__a__0__b path in a validated config, or undefined when there is none. */
export function valueAt(config: unknown, path: readonly string[]): unknown {
  let node: any = config;
  for (const part of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = Array.isArray(node) ? node[Number(part)] : node[part];
  }
  return node;
}

export interface Built {
  readonly dir: string;
  readonly resources: any[];
  /** ConfigMap generator name -> the files it holds (path on disk by key). */
  readonly configMaps: Map<string, Map<string, string>>;
  /** What a real kustomize would do silently: an image entry or patch that matches nothing, a missing file. */
  readonly problems: string[];
}

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'StorageClass', 'PriorityClass']);

/**
 * A kustomize build reduced to what deploy/k8s uses: resources (files and directories),
 * configMapGenerator (create, replace, merge), patches (strategic merge by kind and name,
 * lists of named items merged by name), replicas, images and namespace.
 */
export function kustomize(dir: string): Built {
  const problems: string[] = [];
  const where = relative(DEPLOY, dir);
  const path = join(dir, 'kustomization.yaml');
  if (!existsSync(path)) return { dir, resources: [], configMaps: new Map(), problems: [`${where}: no kustomization.yaml`] };
  const k = yamlDocs(path)[0] ?? {};
  const resources: any[] = [];
  const configMaps = new Map<string, Map<string, string>>();
  for (const entry of (k.resources ?? []) as string[]) {
    const target = join(dir, entry);
    if (!existsSync(target)) {
      problems.push(`${where}: resource ${entry} does not exist`);
    } else if (statSync(target).isDirectory()) {
      const sub = kustomize(target);
      resources.push(...sub.resources);
      for (const [name, files] of sub.configMaps) configMaps.set(name, files);
      problems.push(...sub.problems);
    } else {
      resources.push(...yamlDocs(target));
    }
  }
  for (const generator of (k.configMapGenerator ?? []) as any[]) {
    const files = new Map<string, string>();
    for (const spec of (generator.files ?? []) as string[]) {
      const [key, file] = spec.includes('=') ? (spec.split('=', 2) as [string, string]) : [basename(spec), spec];
      if (!existsSync(join(dir, file))) problems.push(`${where}: configMapGenerator ${generator.name} file ${file} does not exist`);
      files.set(key, join(dir, file));
    }
    const behavior = generator.behavior ?? 'create';
    const existing = configMaps.get(generator.name);
    if (behavior === 'create' && existing) problems.push(`${where}: ConfigMap ${generator.name} is generated twice`);
    if (behavior !== 'create' && !existing) problems.push(`${where}: ConfigMap ${generator.name} has behavior ${behavior} but no base to act on`);
    configMaps.set(generator.name, behavior === 'merge' && existing ? new Map([...existing, ...files]) : files);
  }
  for (const patch of (k.patches ?? []) as any[]) {
    const docs = patch.path ? (existsSync(join(dir, patch.path)) ? yamlDocs(join(dir, patch.path)) : (problems.push(`${where}: patch ${patch.path} does not exist`), [])) : [];
    for (const doc of docs) {
      const kind = patch.target?.kind ?? doc.kind;
      const name = patch.target?.name ?? doc.metadata?.name;
      const matched = resources.filter((r) => r.kind === kind && r.metadata?.name === name);
      if (matched.length === 0) problems.push(`${where}: patch ${patch.path} targets ${kind}/${name}, which is not a resource`);
      for (const r of matched) mergeInto(r, doc);
    }
  }
  for (const { name, count } of (k.replicas ?? []) as { name: string; count: number }[]) {
    const matched = resources.filter((r) => ['Deployment', 'StatefulSet'].includes(r.kind) && r.metadata?.name === name);
    if (matched.length === 0) problems.push(`${where}: replicas names ${name}, which is not a Deployment`);
    for (const r of matched) r.spec.replicas = count;
  }
  for (const image of (k.images ?? []) as { name: string; newName?: string; newTag?: string }[]) {
    let used = 0;
    for (const container of podContainers(resources)) {
      const { repository, tag } = splitImage(container.image);
      if (repository !== image.name) continue;
      used++;
      container.image = `${image.newName ?? repository}${image.newTag ?? tag ? `:${image.newTag ?? tag}` : ''}`;
    }
    if (used === 0) problems.push(`${where}: images entry ${image.name} matches no container, so it changes nothing`);
  }
  if (k.namespace) for (const r of resources) if (!CLUSTER_SCOPED.has(r.kind)) r.metadata = { ...r.metadata, namespace: k.namespace };
  return { dir, resources, configMaps, problems };
}

export function podContainers(resources: readonly any[]): any[] {
  return resources
    .filter((r) => r.spec?.template?.spec)
    .flatMap((r) => [...(r.spec.template.spec.initContainers ?? []), ...(r.spec.template.spec.containers ?? [])]);
}

export function splitImage(image: string): { repository: string; tag: string | undefined } {
  const at = image.lastIndexOf(':');
  return at > image.lastIndexOf('/') ? { repository: image.slice(0, at), tag: image.slice(at + 1) } : { repository: image, tag: undefined };
}

/** Strategic merge, as far as these patches need it: maps merge, lists of named items merge by name. */
function mergeInto(target: any, patch: any): void {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (Array.isArray(value) && Array.isArray(current) && value.every((v) => v && typeof v === 'object' && 'name' in v)) {
      for (const item of value) {
        const same = current.find((c: any) => c?.name === item.name);
        if (same) mergeInto(same, item);
        else current.push(item);
      }
    } else if (value && typeof value === 'object' && !Array.isArray(value) && current && typeof current === 'object') {
      mergeInto(current, value);
    } else {
      target[key] = value;
    }
  }
}

/** A container port by number or by name, as probes and Services give it. */
export function resolvePort(container: any, port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return (container.ports ?? []).find((p: any) => p.name === port)?.containerPort;
}
