// Payments' outbox, in a module of its own so that what the engine's sweep calls can write to it
// without importing the engine (engine.ts re-exports it).
import type { OutboxWriter } from '../../runtime/pg/index.js';

/** Payments' outbox: its schema, and the producer its events name. */
export const OUTBOX = { schema: 'payments', producer: 'payments' } as const satisfies OutboxWriter;
