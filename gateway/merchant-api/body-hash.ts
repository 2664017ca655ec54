import { createHash } from 'node:crypto';

/** A stable hash of a JSON body: the same fields in another order or spacing are the same body. */
export function bodyHash(body: unknown): Buffer {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(canonical)
      : value && typeof value === 'object'
        ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]))
        : value;
  return createHash('sha256').update(JSON.stringify(canonical(body))).digest();
}
