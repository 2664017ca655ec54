-- Up Migration
-- Credits (issue 16): an operator's deposit (funding:<operator> -> subscriber:<msisdn>) or a
-- merchant's payout (merchant:<merchant>:<currency> -> subscriber:<msisdn>), each one transfer of
-- kind 'credit' with id credit:<credit_id>. One row per credit, whatever became of it, so a
-- redelivery of the request answers the same outcome (a refusal too) without booking twice.
ALTER TABLE transfers DROP CONSTRAINT transfers_kind_check;
ALTER TABLE transfers ADD CONSTRAINT transfers_kind_check CHECK (kind IN ('reserve', 'capture', 'void', 'refund', 'deposit', 'transfer', 'credit'));

CREATE TABLE credits (
  credit_id TEXT PRIMARY KEY CHECK (length(credit_id) BETWEEN 1 AND 64),
  source TEXT NOT NULL CHECK (source IN ('operator-deposit', 'merchant-payout', 'unknown')),
  -- The CreditOutcome's name, lower case: ok, insufficient-funds, wallet-balance-max, rejected.
  outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'insufficient-funds', 'wallet-balance-max', 'rejected')),
  detail TEXT NOT NULL DEFAULT '',
  -- credit:<credit_id> when booked; NULL for a refusal (nothing moved).
  transfer_id TEXT REFERENCES transfers (id),
  operator_id TEXT NOT NULL DEFAULT '',
  merchant_id TEXT NOT NULL DEFAULT '',
  msisdn TEXT NOT NULL DEFAULT '',
  currency TEXT NOT NULL DEFAULT '',
  amount_minor BIGINT NOT NULL DEFAULT 0,
  -- The caller's reference and its name (the operator's or the merchant's, from config when it
  -- was booked): the subscriber's statement shows them.
  reference TEXT NOT NULL DEFAULT '',
  counterparty_name TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  CHECK ((outcome = 'ok') = (transfer_id IS NOT NULL))
);
-- The mini statement's money in (wallet-balance.ts) and settlement's payouts (settlement-ledger.ts).
CREATE INDEX credits_msisdn_booked ON credits (msisdn, created_at DESC) WHERE outcome = 'ok';
CREATE INDEX credits_payouts_booked ON credits (operator_id, created_at) WHERE outcome = 'ok' AND source = 'merchant-payout';
-- A merchant's available balance (payable.ts) subtracts its refunds claimed and not yet booked.
CREATE INDEX refunds_refunding ON refunds (debit_id) WHERE state = 'refunding';

-- Down Migration
DROP INDEX refunds_refunding;
DROP TABLE credits;
ALTER TABLE transfers DROP CONSTRAINT transfers_kind_check;
ALTER TABLE transfers ADD CONSTRAINT transfers_kind_check CHECK (kind IN ('reserve', 'capture', 'void', 'refund', 'deposit', 'transfer'));
