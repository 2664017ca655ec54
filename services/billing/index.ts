// billing: carrier-account debits through adapters, and the double-entry ledger.
import { fileURLToPath } from 'node:url';
import type { ComponentDefinition } from '../../runtime/component.js';
import { startBaseOnly } from '../../runtime/service-base.js';

export const billing: ComponentDefinition = {
  name: 'billing',
  schema: 'billing',
  migrationsDir: fileURLToPath(new URL('./migrations/', import.meta.url)),
  start: (context) => startBaseOnly(context, 'billing'),
};
