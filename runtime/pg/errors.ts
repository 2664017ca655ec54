// What a PostgreSQL error means for whoever asked: some are worth a retry
// (a serialization failure, a lost connection), some never will be.

/** SQLSTATE class 22, "data exception": the data itself is wrong (a NUL in text, invalid UTF-8, a bad number). */
const DATA_EXCEPTION_CLASS = '22';

/** The SQLSTATE of a node-postgres error (or of its cause), or null for anything else. */
export function sqlState(err: unknown): string | null {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return null;
}

/** True when PostgreSQL refused the data itself (class 22): retrying the same request can never succeed. */
export function isDataException(err: unknown): boolean {
  return sqlState(err)?.startsWith(DATA_EXCEPTION_CLASS) ?? false;
}
