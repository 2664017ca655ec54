// What a `dialpay` command is: its lines in the help, whether it needs the
// config, and a small handler. cli/dialpay.ts keeps the table of them and
// builds the help from it.
import { parseArgs } from 'node:util';
import type { Config } from '../runtime/config/index.js';
import { EngineUnavailableError } from '../runtime/engine-error.js';

/** Every option any command takes; a command reads the ones it knows. */
const OPTIONS = {
  config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' }, 'phone-line': { type: 'string' },
  'traffic-ms': { type: 'string' }, consumer: { type: 'string' },
  msisdn: { type: 'string' }, by: { type: 'string' }, merchant: { type: 'string' }, operator: { type: 'string' }, id: { type: 'string' },
  name: { type: 'string' }, agent: { type: 'string' },
  amount: { type: 'string' }, ref: { type: 'string' }, window: { type: 'string' }, out: { type: 'string' }, paid: { type: 'boolean' },
  interop: { type: 'boolean' }, again: { type: 'boolean' }, tier: { type: 'string' }, evidence: { type: 'string' },
  payment: { type: 'string' }, last: { type: 'string' }, json: { type: 'boolean' }, reason: { type: 'string' },
  case: { type: 'string' }, open: { type: 'boolean' },
  at: { type: 'string' }, url: { type: 'string' },
} as const;

export function parseCommandLine(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
}

export type Values = ReturnType<typeof parseCommandLine>['values'];

/** A config that does not load or validate (systemd's RestartPreventExitStatus names it). */
export const EXIT_CONFIG_ERROR = 2;

/** A command used wrongly (a missing or bad argument): sysexits' EX_USAGE. */
export const EXIT_USAGE = 64;

export interface ArgsContext {
  /** The command's name first, then its words. */
  readonly positionals: readonly string[];
  readonly values: Values;
}

export interface ConfigContext extends ArgsContext {
  readonly config: Config;
  readonly configPath: string;
}

/**
 * A help entry: the synopsis, then the lines saying what it does (a short synopsis shares its
 * line with the first of them); or text already laid out.
 */
export type HelpEntry = readonly [synopsis: string, ...lines: string[]] | string;

interface CommandBase {
  readonly help: readonly HelpEntry[];
  /** Whether a command line with these words is this command's (a subcommand named); any by default. */
  readonly accepts?: (positionals: readonly string[]) => boolean;
}

export type Command =
  | (CommandBase & { readonly needsConfig: false; run(ctx: ArgsContext): Promise<void> })
  | (CommandBase & { readonly needsConfig: true; run(ctx: ConfigContext): Promise<void> });

/** Says why on stderr and exits with EX_USAGE. */
export function usageError(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(EXIT_USAGE);
}

/** An engine that cannot be used at start gets one line naming its config key, not a stack trace; anything else is rethrown. */
export function exitIfEngineUnavailable(err: unknown): never {
  if (!(err instanceof EngineUnavailableError)) throw err;
  process.stderr.write(`dialpay: ${err.message}\n`);
  process.exit(1);
}

const SYNOPSIS_COLUMN = 17;
const TEXT_INDENT = ' '.repeat(2 + SYNOPSIS_COLUMN);

export function formatHelpEntry(entry: HelpEntry): string {
  if (typeof entry === 'string') return entry;
  const [synopsis, ...lines] = entry;
  const rest = (from: number) => lines.slice(from).map((l) => `${TEXT_INDENT}${l}\n`).join('');
  if (synopsis.length < SYNOPSIS_COLUMN - 1 && lines.length > 0) return `  ${synopsis.padEnd(SYNOPSIS_COLUMN)}${lines[0]}\n${rest(1)}`;
  return `  ${synopsis}\n${rest(0)}`;
}
