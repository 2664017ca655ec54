-- Up Migration
-- `dialpay subscriber tier`: customer care sets a subscriber's KYC tier (payments.subscribers.kyc_tier,
-- which the limits read). Every change is kept here, append-only: who changed it, from what to what, and the
-- evidence checked (a reference into the operator's KYC records, never the document itself).
CREATE TABLE kyc_tier_changes (
  id BIGSERIAL PRIMARY KEY,
  operator_id TEXT NOT NULL,
  msisdn TEXT NOT NULL REFERENCES subscribers (msisdn),
  from_tier INT NOT NULL,
  to_tier INT NOT NULL CHECK (to_tier <> from_tier),
  changed_by TEXT NOT NULL CHECK (changed_by <> ''),
  evidence_ref TEXT NOT NULL CHECK (evidence_ref <> ''),
  changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX kyc_tier_changes_msisdn ON kyc_tier_changes (msisdn, changed_at);

-- An audit trail that can be edited is no audit trail: the database itself refuses to change or remove a row,
-- whoever asks (TRUNCATE too). One function for every audit table from here on (it names the table refused);
-- agent_audit keeps the one 0014 gave it.
CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%.% is append-only (% refused)', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER kyc_tier_changes_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON kyc_tier_changes
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();

-- Down Migration
DROP TABLE kyc_tier_changes;
DROP FUNCTION refuse_audit_change();
