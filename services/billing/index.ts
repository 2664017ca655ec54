// billing: carrier-account debits through adapters, and the double-entry ledger.
import type { ComponentDefinition } from '../../runtime/component.js';
import { startBaseOnly } from '../../runtime/service-base.js';

export const billing: ComponentDefinition = {
  name: 'billing',
  schema: 'billing',
  migrationsDir: null,
  start: (context) => startBaseOnly(context, 'billing'),
};
