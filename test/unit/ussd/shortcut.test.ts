import { describe, expect, it } from 'vitest';
import { shortcutAnswers } from '../../../services/ussd/shortcut.js';

describe('shortcutAnswers', () => {
  it('takes the answers typed after the service code', () => {
    expect(shortcutAnswers('*384*1*SHOP42#', ['*384#'])).toEqual(['1', 'SHOP42']);
    expect(shortcutAnswers('*384*4*1#', ['*100#', '*384#'])).toEqual(['4', '1']);
  });

  it('is empty for the plain code, another code, an empty part or too many parts', () => {
    expect(shortcutAnswers('*384#', ['*384#'])).toEqual([]);
    expect(shortcutAnswers('*3841*1#', ['*384#'])).toEqual([]);
    expect(shortcutAnswers('*999*1#', ['*384#'])).toEqual([]);
    expect(shortcutAnswers('*384**1#', ['*384#'])).toEqual([]);
    expect(shortcutAnswers('*384*1*2*3*4*5*6*7*8*9#', ['*384#'])).toEqual([]);
    expect(shortcutAnswers('384*1', ['*384#'])).toEqual([]);
  });
});
