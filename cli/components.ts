// Every component the CLI can run, in start order: services first, so their
// consumers are ready before the gateway takes traffic.
import type { ComponentDefinition } from '../runtime/component.js';
import type { ComponentName } from '../runtime/config/index.js';
import { composeTopology, type Topology } from '../runtime/nats/topology.js';
import { gateway } from '../gateway/index.js';
import { payments } from '../services/payments/index.js';
import { ussd } from '../services/ussd/index.js';
import { billing } from '../services/billing/index.js';
import { settlement } from '../services/settlement/index.js';
import { reconciliation } from '../services/reconciliation/index.js';
import { webhooks } from '../services/webhooks/index.js';

export const COMPONENTS: readonly ComponentDefinition[] = [billing, payments, ussd, settlement, reconciliation, webhooks, gateway];

/**
 * The shared streams and buckets with every component's consumers: what `dialpay provision` creates,
 * and what any `dialpay <component>` provisions at start, so one started alone still finds the
 * consumers of the others (their messages wait in them).
 */
export const TOPOLOGY: Topology = composeTopology(COMPONENTS);

export function componentByName(name: ComponentName): ComponentDefinition {
  const found = COMPONENTS.find((c) => c.name === name);
  if (!found) throw new Error(`no component named ${name}`);
  return found;
}
