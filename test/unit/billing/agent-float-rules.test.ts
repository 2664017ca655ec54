// Agents' ledger rules (issue 16): a float top-up is one balanced move from the operator's
// funding account to the agent's float, under an id naming the operator's reference; floats are
// balance-checked rows and both new kinds name the flow that reads them (no stranded money).
import { describe, expect, it } from 'vitest';
import { AccountIds, ACCOUNT_READERS, BALANCE_CHECKED_KINDS, floatTopUpTransfer, LedgerInvariantError } from '../../../services/billing/ledger/rules.js';
import { floatTopUpProblem } from '../../../services/billing/agent-floats.js';
import { claimFunding, ledgerFunded, ledgerPayerAccount, stepsFor, WALLET_FUNDED } from '../../../services/billing/funding.js';
import { capsPayeeWallet } from '../../../services/billing/debit-captures.js';
import { SimulatedCarrier } from '../../../services/billing/adapters/simulator.js';
import { moneyToProto } from '../../../proto/index.js';

describe('agent float rules', () => {
  it('books a top-up funding:<operator> -> agent:<agent> under float:<operator>:<reference>', () => {
    const t = floatTopUpTransfer({ operatorId: 'orange-sn', agentId: 'AG1001', reference: 'WIRE-77', currency: 'XOF', amountMinor: 500_000n });
    expect(t).toMatchObject({ id: 'float:orange-sn:WIRE-77', kind: 'deposit', reserveId: null, currency: 'XOF', amountMinor: 500_000n });
    expect(t.postings).toEqual([{ accountId: 'funding:orange-sn', amountMinor: -500_000n }, { accountId: 'agent:AG1001', amountMinor: 500_000n }]);
    expect(AccountIds.agentFloat('AG1001')).toBe('agent:AG1001');
    expect(AccountIds.operatorFunding('orange-sn')).toBe('funding:orange-sn');
  });

  it('refuses a top-up of nothing, or to an agent id the registry cannot hold', () => {
    const ok = { operatorId: 'orange-sn', agentId: 'AG1001', reference: 'R1', currency: 'XOF', amountMinor: 1n };
    expect(() => floatTopUpTransfer({ ...ok, amountMinor: 0n })).toThrow(LedgerInvariantError);
    expect(() => floatTopUpTransfer({ ...ok, agentId: 'ag1001' })).toThrow(LedgerInvariantError);
    expect(floatTopUpProblem(ok)).toBeNull();
    expect(floatTopUpProblem({ ...ok, reference: 'a b' })).toMatch(/reference/);
    expect(floatTopUpProblem({ ...ok, reference: 'x'.repeat(65) })).toMatch(/reference/);
    expect(floatTopUpProblem({ ...ok, amountMinor: -5n })).toMatch(/positive/);
    expect(floatTopUpProblem({ ...ok, currency: 'xof' })).toMatch(/currency/);
    expect(floatTopUpProblem({ ...ok, agentId: 'A' })).toMatch(/agent id/);
    expect(floatTopUpProblem({ ...ok, operatorId: 'o'.repeat(64), reference: 'r'.repeat(64) })).toMatch(/too long/); // transfers.id holds 128
    expect(floatTopUpProblem({ ...ok, operatorId: 'o'.repeat(60), reference: 'r'.repeat(61) })).toBeNull();
  });

  it('keeps floats as balance-checked rows and names a reader for both new kinds', () => {
    expect(BALANCE_CHECKED_KINDS.has('agent_float')).toBe(true);
    expect(BALANCE_CHECKED_KINDS.has('operator_funding')).toBe(false);
    expect(ACCOUNT_READERS.agent_float.readBy).toMatch(/cash-in/);
    expect(ACCOUNT_READERS.agent_float.endsAtZero).toBeUndefined();
    expect(ACCOUNT_READERS.operator_funding.readBy).toMatch(/top-up/);
  });

  it('funds a cash-in from the agent float whatever the operator, and never through the carrier', () => {
    const carrier = new SimulatedCarrier({ openingBalanceMinor: 0n });
    const walletModel = { ...carrier, name: 'wallet', fundsCheckedInLedger: true } as unknown as SimulatedCarrier;
    expect(claimFunding(carrier, 'agent-float')).toBe('agent-float');
    expect(claimFunding(walletModel, 'agent-float')).toBe('agent-float');
    expect(claimFunding(walletModel, 'auto')).toBe('wallet');
    expect(ledgerPayerAccount('agent-float', '221770000001', 'AG1001')).toBe('agent:AG1001');
    expect(ledgerPayerAccount('auto', '221770000001', '')).toBe('subscriber:221770000001');
    expect(ledgerFunded('agent-float')).toBe(true);
    expect(ledgerFunded('carrier')).toBe(false);
    expect(stepsFor('agent-float', carrier)).toBe(WALLET_FUNDED);
    expect(stepsFor('carrier', carrier)).toBe(carrier);
  });

  it('runs a capture alone only when it caps a payee wallet', () => {
    const cap = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: 'XOF' });
    expect(capsPayeeWallet({ payeeMsisdn: '221770000002', payeeWalletMax: cap(200_000n) })).toBe(true);
    expect(capsPayeeWallet({ payeeMsisdn: '221770000002', payeeWalletMax: cap(0n) })).toBe(false);
    expect(capsPayeeWallet({ payeeMsisdn: '221770000002' })).toBe(false);
    expect(capsPayeeWallet({ payeeMsisdn: '221770000002', payeeWalletMax: moneyToProto({ amountMinor: 0n, currency: '' }) })).toBe(false); // zero, even without a currency: no cap
    expect(capsPayeeWallet({ merchantId: 'SHOP42', payeeWalletMax: cap(200_000n) })).toBe(false);
  });
});
