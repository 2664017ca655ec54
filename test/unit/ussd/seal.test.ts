import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isSealed, openAnswer, sealAnswer, sealKeyFrom } from '../../../services/ussd/seal.js';
import { fromPhone } from '../../../services/ussd/menu.js';

const key = randomBytes(32);

describe('sealed PINs in a kept path', () => {
  it('opens what it sealed, for the same session and position, and shows nothing of the PIN', () => {
    const sealed = sealAnswer(key, 'smpp:op:12', 2, '2580');
    expect(isSealed(sealed)).toBe(true);
    expect(sealed).not.toContain('2580');
    expect(openAnswer(key, 'smpp:op:12', 2, sealed)).toBe('2580');
    // A fresh IV each time: the same PIN never seals to the same text.
    expect(sealAnswer(key, 'smpp:op:12', 2, '2580')).not.toBe(sealed);
  });

  it('refuses another key, another session, another position, and an altered entry', () => {
    const sealed = sealAnswer(key, 'smpp:op:12', 2, '2580');
    expect(openAnswer(randomBytes(32), 'smpp:op:12', 2, sealed)).toBeNull();
    expect(openAnswer(key, 'smpp:op:13', 2, sealed)).toBeNull();
    expect(openAnswer(key, 'smpp:op:12', 3, sealed)).toBeNull();
    const body = sealed.slice('<sealed:'.length, -1);
    const flipped = `<sealed:${body.slice(0, 20)}${body[20] === 'A' ? 'B' : 'A'}${body.slice(21)}>`;
    expect(openAnswer(key, 'smpp:op:12', 2, flipped)).toBeNull();
    expect(openAnswer(key, 'smpp:op:12', 2, '<sealed:abc>')).toBeNull();
    expect(openAnswer(key, 'smpp:op:12', 2, '2580')).toBeNull();
  });

  it('takes a configured key of 32 bytes, or makes one', () => {
    const configured = randomBytes(32).toString('base64');
    expect(sealKeyFrom(configured)).toEqual({ key: Buffer.from(configured, 'base64'), generated: false });
    expect(sealKeyFrom(undefined).generated).toBe(true);
    expect(sealKeyFrom(undefined).key).toHaveLength(32);
    expect(() => sealKeyFrom(randomBytes(16).toString('base64'))).toThrow(/32 bytes/);
  });

  it('a phone cannot type a sealed entry into its own path', () => {
    expect(fromPhone(sealAnswer(key, 's', 0, '1234'))).toBe('');
  });
});
