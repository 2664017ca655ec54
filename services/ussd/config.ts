// The ussd service's config keys: its session seal key and its bound on hops at once, in the
// ussd section (the gateway's HTTP edge adds ussd.http). Joined by composeConfigSchema (cli/config.ts).
import { z } from 'zod';
import type { ConfigPart } from '../../runtime/config/schema.js';

const sections = z.strictObject({
  ussd: z
    .strictObject({
      /**
       * Seals the PINs an SMPP USSD dialogue still needs on a later hop (choosing or changing a PIN) in its
       * session in KV: 32 random bytes in base64 (`openssl rand -base64 32`), the same for every ussd replica;
       * pass it with DIALPAY__ussd__sessionSealKey. Without one, each process makes its own.
       */
      sessionSealKey: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'must be 32 random bytes in base64 (openssl rand -base64 32)').optional(),
      /** Hops a ussd process answers at once; past this a hop gets a "busy" END at once. */
      hopsInFlightMax: z.number().int().min(1).max(10_000).default(512),
      /**
       * Removed: "Buy airtime" used to pay a merchant standing for the operator's airtime account. It now
       * tops the line up through the operator (runtime/airtime.ts). Accepted here only to be refused below
       * with a message that says so, rather than as an unknown key.
       */
      airtimeMerchantIds: z.unknown().optional(),
    })
    .prefault({}),
});

export type UssdConfigSections = z.output<typeof sections>;

declare module '../../runtime/config/schema.js' {
  interface ComponentConfigSections {
    ussd: UssdConfigSections;
  }
}

export const USSD_CONFIG: ConfigPart = {
  sections: sections.shape,
  check(config, ctx) {
    if (config.ussd.airtimeMerchantIds !== undefined) {
      // Refused, not ignored: a config written for the old path expects airtime money in a merchant's
      // account, and an operator with no top-up interface now offers no airtime. Both deserve a decision.
      ctx.addIssue({
        code: 'custom', path: ['ussd', 'airtimeMerchantIds'],
        message: 'no longer supported: airtime now tops the line up through the operator (billingAdapter simulator, or operators[].topUp); '
          + 'remove this key and the airtime merchant it names',
      });
    }
  },
};
