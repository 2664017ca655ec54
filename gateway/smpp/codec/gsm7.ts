// GSM 03.38 default alphabet, as SMPP carries it with data_coding 0: one
// septet per octet (unpacked). Extension characters cost two septets (ESC +
// code). Pure.

const BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const ESCAPE = 0x1b;
const EXTENSION: Readonly<Record<number, string>> = {
  0x0a: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2f: '\\', 0x3c: '[', 0x3d: '~', 0x3e: ']', 0x40: '|', 0x65: '€',
};

const basicByChar = new Map<string, number>();
for (let i = 0; i < BASIC.length; i++) if (i !== ESCAPE) basicByChar.set(BASIC[i] as string, i);
const extensionByChar = new Map<string, number>(Object.entries(EXTENSION).map(([code, ch]) => [ch, Number(code)]));

/** Septets one character costs in GSM 7-bit, or null if it is not in the alphabet. */
export function gsmSeptetsOf(char: string): 1 | 2 | null {
  if (basicByChar.has(char)) return 1;
  if (extensionByChar.has(char)) return 2;
  return null;
}

export function isGsmEncodable(text: string): boolean {
  for (const ch of text) if (gsmSeptetsOf(ch) === null) return false;
  return true;
}

export function gsmSeptetLength(text: string): number {
  let n = 0;
  for (const ch of text) {
    const s = gsmSeptetsOf(ch);
    if (s === null) throw new RangeError(`character U+${ch.codePointAt(0)?.toString(16)} is not in the GSM alphabet`);
    n += s;
  }
  return n;
}

export function encodeGsm(text: string): Buffer {
  const out = Buffer.alloc(gsmSeptetLength(text));
  let i = 0;
  for (const ch of text) {
    const basic = basicByChar.get(ch);
    if (basic !== undefined) {
      out[i++] = basic;
    } else {
      out[i++] = ESCAPE;
      out[i++] = extensionByChar.get(ch) as number;
    }
  }
  return out;
}

/** Decodes unpacked septets. An unknown escape code decodes as its basic character (03.38 rule); a trailing ESC as space. */
export function decodeGsm(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = (bytes[i] as number) & 0x7f;
    if (b === ESCAPE) {
      const next = bytes[i + 1];
      if (next === undefined) {
        out += ' ';
        break;
      }
      i++;
      out += EXTENSION[next & 0x7f] ?? BASIC[next & 0x7f];
    } else {
      out += BASIC[b];
    }
  }
  return out;
}
