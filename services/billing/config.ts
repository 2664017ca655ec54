// Billing's config section: where the simulated carrier keeps its state.
// Joined to the runtime's by composeConfigSchema (cli/config.ts).
import { z } from 'zod';
import type { ConfigPart } from '../../runtime/config/schema.js';

const sections = z.strictObject({
  /** Operators on billingAdapter simulator (tests, demos, benches): where the simulated carrier keeps its holds and balances. */
  billingSimulator: z
    .strictObject({
      /**
       * shared: in billing's schema, so every billing replica sees each hold (a capture may land on
       * another replica than its reserve). process: in the billing process, for one billing replica
       * only (a bench that should not count the simulated carrier's statements as ours).
       */
      state: z.enum(['shared', 'process']).default('shared'),
    })
    .prefault({}),
});

export type BillingConfigSections = z.output<typeof sections>;

declare module '../../runtime/config/schema.js' {
  interface ComponentConfigSections {
    billing: BillingConfigSections;
  }
}

export const BILLING_CONFIG: ConfigPart = { sections: sections.shape };
