export {
  createPool, withTransaction, onAfterCommit, transactionPool, TransactionRolledBackError, quoteIdent,
  type Pool, type PoolClient, type ClientBase, type PoolOptions, type IsolationLevel,
} from './pool.js';
export { migrateSchemas, type SchemaMigrations } from './migrate.js';
export { ensureDatabase, explainPostgresError, databaseName } from './database.js';
export {
  enqueueEvent, emitEvent, OutboxRelay, type OutboxWriter, LEFT_BEHIND_AFTER_MS, type OutboxRelayOptions, type CommittedEvent,
} from './outbox.js';
export { sharedTransactionRunner, SharedTransactionMetrics, type BatchUnit, type SharedTransactionOptions } from './batch-runner.js';
export { handleOnce, recordEvents, pruneProcessedEvents, type HandleOutcome } from './idempotency.js';
export { isDataException, sqlState } from './errors.js';
export { readOnlyTransaction } from './read-only.js';
export { inOneTransaction, type SharedTransactionOutcome } from './batch.js';
