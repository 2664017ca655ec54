// `make lint` holds the house rules a reviewer used to: this proves each rule can fail, on the paths
// where it applies, and that the lint's boundaries are the ones boundaries.test.ts states. Each probe
// is linted as if it were the named file (the text replaces the file's content, nothing is written).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/stack.js';

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: ROOT });
});

/** The rules that fire on `text` linted as the file at `path`. */
async function rulesFor(path: string, text: string): Promise<string[]> {
  const [result] = await eslint.lintText(text, { filePath: join(ROOT, path) });
  return [...new Set(result?.messages.map((m) => m.ruleId ?? `fatal: ${m.message}`) ?? [])];
}

describe('the boundaries, as the lint holds them', () => {
  it('a service importing another service, or the gateway, is refused; its own files are not', async () => {
    expect(await rulesFor('services/payments/engine.ts', "export { x } from '../billing/ledger/store.js';\n")).toContain('import-x/no-restricted-paths');
    expect(await rulesFor('services/payments/engine.ts', "export { x } from '../../gateway/index.js';\n")).toContain('import-x/no-restricted-paths');
    expect(await rulesFor('services/payments/engine.ts', "export { x } from './store.js';\n")).not.toContain('import-x/no-restricted-paths');
  }, 120_000);

  it('the gateway may not open Postgres or call a service', async () => {
    expect(await rulesFor('gateway/smpp/inbound.ts', "export { x } from '../../runtime/pg/index.js';\n")).toContain('import-x/no-restricted-paths');
    expect(await rulesFor('gateway/smpp/inbound.ts', "import pg from 'pg';\nexport const p = pg;\n")).toContain('no-restricted-imports');
    expect(await rulesFor('gateway/smpp/inbound.ts', "export { x } from '../../services/payments/index.js';\n")).toContain('import-x/no-restricted-paths');
  }, 120_000);

  it('the runtime and the contracts know no component; product code imports no load generator or test', async () => {
    expect(await rulesFor('runtime/host.ts', "export { x } from '../services/billing/index.js';\n")).toContain('import-x/no-restricted-paths');
    expect(await rulesFor('proto/index.ts', "export { x } from '../runtime/log.js';\n")).toContain('import-x/no-restricted-paths');
    expect(await rulesFor('cli/dev.ts', "export { x } from '../load-tests/stats.js';\n")).toContain('import-x/no-restricted-paths');
    expect(await rulesFor('services/ussd/menu.ts', "export { x } from '../../test/support/stack.js';\n")).toContain('import-x/no-restricted-paths');
  }, 120_000);

  it('the codec stays pure, and the simulator and load generators use public entries', async () => {
    expect(await rulesFor('gateway/smpp/codec/frame.ts', "export { Socket } from 'node:net';\n")).toContain('no-restricted-imports');
    expect(await rulesFor('gateway/smpp/codec/frame.ts', "export { x } from '../session.js';\n")).toContain('import-x/no-restricted-paths');
    expect(await rulesFor('operator-sim/smsc.ts', "export { x } from '../gateway/smpp/session.js';\n")).toContain('import-x/no-restricted-paths');
    expect(await rulesFor('operator-sim/smsc.ts', "export { x } from '../gateway/smpp/codec/index.js';\n")).not.toContain('import-x/no-restricted-paths');
    expect(await rulesFor('load-tests/stats.ts', "export { x } from '../services/billing/ledger/store.js';\n")).toContain('import-x/no-restricted-paths');
    expect(await rulesFor('cli/dev.ts', "export { x } from '../operator-sim/smsc.js';\n")).toContain('import-x/no-restricted-paths');
  }, 120_000);

  it('an import cycle is refused', async () => {
    // A real pair in runtime/: `importer` imports values from `imported`; linting `imported` as importing it back closes a cycle.
    const files = readdirSync(join(ROOT, 'runtime')).filter((f) => f.endsWith('.ts'));
    const pair = files.flatMap((importer) => [...readFileSync(join(ROOT, 'runtime', importer), 'utf8').matchAll(/^import \{[^}]*\} from '\.\/([a-z-]+)\.js'/gm)]
      .map((m) => ({ importer, imported: `${m[1]}.ts` }))).find((p) => files.includes(p.imported));
    expect(pair).toBeDefined();
    const { importer, imported } = pair as { importer: string; imported: string };
    const text = `${readFileSync(join(ROOT, 'runtime', imported), 'utf8')}\nimport * as cycle from './${importer.replace(/\.ts$/, '.js')}';\nexport const cycleProbe = cycle;\n`;
    expect(await rulesFor(`runtime/${imported}`, text)).toContain('import-x/no-cycle');
  }, 120_000);
});

describe('the code rules', () => {
  it('refuses `as never`, a floating promise, a long line and a long function', async () => {
    expect(await rulesFor('services/payments/engine.ts', 'export const y = 1 as never;\n')).toContain('no-restricted-syntax');
    expect(await rulesFor('services/payments/engine.ts', 'async function f(): Promise<void> {}\nf();\n')).toContain('@typescript-eslint/no-floating-promises');
    expect(await rulesFor('services/payments/engine.ts', `export const s = ${'1 + '.repeat(40)}1;\n`)).toContain('@stylistic/max-len');
    const body = Array.from({ length: 71 }, (_, i) => `  const v${i} = ${i};`).join('\n');
    expect(await rulesFor('services/payments/engine.ts', `export function f(): void {\n${body}\n}\n`)).toContain('max-lines-per-function');
    // Payments' files stay within 300 lines, blank lines and comments included; elsewhere 400 lines of code.
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `export const c${i} = ${i};`).join('\n');
    expect(await rulesFor('services/payments/engine.ts', `${lines(301)}\n`)).toContain('max-lines');
    expect(await rulesFor('services/settlement/windows.ts', `${lines(301)}\n`)).not.toContain('max-lines');
    expect(await rulesFor('services/settlement/windows.ts', `${lines(401)}\n`)).toContain('max-lines');
    // Tests are held to the layout, not to function size: a describe block is one long function.
    expect(await rulesFor('test/unit/lint.test.ts', `export function f(): void {\n${body}\n}\n`)).not.toContain('max-lines-per-function');
  }, 120_000);
});
