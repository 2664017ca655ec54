-- Up Migration
-- Every state a payment went through, for customer care (`dialpay payment show`): until now a transition was only
-- a log line. Written in the same statement as the state change itself (store.ts insertPayment and setState: a
-- CTE), so it costs the hot path no statement and no round trip, and a state cannot change without its row.
-- No foreign key to payments: its check would be one more lookup per transition, and the rows come only from the
-- statements that write the payment. Append-only, like every audit table (refuse_audit_change, 0017).
CREATE TABLE payment_history (
  id BIGSERIAL NOT NULL,
  payment_id TEXT NOT NULL,
  -- NULL: the payment's first state (its row was inserted in it).
  from_state TEXT,
  to_state TEXT NOT NULL,
  -- The payment's failure reason as the transition left it (a failed payment's why).
  failure_reason TEXT,
  challenge_attempts INT NOT NULL,
  at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One index, the one its reader uses (a payment's changes in order): 4-5 rows a payment, each one btree insert.
ALTER TABLE payment_history ADD PRIMARY KEY (payment_id, id);

CREATE TRIGGER payment_history_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON payment_history
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();

-- Down Migration
DROP TABLE payment_history;
