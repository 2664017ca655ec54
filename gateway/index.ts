// gateway: wire protocols only (SMPP now; USSD HTTP and the merchant API
// later). It turns traffic into protobuf events on NATS and back; it holds no
// business rules and never opens a Postgres connection (schema: null).
import type { ComponentDefinition } from '../runtime/component.js';
import { startSmppEdge } from './smpp/edge.js';

export const gateway: ComponentDefinition = {
  name: 'gateway',
  schema: null,
  migrationsDir: null,
  start: (context) => startSmppEdge(context),
};
