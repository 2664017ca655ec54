// pino JSON logs. Secrets (PINs, codes, passwords, keys) are replaced, MSISDNs
// masked and message bodies reduced to their length before a line is written,
// whatever key or message string they hide in.
import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';

export type { Logger };

const SECRET_KEYS = new Set([
  'pin', 'newpin', 'oldpin', 'password', 'passwd', 'secret', 'otp', 'code', 'onetimecode', 'challengecode',
  'apikey', 'api_key', 'authorization', 'token', 'webhooksecret', 'signingsecret', 'pinhash', 'apikeyhash',
  // NATS credentials (nats.auth, nats.users.*): the client's own option names too.
  'pass', 'nkeyseed', 'seed', 'jwt', 'creds',
  // Config secrets (runtime/config/schema.ts), so a config or options object never logs them.
  'sharedsecret', 'sharedsecretprevious', 'sessionsealkey', 'passwordhash',
]);
/**
 * Names that end like a secret ('ussdSharedSecret', 'adminPassword', 'chargingApiKey'), so a key
 * added later is redacted without a change here. '*File' keys name a path, not a secret.
 */
const SECRET_KEY_ENDING = /(?:secret|password|sealkey|apikey)(?:previous)?$/;
const MSISDN_KEYS = new Set([
  'msisdn', 'from', 'to', 'phone', 'phonenumber', 'frommsisdn', 'tomsisdn', 'payermsisdn', 'payeemsisdn',
  'source_addr', 'destination_addr', 'sourceaddr', 'destinationaddr',
]);
/** Message bodies can hold a PIN ("1234") or a code ("YES 4821"): log their size only. */
const BODY_KEYS = new Set(['text', 'body', 'short_message', 'shortmessage', 'message_payload', 'messagepayload', 'ussdtext']);
/**
 * Nine to fifteen digits standing alone, optionally after '+': a phone number in free text. Not
 * inside a longer word or a hyphenated id, so a payment id (a UUID) stays greppable.
 */
const MSISDN_IN_TEXT = /(?<![\w-])\+?\d{9,15}(?![\w-])/g;
const SANITIZE_DEPTH_MAX = 6;
const SANITIZE_KEYS_MAX = 64;

export function maskMsisdn(msisdn: string): string {
  const digits = msisdn.replace(/\D/g, '');
  if (digits.length < 7) return msisdn; // a short code, not a person's number
  return `${digits.slice(0, 4)}${'*'.repeat(digits.length - 6)}${digits.slice(-2)}`;
}

export function maskMsisdnsInText(text: string): string {
  return text.replace(MSISDN_IN_TEXT, (m) => maskMsisdn(m));
}

/** Keys whose value is an error (pino's serialized `err`, a `cause`): a `code` inside names the error, not a one-time code. */
const ERROR_KEYS = new Set(['err', 'error', 'cause', 'errors']);

/** Node's and libraries' error codes: ECONNREFUSED, ERR_STREAM_WRITE_AFTER_END. */
const NAMED_ERROR_CODE = /^[A-Z][A-Z0-9_]{2,63}$/;
/**
 * Inside an error only: PostgreSQL's five-character SQLSTATE ("22P05", "23505") and a three-digit status ("503").
 * A one-time code is four digits.
 */
const ERROR_CODE_IN_ERROR = /^(?:[0-9A-Z]{5}|\d{3})$/;

/**
 * `code: 'ECONNRESET'` names an error, not a one-time code, and so does a SQLSTATE inside an error
 * (under `err`, `error`, `cause`): keep them for the on-call engineer. Any other `code` may be a
 * one-time code and is redacted.
 */
function isErrorCode(key: string, value: unknown, inError: boolean): boolean {
  if (key !== 'code' || typeof value !== 'string') return false;
  return NAMED_ERROR_CODE.test(value) || (inError && ERROR_CODE_IN_ERROR.test(value));
}

/** Returns a copy of `value` that is safe to log. Pure; bounded in depth and width. */
export function sanitizeForLog(value: unknown, depth = 0, inError = false): unknown {
  if (typeof value === 'string') return maskMsisdnsInText(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (depth >= SANITIZE_DEPTH_MAX) return '[too deep]';
  // Errors go on to pino's serializer (type, message, stack); the line sink masks what it writes.
  if (value instanceof Error) return value;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
  if (Array.isArray(value)) return value.slice(0, SANITIZE_KEYS_MAX).map((v) => sanitizeForLog(v, depth + 1, inError));
  const out: Record<string, unknown> = {};
  let count = 0;
  for (const [key, v] of Object.entries(value)) {
    if (count++ >= SANITIZE_KEYS_MAX) {
      out['…'] = 'truncated';
      break;
    }
    const k = key.toLowerCase();
    if ((SECRET_KEYS.has(k) || SECRET_KEY_ENDING.test(k)) && !isErrorCode(k, v, inError)) out[key] = '[REDACTED]';
    else if (MSISDN_KEYS.has(k) && (typeof v === 'string' || typeof v === 'number')) out[key] = maskMsisdn(String(v));
    else if (BODY_KEYS.has(k) && typeof v === 'string') out[key] = `[${v.length} chars]`;
    else out[key] = sanitizeForLog(v, depth + 1, inError || ERROR_KEYS.has(k));
  }
  return out;
}

export interface LoggerOptions {
  readonly level: LevelWithSilent;
  /** Set for a single-component process; `all` gives each component a child logger instead. */
  readonly component?: string;
  /** Where lines go; stdout by default. Tests pass a stream to read them back. */
  readonly destination?: DestinationStream;
}

/** Sanitizes one finished JSON line: covers child bindings and serializers, which skip pino's formatters. */
export function sanitizeLogLine(line: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return `${maskMsisdnsInText(line.trimEnd())}\n`;
  }
  return `${JSON.stringify(sanitizeForLog(parsed))}\n`;
}

export function createLogger(options: LoggerOptions): Logger {
  // Synchronous: the last line before a crash is the one the on-call engineer needs,
  // and a payment logs a few lines, not thousands.
  const out = options.destination ?? pino.destination({ fd: 1, sync: true });
  const sink = {
    write: (line: string) => out.write(sanitizeLogLine(line)),
    flush: (cb?: (err?: Error) => void) => {
      (out as { flushSync?: () => void }).flushSync?.();
      cb?.();
    },
  };
  return pino(
    {
      level: options.level,
      base: options.component ? { component: options.component } : {},
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        // bigint money becomes a string before pino serializes it.
        log: (object) => sanitizeForLog(object) as Record<string, unknown>,
      },
    },
    sink,
  );
}
