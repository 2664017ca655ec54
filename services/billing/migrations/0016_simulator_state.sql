-- Up Migration
-- The simulated carrier's own state (adapters/simulator.ts, simulator-state.ts) when billing
-- runs it shared, as every billing started by `dialpay` does: each replica reserves, captures,
-- releases and refunds against these rows, so a capture that lands on another replica than
-- its reserve finds the hold (issue 17: in process memory, 236 confirmed payments failed with
-- carrier-error when two billing replicas ran). The carrier's side, not our ledger: it lives in
-- billing's schema only because the simulator has no database of its own. Each call is one
-- function call, so one statement and one commit, atomic across replicas.
CREATE TABLE simulator_lines (
  msisdn TEXT PRIMARY KEY,
  balance_minor BIGINT NOT NULL
);
CREATE TABLE simulator_holds (
  debit_id TEXT PRIMARY KEY,
  msisdn TEXT NOT NULL,
  amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
  state TEXT NOT NULL CHECK (state IN ('held', 'captured', 'released')),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Settled holds are kept only for repeats, and pruned by age (simulator_prune).
CREATE INDEX simulator_holds_settled ON simulator_holds (updated_at) WHERE state <> 'held';
-- Refund and top-up ids already paid: a repeat pays nothing. 'refund:<id>' or 'top-up:<id>'.
CREATE TABLE simulator_paid (
  id TEXT PRIMARY KEY,
  paid_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX simulator_paid_age ON simulator_paid (paid_at);

-- The line's row, made with the opening balance the first time the simulator sees it, locked.
CREATE FUNCTION simulator_line(p_msisdn TEXT, p_opening BIGINT) RETURNS BIGINT LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  v_balance BIGINT;
BEGIN
  INSERT INTO simulator_lines (msisdn, balance_minor) VALUES (p_msisdn, p_opening) ON CONFLICT (msisdn) DO NOTHING;
  SELECT balance_minor INTO v_balance FROM simulator_lines WHERE msisdn = p_msisdn FOR UPDATE;
  RETURN v_balance;
END $$;

-- 'ok', 'already' (this debit has a hold) or 'insufficient'.
CREATE FUNCTION simulator_reserve(p_debit TEXT, p_msisdn TEXT, p_amount BIGINT, p_opening BIGINT) RETURNS TEXT LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM simulator_holds WHERE debit_id = p_debit) THEN RETURN 'already'; END IF;
  IF simulator_line(p_msisdn, p_opening) < p_amount THEN RETURN 'insufficient'; END IF;
  INSERT INTO simulator_holds (debit_id, msisdn, amount_minor, state) VALUES (p_debit, p_msisdn, p_amount, 'held') ON CONFLICT (debit_id) DO NOTHING;
  IF NOT FOUND THEN RETURN 'already'; END IF; -- a repeat on another replica got here first
  UPDATE simulator_lines SET balance_minor = balance_minor - p_amount WHERE msisdn = p_msisdn;
  RETURN 'ok';
END $$;

-- 'ok', 'already' (captured), 'none' (no such hold) or 'not-capturable' (released, or more than held).
CREATE FUNCTION simulator_capture(p_debit TEXT, p_amount BIGINT, p_opening BIGINT) RETURNS TEXT LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  h simulator_holds%ROWTYPE;
BEGIN
  SELECT * INTO h FROM simulator_holds WHERE debit_id = p_debit FOR UPDATE;
  IF NOT FOUND THEN RETURN 'none'; END IF;
  IF h.state = 'captured' THEN RETURN 'already'; END IF;
  IF h.state = 'released' OR p_amount > h.amount_minor THEN RETURN 'not-capturable'; END IF;
  UPDATE simulator_holds SET state = 'captured', updated_at = now() WHERE debit_id = p_debit;
  -- What was held and not captured goes back to the line.
  PERFORM simulator_line(h.msisdn, p_opening);
  UPDATE simulator_lines SET balance_minor = balance_minor + (h.amount_minor - p_amount) WHERE msisdn = h.msisdn;
  RETURN 'ok';
END $$;

-- 'ok', 'nothing' (no hold, or released already) or 'captured'.
CREATE FUNCTION simulator_release(p_debit TEXT, p_opening BIGINT) RETURNS TEXT LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  h simulator_holds%ROWTYPE;
BEGIN
  SELECT * INTO h FROM simulator_holds WHERE debit_id = p_debit FOR UPDATE;
  IF NOT FOUND OR h.state = 'released' THEN RETURN 'nothing'; END IF;
  IF h.state = 'captured' THEN RETURN 'captured'; END IF;
  UPDATE simulator_holds SET state = 'released', updated_at = now() WHERE debit_id = p_debit;
  PERFORM simulator_line(h.msisdn, p_opening);
  UPDATE simulator_lines SET balance_minor = balance_minor + h.amount_minor WHERE msisdn = h.msisdn;
  RETURN 'ok';
END $$;

-- 'ok', 'already' (this refund id paid) or 'nothing' (no captured hold).
CREATE FUNCTION simulator_refund(p_refund TEXT, p_debit TEXT, p_amount BIGINT, p_opening BIGINT) RETURNS TEXT LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  h simulator_holds%ROWTYPE;
BEGIN
  SELECT * INTO h FROM simulator_holds WHERE debit_id = p_debit FOR UPDATE;
  IF NOT FOUND OR h.state <> 'captured' THEN RETURN 'nothing'; END IF;
  INSERT INTO simulator_paid (id) VALUES ('refund:' || p_refund) ON CONFLICT (id) DO NOTHING;
  IF NOT FOUND THEN RETURN 'already'; END IF;
  PERFORM simulator_line(h.msisdn, p_opening);
  UPDATE simulator_lines SET balance_minor = balance_minor + p_amount WHERE msisdn = h.msisdn;
  RETURN 'ok';
END $$;

-- 'ok' or 'already' (this top-up id credited).
CREATE FUNCTION simulator_top_up(p_top_up TEXT, p_msisdn TEXT, p_amount BIGINT, p_opening BIGINT) RETURNS TEXT LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
  INSERT INTO simulator_paid (id) VALUES ('top-up:' || p_top_up) ON CONFLICT (id) DO NOTHING;
  IF NOT FOUND THEN RETURN 'already'; END IF;
  PERFORM simulator_line(p_msisdn, p_opening);
  UPDATE simulator_lines SET balance_minor = balance_minor + p_amount WHERE msisdn = p_msisdn;
  RETURN 'ok';
END $$;

-- Forgets settled holds and paid ids older than p_age_ms (repeats come within minutes); open holds stay.
CREATE FUNCTION simulator_prune(p_age_ms BIGINT) RETURNS VOID LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
  DELETE FROM simulator_holds WHERE state <> 'held' AND updated_at < now() - p_age_ms * interval '1 millisecond';
  DELETE FROM simulator_paid WHERE paid_at < now() - p_age_ms * interval '1 millisecond';
END $$;

-- Down Migration
DROP FUNCTION simulator_prune(BIGINT);
DROP FUNCTION simulator_top_up(TEXT, TEXT, BIGINT, BIGINT);
DROP FUNCTION simulator_refund(TEXT, TEXT, BIGINT, BIGINT);
DROP FUNCTION simulator_release(TEXT, BIGINT);
DROP FUNCTION simulator_capture(TEXT, BIGINT, BIGINT);
DROP FUNCTION simulator_reserve(TEXT, TEXT, BIGINT, BIGINT);
DROP FUNCTION simulator_line(TEXT, BIGINT);
DROP TABLE simulator_paid;
DROP TABLE simulator_holds;
DROP TABLE simulator_lines;
