// services/payments stays walkable: no file over 300 lines, no function over
// 70 (issue 14, item 5). Functions are found by a header line and measured by
// matching braces; the scan is checked on made-up text first, so it can fail.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../support/stack.js';

const FILE_LINES_MAX = 300;
const FUNCTION_LINES_MAX = 70;
/** A signature spread over more lines than this is not looked for. */
const HEADER_LINES_MAX = 12;

const HEADER = /^\s*(?:export\s+)?(?:static\s+)?(?:override\s+)?(?:async\s+)?(?:function\s*\*?\s*[\w$]+|(?:get\s+|set\s+)?#?[\w$]+\s*(?:<[^()]*>)?\s*\()/;
const NOT_A_FUNCTION = /^\s*(?:if|for|while|switch|catch|return|await|new|else|do|try|throw|case|const|let|var|super|this|typeof|void|yield)\b/;

/** Index of the line holding the `}` that closes the `{` ending line `open`, or -1. */
function closingLine(lines: readonly string[], open: number): number {
  let depth = 0;
  for (let n = open; n < lines.length; n++) {
    const line = lines[n] as string;
    let quote: string | null = null;
    for (let c = n === open ? line.lastIndexOf('{') : 0; c < line.length; c++) {
      const ch = line[c] as string;
      if (quote) {
        if (ch === '\\') c++;
        else if (ch === quote) quote = null;
        continue;
      }
      if (ch === '/' && line[c + 1] === '/') break;
      if (ch === "'" || ch === '"') quote = ch;
      else if (ch === '{') depth++;
      else if (ch === '}' && --depth === 0) return n;
    }
  }
  return -1;
}

/** Each function or method in the text longer than `linesMax`, as "name:line (n lines)". */
export function longFunctions(text: string, linesMax: number): string[] {
  const lines = text.split('\n');
  const found: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!HEADER.test(line) || NOT_A_FUNCTION.test(line)) continue;
    let open = -1;
    for (let j = i; j < Math.min(lines.length, i + HEADER_LINES_MAX); j++) {
      const trimmed = (lines[j] as string).trimEnd();
      if (trimmed.endsWith('{')) { open = j; break; }
      if (trimmed.endsWith(';') || trimmed.endsWith('}')) break;
    }
    if (open < 0) continue;
    const close = closingLine(lines, open);
    const length = (close < 0 ? lines.length - 1 : close) - i + 1;
    if (length > linesMax) found.push(`${line.trim().slice(0, 40)}:${i + 1} (${length} lines)`);
  }
  return found;
}

function sourceFiles(): string[] {
  const dir = join(ROOT, 'services/payments');
  return readdirSync(dir).filter((n) => n.endsWith('.ts')).map((n) => join(dir, n));
}

describe('the scan', () => {
  const body = (n: number) => Array.from({ length: n }, (_, k) => `  const x${k} = '{'; // }`).join('\n');
  it('finds a function, a method and a multi-line signature over the bound, and passes ones within it', () => {
    const text = [
      `export async function tooLong(a: { b: string }): Promise<void> {`, body(70), `}`,
      `function fine() {`, body(10), `}`,
      `class C {`, `  async #method(`, `    a: number,`, `  ): Promise<number> {`, `    if (a) {`, body(70), `    }`, `  }`, `}`,
    ].join('\n');
    expect(longFunctions(text, 70)).toEqual(['export async function tooLong(a: { b: st:1 (72 lines)', 'async #method(:86 (76 lines)']);
  });
});

describe('services/payments', () => {
  it(`has no file over ${FILE_LINES_MAX} lines`, () => {
    const files = sourceFiles();
    expect(files.length).toBeGreaterThan(10);
    const long = files.map((f) => `${relative(ROOT, f)} (${readFileSync(f, 'utf8').split('\n').length} lines)`)
      .filter((entry) => Number(/\((\d+) lines\)$/.exec(entry)?.[1]) > FILE_LINES_MAX);
    expect(long).toEqual([]);
  });

  it(`has no function over ${FUNCTION_LINES_MAX} lines`, () => {
    const long = sourceFiles().flatMap((f) => longFunctions(readFileSync(f, 'utf8'), FUNCTION_LINES_MAX).map((l) => `${relative(ROOT, f)}: ${l}`));
    expect(long).toEqual([]);
  });
});
