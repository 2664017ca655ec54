// reconciliation: matches operator charging records against our ledger.
import type { ComponentDefinition } from '../../runtime/component.js';
import { startBaseOnly } from '../../runtime/service-base.js';

export const reconciliation: ComponentDefinition = {
  name: 'reconciliation',
  schema: 'reconciliation',
  migrationsDir: null,
  start: (context) => startBaseOnly(context, 'reconciliation'),
};
