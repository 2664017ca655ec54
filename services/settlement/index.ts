// settlement: merchant payouts and operator revenue share.
import type { ComponentDefinition } from '../../runtime/component.js';
import { startBaseOnly } from '../../runtime/service-base.js';

export const settlement: ComponentDefinition = {
  name: 'settlement',
  schema: 'settlement',
  migrationsDir: null,
  start: (context) => startBaseOnly(context, 'settlement'),
};
