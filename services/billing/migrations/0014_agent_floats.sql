-- Up Migration
-- Agents (issue 16): each agent's float is a balance-checked account
-- (agent:<agent_id>, never negative, checked in the statement that debits it),
-- funded by its operator from operator_funding (funding:<operator_id>, append-only,
-- negative by what the operator put into floats). A cash-in is a debit funded by
-- the agent's float ('agent-float': reserve agent -> holds, capture holds -> the
-- depositor's wallet); its payer_account_id names the agent.
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('subscriber', 'merchant_payable', 'fee_revenue', 'operator_share', 'holds', 'carrier_clearing', 'suspense', 'merchant_settled', 'operator_settled', 'airtime_payable', 'agent_float', 'operator_funding'));
-- A float always has its balance row (the check on debit needs it); funding never has one (append-only).
ALTER TABLE accounts ADD CONSTRAINT accounts_agent_float_row CHECK (kind <> 'agent_float' OR (balance_minor IS NOT NULL AND id LIKE 'agent:%'));
ALTER TABLE accounts ADD CONSTRAINT accounts_operator_funding_append_only CHECK (kind <> 'operator_funding' OR (balance_minor IS NULL AND id LIKE 'funding:%'));
ALTER TABLE debits DROP CONSTRAINT debits_funding_check;
ALTER TABLE debits ADD CONSTRAINT debits_funding_check CHECK (funding IN ('wallet', 'carrier', 'agent-float'));

-- Down Migration
ALTER TABLE debits DROP CONSTRAINT debits_funding_check;
ALTER TABLE debits ADD CONSTRAINT debits_funding_check CHECK (funding IN ('wallet', 'carrier'));
ALTER TABLE accounts DROP CONSTRAINT accounts_operator_funding_append_only;
ALTER TABLE accounts DROP CONSTRAINT accounts_agent_float_row;
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('subscriber', 'merchant_payable', 'fee_revenue', 'operator_share', 'holds', 'carrier_clearing', 'suspense', 'merchant_settled', 'operator_settled', 'airtime_payable'));
