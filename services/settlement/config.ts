// Settlement's config section: where the scheduled closes write their reports.
// Joined to the runtime's by composeConfigSchema (cli/config.ts).
import { z } from 'zod';
import type { ConfigPart } from '../../runtime/config/schema.js';

const sections = z.strictObject({
  settlementReports: z
    .strictObject({
      /** Where the scheduled closes write their CSV and JSON reports; none written when absent. */
      dir: z.string().min(1).optional(),
    })
    .prefault({}),
});

export type SettlementConfigSections = z.output<typeof sections>;

declare module '../../runtime/config/schema.js' {
  interface ComponentConfigSections {
    settlement: SettlementConfigSections;
  }
}

export const SETTLEMENT_CONFIG: ConfigPart = { sections: sections.shape };
