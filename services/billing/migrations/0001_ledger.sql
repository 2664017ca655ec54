-- Up Migration
-- The double-entry ledger. Every movement of money is a transfer made of
-- postings that sum to zero. Transfers are immutable and their id makes them
-- idempotent. Accounts that must never go negative (subscriber wallets) keep a
-- balance row, updated and checked in the same transaction as the postings;
-- every other account (merchant payable, fee revenue, operator share, holds)
-- is append-only postings, so a merchant paid thousands of times a second is
-- never one contended row.
CREATE TABLE accounts (
  id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
  kind TEXT NOT NULL CHECK (kind IN ('subscriber', 'merchant_payable', 'fee_revenue', 'operator_share', 'holds', 'carrier_clearing', 'suspense')),
  currency TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  -- Only for kinds whose balance is checked on debit; NULL means append-only.
  balance_minor BIGINT CHECK (balance_minor IS NULL OR balance_minor >= 0),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE transfers (
  id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
  kind TEXT NOT NULL CHECK (kind IN ('reserve', 'capture', 'void', 'refund', 'deposit', 'transfer')),
  -- The reserve a capture or void settles; NULL otherwise.
  reserve_id TEXT REFERENCES transfers (id),
  payment_id TEXT NOT NULL,
  currency TEXT NOT NULL,
  amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One capture or void per reserve: a reserve ends exactly once.
CREATE UNIQUE INDEX transfers_one_settlement_per_reserve ON transfers (reserve_id) WHERE kind IN ('capture', 'void');
CREATE INDEX transfers_payment ON transfers (payment_id);

CREATE TABLE postings (
  id BIGSERIAL PRIMARY KEY,
  transfer_id TEXT NOT NULL REFERENCES transfers (id),
  account_id TEXT NOT NULL REFERENCES accounts (id),
  -- Positive credits the account, negative debits it.
  amount_minor BIGINT NOT NULL CHECK (amount_minor <> 0),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX postings_account ON postings (account_id, id);
CREATE INDEX postings_transfer ON postings (transfer_id);

-- Down Migration
DROP TABLE postings;
DROP TABLE transfers;
DROP TABLE accounts;
