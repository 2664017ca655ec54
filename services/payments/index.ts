// payments: SMS commands, challenges, limits and the payment state machine.
// Public surface of the service; nothing else in it may be imported.
import type { ComponentDefinition } from '../../runtime/component.js';
import { startBaseOnly } from '../../runtime/service-base.js';

export const payments: ComponentDefinition = {
  name: 'payments',
  schema: 'payments',
  migrationsDir: null,
  start: (context) => startBaseOnly(context, 'payments'),
};
