// PINs a USSD dialogue over SMPP still needs on a later hop (choosing a PIN:
// typed, then repeated; changing it: current, new, repeated) ride in the
// session record sealed, never in clear: AES-256-GCM under a key that never
// goes to NATS, bound to the session and the answer's position, so a sealed
// answer cannot be read from KV, nor moved to another session or screen.
// Pure apart from the random IV.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const SEALED_PREFIX = '<sealed:';
const SEALED_SUFFIX = '>';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function assertSealKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new Error(`a USSD seal key is ${KEY_BYTES} bytes, not ${key.length}`);
}

export function isSealed(kept: string): boolean {
  return kept.startsWith(SEALED_PREFIX) && kept.endsWith(SEALED_SUFFIX);
}

const boundTo = (sessionId: string, position: number) => Buffer.from(`${sessionId}#${position}`, 'utf8');

/** `answer`, sealed for the kept path of `sessionId` at `position`. */
export function sealAnswer(key: Buffer, sessionId: string, position: number, answer: string): string {
  assertSealKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(boundTo(sessionId, position));
  const sealed = Buffer.concat([iv, cipher.update(answer, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${SEALED_PREFIX}${sealed.toString('base64url')}${SEALED_SUFFIX}`;
}

/** The answer a sealed entry holds; null when it was sealed under another key, for another place, or altered. */
export function openAnswer(key: Buffer, sessionId: string, position: number, kept: string): string | null {
  assertSealKey(key);
  if (!isSealed(kept)) return null;
  const bytes = Buffer.from(kept.slice(SEALED_PREFIX.length, -SEALED_SUFFIX.length), 'base64url');
  if (bytes.length < IV_BYTES + TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(boundTo(sessionId, position));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/** A key from config (base64 of 32 bytes), or, with none configured, one made for this process. */
export function sealKeyFrom(configured: string | undefined): { key: Buffer; generated: boolean } {
  if (configured) {
    const key = Buffer.from(configured, 'base64');
    assertSealKey(key);
    return { key, generated: false };
  }
  return { key: randomBytes(KEY_BYTES), generated: true };
}
