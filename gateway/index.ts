// gateway: wire protocols only (SMPP, USSD HTTP, merchant HTTP). It turns
// traffic into protobuf events on NATS and back; it holds no business rules
// and never opens a Postgres connection (schema: null).
import type { ComponentDefinition } from '../runtime/component.js';

export const gateway: ComponentDefinition = {
  name: 'gateway',
  schema: null,
  migrationsDir: null,
  start: async () => ({
    readiness: [],
    stop: async () => undefined,
  }),
};
