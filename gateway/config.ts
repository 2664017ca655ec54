// The gateway's config: the merchant API's listener and its bounds (and each merchant's own API rate),
// and the USSD HTTP edge (ussd.http; the ussd service adds its own keys to ussd).
// Joined to the runtime's by composeConfigSchema (cli/config.ts).
import { z } from 'zod';
import { addressOrBlock, edgeSecret, id, isLoopbackHost, port, positiveMs, trustedProxies } from '../runtime/config/fields.js';
import type { ConfigPart } from '../runtime/config/schema.js';

const sections = z.strictObject({
  merchantApi: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      /** Off when no port is given. */
      port: port.optional(),
      tlsCertFile: z.string().optional(),
      tlsKeyFile: z.string().optional(),
      bodyBytesMax: z.number().int().min(1_024).max(1_048_576).default(16_384),
      /** Per API key: a steady rate and the burst above it. */
      requestsPerSecondMax: z.number().int().min(1).max(100_000).default(50),
      requestsBurstMax: z.number().int().min(1).max(100_000).default(100),
      /** How long a call waits for payments before answering 503. */
      requestTimeoutMs: positiveMs.default(5_000),
      /**
       * A payout or an operator deposit waits this long for billing's answer: 201 when booked, 409
       * when the merchant's balance does not cover it, 202 (pending; read it later) when not answered yet.
       */
      creditWaitMs: z.number().int().min(0).max(30_000).default(3_000),
      /** Failed key checks from one source address within authFailureWindowMs before it gets 429 without its key being checked. */
      authFailuresMax: z.number().int().min(1).max(10_000).default(10),
      authFailureWindowMs: positiveMs.default(60_000),
      /** Source addresses whose failures are remembered at once; past this an unblocked one is forgotten first (IPv6 by /64). */
      authFailureSourcesMax: z.number().int().min(1).max(1_000_000).default(10_000),
      trustedProxies,
    })
    .prefault({}),
  ussd: z
    .strictObject({
      /** The HTTP edge (Africa's Talking contract); off when no port is given. */
      http: z
        .strictObject({
          host: z.string().default('127.0.0.1'),
          port: port.optional(),
          path: z.string().regex(/^\/[A-Za-z0-9/_-]*$/).default('/ussd'),
          tlsCertFile: z.string().optional(),
          tlsKeyFile: z.string().optional(),
          bodyBytesMax: z.number().int().min(256).max(65_536).default(4_096),
          /** Aggregator addresses allowed to post (IPs or CIDR blocks); anything else gets 403. */
          allowedAddresses: z.array(addressOrBlock).min(1).max(256).default(['127.0.0.1/32', '::1/128']),
          /**
           * The secret every aggregator sends: header x-dialpay-ussd-secret, Authorization Bearer or Basic
           * (the password), or a path token (<path>/<secret>). Pass it with DIALPAY__ussd__http__sharedSecret,
           * not in the file. Required unless host is loopback.
           */
          sharedSecret: edgeSecret.optional(),
          /** The previous secret, still accepted while aggregators move to the new one. */
          sharedSecretPrevious: edgeSecret.optional(),
          /**
           * Named aggregators, each allowed for its own operators only: a request carrying an aggregator's
           * secret (from one of its allowedAddresses, if set; else the edge's) may act only for subscribers of
           * its operatorIds, else 403. The edge-wide sharedSecret above is an aggregator allowed for every operator.
           */
          aggregators: z
            .array(
              z.strictObject({
                id,
                /** Pass it with DIALPAY__ussd__http__aggregators__<n>__sharedSecret, not in the file. */
                sharedSecret: edgeSecret,
                sharedSecretPrevious: edgeSecret.optional(),
                /** Where this aggregator posts from, instead of the edge's allowedAddresses. */
                allowedAddresses: z.array(addressOrBlock).min(1).max(256).optional(),
                operatorIds: z.array(id).min(1).max(64),
              }),
            )
            .max(64)
            .default([]),
          trustedProxies,
          /** Failed authentications from one source address within authFailuresWindowMs after which it gets 429 unchecked. */
          authFailuresMax: z.number().int().min(1).max(10_000).default(10),
          authFailuresWindowMs: positiveMs.default(60_000),
          /** Source addresses whose failures are remembered at once (past this an unblocked one is forgotten first; IPv6 by /64). */
          authFailureSourcesMax: z.number().int().min(1).max(1_000_000).default(10_000),
        })
        .prefault({}),
    })
    .prefault({}),
});

