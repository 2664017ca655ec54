-- Up Migration
-- Reconciliation runs, one row per operator and charging-records file (by its
-- SHA-256): written by the run that reconciled it, under that file's lease
-- (runtime/pg/lease.ts), so a second run of the same file, on another host or
-- replica, at once or later, answers with this summary instead of reconciling
-- and publishing it again (services/reconciliation/exclusive.ts).
CREATE TABLE runs (
  operator_id TEXT NOT NULL,
  file_sha256 TEXT NOT NULL CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
  -- ReconcileSummary (run.ts): counts, bad rows, whether a person must look, the reports' paths.
  summary JSONB NOT NULL,
  completed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (operator_id, file_sha256)
);

-- Down Migration
DROP TABLE runs;
