-- Up Migration
-- `dialpay agent defloat`: the operator takes float back from an agent (agent:<id> -> funding:<op>),
-- audited like a top-up.
ALTER TABLE agent_audit DROP CONSTRAINT agent_audit_action_check;
ALTER TABLE agent_audit ADD CONSTRAINT agent_audit_action_check CHECK (action IN ('add', 'suspend', 'resume', 'fund', 'defloat'));

-- Down Migration
ALTER TABLE agent_audit DROP CONSTRAINT agent_audit_action_check;
ALTER TABLE agent_audit ADD CONSTRAINT agent_audit_action_check CHECK (action IN ('add', 'suspend', 'resume', 'fund'));
