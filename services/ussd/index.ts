// ussd: the *384# menus; sessions live in NATS KV, so it owns no tables yet.
import type { ComponentDefinition } from '../../runtime/component.js';
import { startBaseOnly } from '../../runtime/service-base.js';

export const ussd: ComponentDefinition = {
  name: 'ussd',
  schema: 'ussd',
  migrationsDir: null,
  start: (context) => startBaseOnly(context, 'ussd'),
};
