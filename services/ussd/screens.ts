// Fitting text into USSD messages. Pure. A USSD message holds 182 GSM 03.38
// septets; the extension characters (such as [ ] { } and the euro sign)
// take two.

/** What one USSD message may hold (GSM 03.38 septets). */
export const SCREEN_CHARS_MAX = 182;

const EXTENSION = new Set(['^', '{', '}', '\\', '[', '~', ']', '|', '€', '\f']);

export function septetLength(text: string): number {
  let n = 0;
  for (const ch of text) n += EXTENSION.has(ch) ? 2 : 1;
  return n;
}

/** Cuts `text` at the last septet that fits, never inside a character. */
function cut(text: string, septetsMax: number): [string, string] {
  let n = 0;
  let i = 0;
  for (const ch of text) {
    const w = EXTENSION.has(ch) ? 2 : 1;
    if (n + w > septetsMax) break;
    n += w;
    i += ch.length;
  }
  return [text.slice(0, i), text.slice(i)];
}

/**
 * Splits a screen into pages of at most `septetsMax`; every page but the last ends with the
 * "more" line. Breaks between lines where it can, inside a line only when one line is too long.
 */
export function paginate(text: string, septetsMax: number, moreLine: string): string[] {
  if (septetsMax <= septetLength(moreLine) + 1) throw new RangeError('a page must hold more than the "more" line');
  if (septetLength(text) <= septetsMax) return [text];
  const room = septetsMax - septetLength(moreLine) - 1;
  const pages: string[] = [];
  let rest = text;
  while (septetLength(rest) > septetsMax) {
    let [head, tail] = cut(rest, room);
    const newline = head.lastIndexOf('\n');
    if (newline > 0) [head, tail] = [head.slice(0, newline), rest.slice(newline + 1)];
    pages.push(`${head}\n${moreLine}`);
    rest = tail;
  }
  pages.push(rest);
  return pages;
}
