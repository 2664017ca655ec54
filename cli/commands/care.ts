// What customer care's lookups (`subscriber show`, `payment show`) share: the agent's name they
// require, one audit log line per lookup, a read-only transaction on a one-connection pool, and
// how amounts, times and other people's numbers are shown.
import { pino } from 'pino';
import type { Config } from '../../runtime/config/index.js';
import { createLogger, maskMsisdnsInText } from '../../runtime/log.js';
import { formatAmount } from '../../runtime/money.js';
import { readOnlyTransaction, type PoolClient } from '../../runtime/pg/index.js';
import { usageError, type Values } from '../command.js';
import { commandPool } from '../pool.js';

/** An agent's name as typed: a name or an id, not a document. */
const AGENT_CHARS_MAX = 200;

/** --by, trimmed: the lookup is refused (EX_USAGE) without it, before anything is read. */
export function requireAgent(values: Values, usage: string): string {
  const by = (values.by ?? '').trim();
  if (by === '') usageError(`${usage}\n--by AGENT is required: every lookup is logged with the name of the agent who made it`);
  return by.slice(0, AGENT_CHARS_MAX);
}

export interface LookupAudit {
  readonly by: string;
  readonly command: 'subscriber show' | 'payment show' | 'care list';
  /** What was looked up, already masked: a masked number, or a payment id. */
  readonly subject: Record<string, string>;
}

/**
 * Runs `read` in a read-only transaction, then writes the one audit line: who looked, with which
 * command, at what (masked), and whether it was found; never what was read. The line goes to
 * stderr, so stdout holds only the lookup (--json parses), and at level info whatever log.level
 * says: an audit line is not optional.
 */
export async function lookUp<T>(
  config: Config, audit: LookupAudit, read: (client: PoolClient) => Promise<T>, found: (result: T) => boolean,
): Promise<T> {
  const log = createLogger({ level: 'info', component: 'care-lookup', destination: pino.destination({ fd: 2, sync: true }) });
  const pool = commandPool(config, `dialpay-${audit.command.replace(' ', '-')}`, log);
  try {
    const result = await readOnlyTransaction(pool, read);
    log.info({ by: audit.by, command: audit.command, ...audit.subject, found: found(result) }, 'customer care lookup');
    return result;
  } catch (err) {
    log.warn({ by: audit.by, command: audit.command, ...audit.subject, err }, 'customer care lookup failed');
    throw err;
  } finally {
    await pool.end();
  }
}

/** Someone else's number in any text (a counterparty, a ledger account id): masked. */
export const masked = (text: string): string => maskMsisdnsInText(text);

export const money = (amountMinor: bigint, currency: string): string => formatAmount(amountMinor, currency);

/** Seconds, minutes, hours or days, the largest that fits: how long a payment has waited. */
export function age(fromMs: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - fromMs) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7_200) return `${Math.round(s / 60)}min`;
  if (s < 172_800) return `${Math.round(s / 3_600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

export const iso = (at: Date | null): string => (at ? at.toISOString() : '-');

/** JSON with bigint money as strings of minor units (exact; JSON numbers are doubles). */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`;
}
