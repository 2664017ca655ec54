// How the API answers a payout or deposit from the credit it reads back, and
// how long it reads: pure, no server.
import { describe, expect, it } from 'vitest';
import { creditAnswer, waitForCredit } from '../../../gateway/merchant-api/credits.js';

describe('creditAnswer', () => {
  it('201 completed, 202 pending, 409 over the balance, 422 for other refusals; a refusal names the credit', () => {
    expect(creditAnswer({ status: 'completed' }, '/v1/payouts/a')).toEqual({ status: 201 });
    expect(creditAnswer({ status: 'pending' }, '/v1/payouts/a')).toEqual({ status: 202 });
    const poor = creditAnswer({ status: 'failed', failureReason: 'insufficient-balance' }, '/v1/payouts/a');
    expect(poor).toMatchObject({ problem: { status: 409, type: '/problems/insufficient-balance', instance: '/v1/payouts/a' } });
    const capped = creditAnswer({ status: 'failed', failureReason: 'wallet-balance-max' }, '/v1/operator/deposits/b');
    expect(capped).toMatchObject({ problem: { status: 422, type: '/problems/credit-refused', instance: '/v1/operator/deposits/b' } });
    expect(creditAnswer({ status: 'failed', failureReason: 'rejected' }, '/x')).toMatchObject({ problem: { status: 422 } });
  });
});

describe('waitForCredit', () => {
  it('reads until billing has answered', async () => {
    const states = ['pending', 'pending', 'completed'];
    let reads = 0;
    const credit = await waitForCredit({ status: 'pending' }, 5_000, async () => ({ status: states[reads++] as string }));
    expect([credit.status, reads]).toEqual(['completed', 3]);
  });

  it('gives up at the deadline with the credit as last read, and keeps it when a read fails', async () => {
    let reads = 0;
    const startedMs = Date.now();
    const credit = await waitForCredit<{ status: string }>({ status: 'pending' }, 300, async () => (++reads % 2 === 0 ? null : { status: 'pending' }));
    expect(credit.status).toBe('pending');
    expect(Date.now() - startedMs).toBeLessThan(1_000);
    expect(reads).toBeGreaterThan(1);
  });

  it('does not read a credit that is already answered, nor wait when told not to', async () => {
    let reads = 0;
    expect((await waitForCredit({ status: 'failed' }, 5_000, async () => { reads++; return null; })).status).toBe('failed');
    expect((await waitForCredit({ status: 'pending' }, 0, async () => { reads++; return null; })).status).toBe('pending');
    expect(reads).toBe(0);
  });
});
