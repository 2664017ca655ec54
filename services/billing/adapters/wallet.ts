// The operator-led model: balances live in our own ledger. The carrier side
// is a no-op; the ledger's reserve transfer checks and holds the funds.
import { AccountIds } from '../ledger/rules.js';
import { CarrierOutcome, type CarrierAdapter, type CarrierResult } from './types.js';

const OK: CarrierResult = { outcome: CarrierOutcome.OK, detail: '' };

export const walletAdapter: CarrierAdapter = {
  name: 'wallet',
  fundsCheckedInLedger: true,
  payerAccountId: (_operatorId, msisdn) => AccountIds.subscriber(msisdn),
  reserve: async () => OK,
  capture: async () => OK,
  release: async () => OK,
};
