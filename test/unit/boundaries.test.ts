// The layout's rules, enforced: the gateway never touches Postgres or a
// service; services never import each other or the gateway; the shared
// runtime imports no component; proto imports nothing of ours. The product
// (what the image ships) never imports the tools (load-tests/, test/); the
// operator simulator and the load generators use the gateway's pure SMPP codec
// and the components' public entries, never their internals.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/stack.js';

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'gen' || name === 'node_modules') continue;
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Each import of a file, as a path relative to the repo root, or the bare package name. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => {
    const spec = m[1] as string;
    return spec.startsWith('.') ? relative(ROOT, resolve(dirname(file), spec)) : spec;
  });
}

function violations(folder: string, forbidden: (target: string, file: string) => boolean): string[] {
  return tsFiles(join(ROOT, folder)).flatMap((file) =>
    importsOf(file).filter((t) => forbidden(t, relative(ROOT, file))).map((t) => `${relative(ROOT, file)} -> ${t}`),
  );
}

/** What `make build` compiles and the image ships (tsconfig.build.json). */
const PRODUCT_FOLDERS = ['proto', 'runtime', 'gateway', 'services', 'cli', 'operator-sim'];

/** A relative import of this repository's code, as importsOf resolves it. */
function isOurs(target: string): boolean {
  return /^(proto|runtime|gateway|services|cli|operator-sim|load-tests|test)\//.test(target);
}

/** The gateway's and services' public entries: the gateway's index and its SMPP codec, each service's index. */
function publicEntry(target: string): boolean {
  return target === 'gateway/index.js' || target === 'gateway/smpp/codec/index.js' || /^services\/[a-z-]+\/index\.js$/.test(target);
}

describe('component boundaries', () => {
  it('gateway imports no Postgres code and no service', () => {
    expect(violations('gateway', (t) => t === 'pg' || t.startsWith('runtime/pg') || t.startsWith('services/'))).toEqual([]);
  });

  it('a service imports no other service and not the gateway', () => {
    expect(
      violations('services', (t, file) => {
        const own = file.split('/')[1];
        return t.startsWith('gateway/') || (t.startsWith('services/') && t.split('/')[1] !== own);
      }),
    ).toEqual([]);
  });

  it('the shared runtime and the contracts import no component', () => {
    const component = (t: string) => t.startsWith('gateway/') || t.startsWith('services/') || t.startsWith('cli/');
    expect(violations('runtime', component)).toEqual([]);
    expect(violations('proto', (t) => component(t) || t.startsWith('runtime/'))).toEqual([]);
  });

  it('the product imports no tool: nothing in load-tests/ or test/', () => {
    const tool = (t: string) => t.startsWith('load-tests/') || t.startsWith('test/');
    expect(PRODUCT_FOLDERS.flatMap((folder) => violations(folder, tool))).toEqual([]);
  });

  it('the pure SMPP codec imports nothing of ours outside its folder, and no sockets', () => {
    expect(violations('gateway/smpp/codec', (t) => (isOurs(t) && !t.startsWith('gateway/smpp/codec/')) || t.startsWith('node:'))).toEqual([]);
  });

  it('the operator simulator reaches the gateway only through its codec or its entry, and services only through theirs', () => {
    expect(violations('operator-sim', (t) => !publicEntry(t) && isOurs(t) && !t.startsWith('operator-sim/') && !t.startsWith('runtime/'))).toEqual([]);
  });

  it('outside operator-sim/, only its index.ts is imported', () => {
    const intoSim = (t: string) => t.startsWith('operator-sim/') && t !== 'operator-sim/index.js';
    expect([...PRODUCT_FOLDERS.filter((f) => f !== 'operator-sim'), 'load-tests', 'test'].flatMap((folder) => violations(folder, intoSim))).toEqual([]);
  });

  it('load generators and drills reach the gateway and services through their public entries', () => {
    // A micro-benchmark of one internal module (the ledger's store) measures that module itself.
    const benchesOfOneModule = new Set(['load-tests/ledger.bench.ts']);
    expect(violations('load-tests', (t, file) => !benchesOfOneModule.has(file) && (t.startsWith('gateway/') || t.startsWith('services/')) && !publicEntry(t))).toEqual([]);
  });

  it('the runtime declares no component\'s durable consumer: each component declares its own (ComponentDefinition.consumers)', () => {
    const declaring = tsFiles(join(ROOT, 'runtime')).filter((file) => /durableName:\s*['`]/.test(readFileSync(file, 'utf8')));
    expect(declaring.map((file) => relative(ROOT, file))).toEqual([]);
  });

  it('composes every component\'s config part and lists every component\'s consumers', () => {
    const owners = ['gateway', ...readdirSync(join(ROOT, 'services')).map((name) => `services/${name}`)];
    const declaring = (file: string) => owners.filter((dir) => statSync(join(ROOT, dir)).isDirectory() && tsFiles(join(ROOT, dir)).includes(join(ROOT, dir, file))).map((dir) => `${dir}/${file.replace(/\.ts$/, '')}`);
    // cli/config.ts joins each <component>/config.ts; a component's consumers.ts is read by its own index.ts
    // (ComponentDefinition.consumers).
    expect(declaring('config.ts').filter((m) => !importsOf(join(ROOT, 'cli/config.ts')).includes(`${m}.js`))).toEqual([]);
    expect(declaring('consumers.ts').filter((m) => !importsOf(join(ROOT, m.replace(/consumers$/, 'index.ts'))).includes(`${m}.js`))).toEqual([]);
    expect(declaring('config.ts').length).toBeGreaterThan(3);
  });

  it('finds imports at all (the scanner is not blind)', () => {
    expect(violations('cli', (t) => t.startsWith('services/')).length).toBeGreaterThan(0);
    expect(violations('operator-sim', (t) => t === 'gateway/smpp/codec/index.js').length).toBeGreaterThan(0);
    expect(violations('test', (t) => t === 'operator-sim/index.js').length).toBeGreaterThan(0);
  });
});
