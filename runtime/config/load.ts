// Loads the YAML file, applies environment overrides, validates. Errors name
// the offending key so the on-call engineer can fix it without reading code.
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import type { Config } from './schema.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** Dotted path of the first bad key, for example "operators[1].smpp.port". */
  readonly key: string;
  constructor(key: string, message: string, options?: { cause?: unknown }) {
    super(key ? `config error at ${key}: ${message}` : `config error: ${message}`, options);
    this.key = key;
  }
}

/** Prefix of environment overrides: DIALPAY__nats__url, DIALPAY__operators__0__smpp__password. */
export const ENV_OVERRIDE_PREFIX = 'DIALPAY__';
/** Environment values longer than this are refused rather than parsed. */
const ENV_VALUE_LENGTH_MAX = 4096;

export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Reads and validates a config against one schema: the whole one, composed where the components are listed (cli/config.ts). */
export interface ConfigLoader {
  loadConfigFile(path: string, env?: NodeJS.ProcessEnv): Config;
  loadConfigText(text: string, env?: NodeJS.ProcessEnv): Config;
  validateConfig(raw: unknown): Config;
}

export function configLoader(schema: z.ZodType<Config>): ConfigLoader {
  return {
    loadConfigFile: (path, env = process.env) => loadConfigFile(schema, path, env),
    loadConfigText: (text, env = process.env) => loadConfigText(schema, text, env),
    validateConfig: (raw) => validateConfig(schema, raw),
  };
}

function loadConfigFile(schema: z.ZodType<Config>, path: string, env: NodeJS.ProcessEnv): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError('', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  return loadConfigText(schema, text, env);
}

function loadConfigText(schema: z.ZodType<Config>, text: string, env: NodeJS.ProcessEnv): Config {
  let raw: unknown;
  try {
    raw = parseYaml(text, { strict: true, maxAliasCount: 100 });
  } catch (cause) {
    const where = cause instanceof YAMLParseError && cause.linePos ? ` (line ${cause.linePos[0].line})` : '';
    throw new ConfigError('', `YAML does not parse${where}: ${(cause as Error).message.split('\n')[0]}`, { cause });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('', 'the file must hold a mapping at the top level');
  }
  applyEnvOverrides(raw as Record<string, unknown>, env);
  return validateConfig(schema, raw);
}

function validateConfig(schema: z.ZodType<Config>, raw: unknown): Config {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0] as z.core.$ZodIssue;
  let path = [...issue.path];
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    path = [...path, issue.keys[0] ?? ''];
    message = 'unknown key';
  } else if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
    message = 'required key is missing';
  }
  throw new ConfigError(formatKeyPath(path), message);
}

/** Applies DIALPAY__a__b__0__c=value; the value is read as a YAML scalar. */
function applyEnvOverrides(target: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_OVERRIDE_PREFIX) || value === undefined) continue;
    const path = name.slice(ENV_OVERRIDE_PREFIX.length).split('__').filter((p) => p !== '');
    if (path.length === 0) continue;
    if (value.length > ENV_VALUE_LENGTH_MAX) throw new ConfigError(path.join('.'), `environment value of ${name} is too long`);
    let parsed: unknown;
    try {
      parsed = parseYaml(value);
    } catch {
      parsed = value;
    }
    setPath(target, path, parsed, name);
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown, envName: string): void {
  let node: Record<string, unknown> | unknown[] = target;
  for (let i = 0; i < path.length; i++) {
    const part = path[i] as string;
    const last = i === path.length - 1;
    const key: string | number = Array.isArray(node) ? Number(part) : part;
    if (Array.isArray(node) && (!Number.isInteger(key) || (key as number) < 0 || (key as number) > node.length)) {
      throw new ConfigError(path.slice(0, i + 1).join('.'), `${envName} indexes past the end of the list`);
    }
    const container = node as Record<string | number, unknown>;
    if (last) {
      container[key] = value;
      return;
    }
    let next = container[key];
    if (next === undefined || next === null) {
      next = /^\d+$/.test(path[i + 1] as string) ? [] : {};
      container[key] = next;
    }
    if (typeof next !== 'object') {
      throw new ConfigError(path.slice(0, i + 1).join('.'), `${envName} goes below a value that is not a mapping`);
    }
    node = next as Record<string, unknown>;
  }
}