/** This merchant's own API rate per key, instead of merchantApi's (a plan with a lower or higher cap). */
const merchantFields = z.strictObject({
  apiRequestsPerSecondMax: z.number().int().min(1).max(100_000).optional(),
  apiRequestsBurstMax: z.number().int().min(1).max(100_000).optional(),
});

export type GatewayConfigSections = z.output<typeof sections>;

declare module '../runtime/config/schema.js' {
  interface ComponentConfigSections {
    gateway: GatewayConfigSections;
  }
  interface ComponentMerchantFields {
    gateway: z.output<typeof merchantFields>;
  }
}

export const GATEWAY_CONFIG: ConfigPart = {
  sections: sections.shape,
  merchantFields: merchantFields.shape,
  check(config, ctx) {
    // An edge open beyond this machine must know who calls it: checked here, before any engine is contacted.
    const ussdHttp = config.ussd.http;
    if (ussdHttp.port !== undefined && !isLoopbackHost(ussdHttp.host) && !ussdHttp.sharedSecret && ussdHttp.aggregators.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['ussd', 'http', 'sharedSecret'],
        message: `ussd.http.host ${ussdHttp.host} is not loopback: set a shared secret for the aggregators `
          + '(DIALPAY__ussd__http__sharedSecret, or ussd.http.aggregators)' });
    }
    checkUssdAggregators(ussdHttp, config.operators, ctx);
    if (Boolean(ussdHttp.tlsCertFile) !== Boolean(ussdHttp.tlsKeyFile)) {
      ctx.addIssue({ code: 'custom', path: ['ussd', 'http', ussdHttp.tlsCertFile ? 'tlsKeyFile' : 'tlsCertFile'],
        message: 'HTTPS needs both tlsCertFile and tlsKeyFile' });
    }
  },
};

/**
 * Aggregator ids unique, their operators known, and no secret shared (it would make who called
 * ambiguous). An aggregator may serve one of two operators of a country: the edge tells their
 * subscribers apart by number range (numberBelongsTo), and checkNumberRanges makes every number
 * belong to at most one operator.
 */
function checkUssdAggregators(
  http: {
    sharedSecret?: string | undefined; sharedSecretPrevious?: string | undefined;
    aggregators: { id: string; sharedSecret: string; sharedSecretPrevious?: string | undefined; operatorIds: string[] }[];
  },
  operators: readonly { id: string }[],
  ctx: z.RefinementCtx,
): void {
  const operatorIds = new Set(operators.map((o) => o.id));
  const owners = new Map<string, string>();
  if (http.sharedSecret) owners.set(http.sharedSecret, 'ussd.http.sharedSecret');
  if (http.sharedSecretPrevious) owners.set(http.sharedSecretPrevious, 'ussd.http.sharedSecretPrevious');
  const ids = new Set<string>();
  http.aggregators.forEach((aggregator, i) => {
    const path = ['ussd', 'http', 'aggregators', i];
    if (ids.has(aggregator.id)) {
      ctx.addIssue({ code: 'custom', path: [...path, 'id'], message: `duplicate aggregator id "${aggregator.id}"` });
    }
    ids.add(aggregator.id);
    aggregator.operatorIds.forEach((op, j) => {
      if (!operatorIds.has(op)) ctx.addIssue({ code: 'custom', path: [...path, 'operatorIds', j], message: `unknown operator "${op}"` });
    });
    for (const key of ['sharedSecret', 'sharedSecretPrevious'] as const) {
      const secret = aggregator[key];
      if (!secret) continue;
      // The message names the other key, never the secret.
      const owner = owners.get(secret);
      if (owner) {
        ctx.addIssue({ code: 'custom', path: [...path, key], message: `the same secret as ${owner}: each aggregator needs its own` });
      } else {
        owners.set(secret, `ussd.http.aggregators[${i}].${key}`);
      }
    }
  });
}
