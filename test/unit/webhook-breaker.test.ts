// The per-merchant circuit breaker of webhook delivery, on a hand-driven clock.
import { describe, expect, it } from 'vitest';
import { EndpointBreakers } from '../../services/webhooks/breaker.js';

describe('EndpointBreakers', () => {
  const options = { failuresToOpen: 3, openMs: 1_000, endpointsMax: 2 };

  it('opens after a run of failures, lets one probe through after openMs, and closes on its success', () => {
    const b = new EndpointBreakers(options);
    for (let i = 0; i < 2; i++) {
      expect(b.admit('A', 0)).toBe('try');
      b.failed('A', 0);
    }
    expect(b.admit('A', 0)).toBe('try');
    b.failed('A', 100); // the third in a row: open until 1,100
    expect(b.admit('A', 500)).toBe('open');
    expect(b.admit('B', 500)).toBe('try'); // other merchants are untouched
    expect(b.admit('A', 1_100)).toBe('probe');
    expect(b.admit('A', 1_100)).toBe('open'); // one probe at a time
    b.succeeded('A');
    expect(b.admit('A', 1_200)).toBe('try');
    expect(b.isOpen('A', 1_200)).toBe(false);
  });

  it('a failed probe opens it again for another openMs', () => {
    const b = new EndpointBreakers(options);
    for (let i = 0; i < 3; i++) b.failed('A', 0);
    expect(b.admit('A', 1_000)).toBe('probe');
    b.failed('A', 1_000);
    expect(b.admit('A', 1_999)).toBe('open');
    expect(b.admit('A', 2_000)).toBe('probe');
  });

  it('a success in between resets the count: failures must be consecutive', () => {
    const b = new EndpointBreakers(options);
    b.failed('A', 0);
    b.failed('A', 0);
    b.succeeded('A');
    b.failed('A', 0);
    b.failed('A', 0);
    expect(b.admit('A', 0)).toBe('try');
  });

  it('tracks a bounded number of merchants, dropping the one quiet longest', () => {
    const b = new EndpointBreakers(options);
    for (let i = 0; i < 3; i++) b.failed('A', 0);
    for (let i = 0; i < 3; i++) b.failed('B', 0);
    b.failed('C', 0); // A was quiet longest: forgotten, closed again
    expect(b.admit('A', 10)).toBe('try');
    expect(b.admit('B', 10)).toBe('open');
  });
});
