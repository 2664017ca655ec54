-- Up Migration
-- `dialpay subscriber block` / `unblock` (and the operator API's): customer care stops money leaving a line
-- (a lost phone, a court order). The block in force is on the subscriber's row, which every payment's opening
-- reads under its lock (blocks.ts); a blocked line still receives. NULL: not blocked.
ALTER TABLE subscribers
  ADD COLUMN blocked_at TIMESTAMPTZ,
  ADD COLUMN block_reason TEXT,
  ADD CONSTRAINT subscribers_block_reason CHECK ((blocked_at IS NULL) = (block_reason IS NULL));

-- Every block and unblock, append-only: by whom, why (the care case, the court order's reference), and when.
CREATE TABLE subscriber_block_changes (
  id BIGSERIAL PRIMARY KEY,
  operator_id TEXT NOT NULL,
  msisdn TEXT NOT NULL REFERENCES subscribers (msisdn),
  blocked BOOLEAN NOT NULL,
  changed_by TEXT NOT NULL CHECK (changed_by <> ''),
  reason TEXT NOT NULL CHECK (reason <> ''),
  changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX subscriber_block_changes_msisdn ON subscriber_block_changes (msisdn, changed_at);

-- The database refuses to change or remove a row, whoever asks (0017's function).
CREATE TRIGGER subscriber_block_changes_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON subscriber_block_changes
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();

-- Down Migration
DROP TABLE subscriber_block_changes;
ALTER TABLE subscribers DROP COLUMN block_reason, DROP COLUMN blocked_at;
