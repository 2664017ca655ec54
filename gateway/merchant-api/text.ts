// Text PostgreSQL cannot store: U+0000 (refused in any text column) and
// unpaired UTF-16 surrogates (they have no UTF-8 form). Found here, at the
// door, they are a 422; let through, they became a database error that the
// client was told to retry forever. Pure.

/** A NUL, a high surrogate not followed by a low one, or a low surrogate not after a high one. */
const INVALID_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const INVALID_TEXT_ALL = new RegExp(INVALID_TEXT.source, 'g');
/** Values looked at before giving up; a body within bodyBytesMax holds far fewer. */
const VALUES_MAX = 100_000;

export const INVALID_TEXT_DETAIL = 'contains a NUL character or an unpaired surrogate, which is not text';

export function isStorableText(text: string): boolean {
  return !INVALID_TEXT.test(text);
}

/** RFC 6901 escaping, with unstorable characters shown as U+FFFD so the answer itself is clean text. */
function pointerToken(key: string): string {
  return key.replace(INVALID_TEXT_ALL, '\ufffd').replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * The JSON pointer of the first string (a value or an object key) in `value` that is not storable
 * text, or null when all are. Iterative, so a deeply nested body cannot overflow the stack; past
 * VALUES_MAX values the root is reported, refusing what was not fully checked.
 */
export function invalidTextPointer(value: unknown): string | null {
  const pending: { value: unknown; pointer: string }[] = [{ value, pointer: '' }];
  for (let seen = 0; pending.length > 0; seen++) {
    if (seen >= VALUES_MAX) return '/';
    const { value: v, pointer } = pending.pop() as { value: unknown; pointer: string };
    if (typeof v === 'string') {
      if (!isStorableText(v)) return pointer || '/';
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) pending.push({ value: v[i], pointer: `${pointer}/${i}` });
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i] as [string, unknown];
        if (!isStorableText(key)) return `${pointer}/${pointerToken(key)}`;
        pending.push({ value: child, pointer: `${pointer}/${pointerToken(key)}` });
      }
    }
  }
  return null;
}
