// The operator-led model: balances live in our own ledger. The carrier side
// is a no-op; the ledger's reserve transfer checks and holds the funds.
import type { Ledger } from '../ledger/store.js';
import { AccountIds } from '../ledger/rules.js';
import { CarrierOutcome, type CarrierAdapter, type CarrierResult } from './types.js';

const OK: CarrierResult = { outcome: CarrierOutcome.OK, detail: '' };

export function walletAdapter(ledger: Ledger): CarrierAdapter {
  return {
    name: 'wallet',
    fundsCheckedInLedger: true,
    payerAccountId: (_operatorId, msisdn) => AccountIds.subscriber(msisdn),
    reserve: async () => OK,
    capture: async () => OK,
    release: async () => OK,
    refund: async () => OK, // the ledger's refund transfer credits the wallet
    // A wallet we have never credited is simply empty.
    balance: async (_operatorId, msisdn) => ledger.balance(AccountIds.subscriber(msisdn)).catch(() => 0n),
  };
}
