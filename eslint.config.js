// The house rules a reviewer used to hold: boundaries between parts (the same ones
// test/unit/boundaries.test.ts checks), size limits, no casts that throw types away,
// no forgotten promises, and one layout (@stylistic; `make format` applies it).
import tseslint from 'typescript-eslint';
import stylistic from '@stylistic/eslint-plugin';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const PRODUCT = ['proto', 'runtime', 'gateway', 'services', 'cli', 'operator-sim'];
const SERVICES = ['billing', 'payments', 'reconciliation', 'settlement', 'ussd', 'webhooks'];
const ts = (folders) => folders.map((f) => `${f}/**/*.ts`);

/** Who may not import whom (import-x/no-restricted-paths zones: `target` may not import from `from`). */
const ZONES = [
  { target: PRODUCT.map((f) => `./${f}`), from: ['./load-tests', './test'], message: 'load generators and tests do not ship: product code never imports them' },
  { target: './proto', from: ['./runtime', './gateway', './services', './cli', './operator-sim'], message: 'the contracts import nothing of ours' },
  { target: './runtime', from: ['./gateway', './services', './cli', './operator-sim'], message: 'the shared runtime knows no component' },
  { target: './gateway', from: ['./services', './runtime/pg', './cli', './operator-sim'], message: 'the gateway speaks wire protocols: no service, no Postgres' },
  { target: './gateway/smpp/codec', from: ['./proto', './runtime', './services', './cli', './operator-sim', './gateway'], except: ['./smpp/codec'],
    message: 'the SMPP codec is pure: nothing of ours outside its folder' },
  { target: ['./operator-sim', './load-tests'], from: './gateway', except: ['./index.ts', './smpp/codec/index.ts'],
    message: 'the simulator and the load generators reach the gateway through its entry or its codec' },
  ...SERVICES.map((name) => ({
    target: ['./operator-sim', './load-tests'], from: `./services/${name}`, except: ['./index.ts'],
    message: 'the simulator and the load generators reach a service through its index.ts',
  })),
  { target: [...PRODUCT.filter((f) => f !== 'operator-sim').map((f) => `./${f}`), './load-tests', './test'], from: './operator-sim', except: ['./index.ts'],
    message: 'the simulator is used through operator-sim/index.ts' },
  ...SERVICES.map((name) => ({
    target: `./services/${name}`, from: ['./services', './gateway', './cli', './operator-sim'], except: [`./${name}`],
    message: 'a service imports no other service and not the gateway: they talk over NATS',
  })),
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'proto/gen/**', 'eslint.config.js'] },
  {
    files: ts([...PRODUCT, 'load-tests', 'test']),
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { '@stylistic': stylistic, '@typescript-eslint': tseslint.plugin, 'import-x': importX },
    settings: {
      // import-x reads each imported file to follow cycles: with TypeScript's parser, or it sees no imports at all.
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      '@stylistic/indent': ['error', 2, { SwitchCase: 1, ignoredNodes: ['TemplateLiteral *'] }],
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
      '@stylistic/semi': ['error', 'always'],
      '@stylistic/comma-dangle': ['error', 'always-multiline'],
      '@stylistic/no-trailing-spaces': 'error',
      '@stylistic/eol-last': 'error',
      '@stylistic/no-multiple-empty-lines': ['error', { max: 1, maxEOF: 0 }],
      '@stylistic/arrow-parens': ['error', 'always'],
      '@stylistic/keyword-spacing': 'error',
      '@stylistic/space-before-blocks': 'error',
      '@stylistic/brace-style': ['error', '1tbs', { allowSingleLine: true }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      'no-restricted-syntax': ['error', { selector: 'TSAsExpression > TSNeverKeyword', message: '`as never` throws the type away: convert the value (proto/ has typed converters)' }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', { zones: ZONES }],
    },
  },
  {
    files: ts([...PRODUCT, 'load-tests']),
    rules: { '@stylistic/max-len': ['error', { code: 140, ignoreUrls: true, ignoreRegExpLiterals: true }] },
  },
  {
    // Tests quote whole SMS texts, CSV lines and problem bodies in their expectations: strings may run on.
    files: ts(['test']),
    rules: { '@stylistic/max-len': ['error', { code: 140, ignoreUrls: true, ignoreRegExpLiterals: true, ignoreStrings: true, ignoreTemplateLiterals: true }] },
  },
  {
    files: ts(PRODUCT),
    rules: {
      'max-lines-per-function': ['error', { max: 70, skipBlankLines: true, skipComments: true }],
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
      'no-restricted-imports': ['error', { paths: [], patterns: [] }],
    },
  },
  {
    // Payments, the densest service, stays walkable: no file over 300 lines, every line counted (issue 14).
    files: ts(['services/payments']),
    rules: { 'max-lines': ['error', { max: 300, skipBlankLines: false, skipComments: false }] },
  },
  {
    files: ts(['gateway']),
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'pg', message: 'the gateway never opens Postgres' }] }] },
  },
  {
    files: ts(['gateway/smpp/codec']),
    rules: { 'no-restricted-imports': ['error', { paths: ['pg'], patterns: [{ group: ['node:*'], message: 'the codec keeps no sockets: pure functions over bytes' }] }] },
  },
  {
    // A micro-benchmark of one internal module (the ledger's store) measures that module itself.
    files: ['load-tests/ledger.bench.ts'],
    rules: { 'import-x/no-restricted-paths': ['error', { zones: ZONES.filter((z) => !String(z.target).includes('./load-tests')) }] },
  },
);
