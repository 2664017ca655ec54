-- Up Migration
-- Agents (issue 16): shops that exchange cash for wallet money, registered per operator by
-- `dialpay agent add` (services/payments/agents.ts). Each has a float in billing's ledger
-- (agent:<agent_id>); this schema keeps who they are, whether they may trade, and an
-- append-only audit of every change an operator made.
CREATE TABLE agents (
  agent_id TEXT PRIMARY KEY CHECK (agent_id ~ '^[A-Z0-9-]{2,32}$'),
  operator_id TEXT NOT NULL,
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 40),
  -- The agent's own line: DEP comes from it, its PIN (set by USSD like any subscriber's) confirms deposits.
  msisdn TEXT NOT NULL UNIQUE CHECK (msisdn ~ '^[0-9]{7,15}$'),
  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'suspended')),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX agents_operator ON agents (operator_id, agent_id);

CREATE TABLE agent_audit (
  id BIGSERIAL PRIMARY KEY,
  at TIMESTAMPTZ NOT NULL DEFAULT now(),
  actor TEXT NOT NULL CHECK (length(actor) BETWEEN 1 AND 64),
  action TEXT NOT NULL CHECK (action IN ('add', 'suspend', 'resume', 'fund')),
  agent_id TEXT NOT NULL REFERENCES agents (agent_id),
  detail JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX agent_audit_agent ON agent_audit (agent_id, id);

-- Append-only: an audit line is never changed or removed, whoever holds the connection.
CREATE FUNCTION agent_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'payments.agent_audit is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER agent_audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON agent_audit
  FOR EACH STATEMENT EXECUTE FUNCTION agent_audit_append_only();

-- A cash-out's payee is an agent's float (payee_id = agent_id).
ALTER TABLE payments DROP CONSTRAINT payments_payee_kind_check;
ALTER TABLE payments ADD CONSTRAINT payments_payee_kind_check CHECK (payee_kind IN ('merchant', 'subscriber', 'airtime', 'agent'));
-- A cash-in is funded by the paying agent's float.
ALTER TABLE payments DROP CONSTRAINT payments_funding_check;
ALTER TABLE payments ADD CONSTRAINT payments_funding_check CHECK (funding IN ('wallet', 'carrier', 'agent-float'));
-- A cash-in: the agent whose float pays (payer_msisdn is the agent's line), and the most the
-- payee's wallet may hold after the credit (their KYC tier's walletBalanceMaxMinor; NULL: no cap).
ALTER TABLE payments ADD COLUMN agent_id TEXT REFERENCES agents (agent_id);
ALTER TABLE payments ADD COLUMN payee_wallet_max_minor BIGINT CHECK (payee_wallet_max_minor > 0);

-- Down Migration
ALTER TABLE payments DROP COLUMN payee_wallet_max_minor;
ALTER TABLE payments DROP COLUMN agent_id;
ALTER TABLE payments DROP CONSTRAINT payments_funding_check;
ALTER TABLE payments ADD CONSTRAINT payments_funding_check CHECK (funding IN ('wallet', 'carrier'));
ALTER TABLE payments DROP CONSTRAINT payments_payee_kind_check;
ALTER TABLE payments ADD CONSTRAINT payments_payee_kind_check CHECK (payee_kind IN ('merchant', 'subscriber', 'airtime'));
DROP TABLE agent_audit;
DROP FUNCTION agent_audit_append_only();
DROP TABLE agents;
