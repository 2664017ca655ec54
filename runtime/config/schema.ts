// The configuration schema: one YAML file, validated at start. Every bound
// has a unit in its name and a default; money is bigint minor units. Here
// the runtime's sections and the shared registries (operators, merchants);
// each component declares its own sections in <component>/config.ts, and
// composeConfigSchema joins them (cli/config.ts lists them).
import { z } from 'zod';
import { LANGUAGES } from '../language.js';

export const COMPONENT_NAMES = ['gateway', 'payments', 'ussd', 'billing', 'settlement', 'reconciliation', 'webhooks'] as const;
export type ComponentName = (typeof COMPONENT_NAMES)[number];

import { amountMinor, id, port, positiveMs } from './fields.js';

/** Prefixes one operator may declare. */
const NUMBER_RANGES_MAX = 1_000;

const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as KES');

const smppBind = z.strictObject({
  mode: z.enum(['client', 'server']),
  host: z.string().min(1).default('127.0.0.1'),
  port: port,
  tls: z.boolean().default(false),
  systemId: z.string().min(1).max(15),
  password: z.string().max(8).default(''),
  systemType: z.string().max(12).default(''),
  bindCount: z.number().int().min(1).max(16).default(1),
  /** Client mode: one transceiver per bind, or a transmitter + receiver pair. */
  bindType: z.enum(['transceiver', 'pair']).default('transceiver'),
  addressRange: z.string().max(40).default(''),
  windowSize: z.number().int().min(1).max(1000).default(50),
  /** Submits a second to the operator over every bind of every gateway replica (gateway/smpp/replica-share.ts). */
  throughputPerSecondMax: z.number().int().min(1).max(100_000).default(500),
  enquireLinkIntervalMs: positiveMs.default(30_000),
  responseTimeoutMs: positiveMs.default(10_000),
  /** Requests that may wait for a window slot before submits are refused. */
  windowWaitersMax: z.number().int().min(0).max(100_000).default(1_000),
  pduBytesMax: z.number().int().min(256).max(70_000).default(16_384),
  reconnectDelayMsMin: positiveMs.default(1_000),
  reconnectDelayMsMax: positiveMs.default(60_000),
  /** Waits between submit attempts after a temporary error or timeout; the last value ends the retries. */
  submitRetryDelaysMs: z.array(positiveMs).min(0).max(10).default([1_000, 5_000, 15_000]),
  /**
   * Outbound SMS when no bind is up, or still refused for temporary reasons (throttled, queue full,
   * timed out) after submitRetryDelaysMs: not a failure. It goes back to JetStream and is delivered
   * again after a wait that starts at bindWaitDelayMsMin and doubles to bindWaitDelayMsMax, jittered
   * (and never past the SMS's own expiry), until the bind returns or the SMS is useless (then dropped).
   */
  bindWaitDelayMsMin: positiveMs.default(1_000),
  bindWaitDelayMsMax: positiveMs.default(30_000),
  /**
   * How long an SMS that keeps its value (a receipt: no expiry) waits out an outage, from when it
   * was published. Past it, a delivery that cannot be sent counts as a failure, and the SMS ends in
   * the dead letters after consumers.deliveriesMax of them (replayable) rather than wait on.
   */
  bindWaitMaxMs: positiveMs.default(86_400_000),
  /** After ESME_RTHROTTLED the bind sends at a quarter of its cap for this long. */
  throttleSlowDownMs: positiveMs.default(10_000),
  splitMode: z.enum(['udh8', 'udh16', 'sar', 'payload']).default('udh8'),
  registeredDelivery: z.boolean().default(true),
  /** How the SMSC writes message ids in submit_sm_resp and in receipts, to make them meet. */
  submitIdFormat: z.enum(['as-is', 'hex', 'decimal']).default('as-is'),
  receiptIdFormat: z.enum(['as-is', 'hex', 'decimal']).default('as-is'),
  reassemblyTimeoutMs: positiveMs.default(10_000),
  reassemblyMessagesMax: z.number().int().min(1).max(100_000).default(1_000),
  reassemblyPartsMax: z.number().int().min(2).max(255).default(16),
  /** Server mode: scrypt hash of the password the peer binds with (`dialpay hash-password`). */
  passwordHash: z.string().regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, 'must be a hash from `dialpay hash-password`').optional(),
  /** Server mode: peer addresses allowed to bind (IPs or CIDR blocks). */
  allowedAddresses: z.array(z.string().min(2)).max(256).default(['127.0.0.1/32', '::1/128']),
  /** Server mode: concurrent binds allowed for this system_id. */
  bindsMax: z.number().int().min(1).max(64).default(4),
  /** Server mode: a connection that has not bound within this is closed. */
  bindTimeoutMs: positiveMs.default(10_000),
  /** TLS certificate and key files (PEM); server mode listens with TLS when tls is true. */
  tlsCertFile: z.string().optional(),
  tlsKeyFile: z.string().optional(),
  /** Client mode over TLS: CA file to trust instead of the system store. */
  tlsCaFile: z.string().optional(),
});

/**
 * API keys ("dpk_<id>_<secret>", runtime/api-keys.ts): more than one may be active, for rotation.
 * Only the id and the SHA-256 of the secret are kept; `dialpay api-key` makes one. Merchants' and
 * operators' keys are separate doors: a key opens only the API of the one it is configured on.
 */
const apiKeys = z
  .array(z.strictObject({ id: z.string().regex(/^[a-z0-9]{8,16}$/, 'must be 8-16 lowercase letters or digits'), sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex SHA-256 from `dialpay api-key`') }))
  .max(8)
  .default([]);

const operator = z.strictObject({
  id,
  name: z.string().min(1),
  /** Country calling code used to normalise national numbers to E.164. */
  countryCallingCode: z.string().regex(/^\d{1,3}$/),
  /**
   * The operator's number ranges: E.164 prefixes ("+2547", "25410"), kept as digits. The payee's
   * operator is the one holding the longest prefix of the number (runtime/msisdn.ts
   * operatorForNumber), so ranges may overlap; the same prefix held by two operators is an error.
   * Absent: the country calling code is the operator's one range.
   */
  numberRanges: z
    .array(z.string().regex(/^\+?\d{1,15}$/, 'must be an E.164 prefix such as +2547').transform((prefix) => prefix.replace(/^\+/, '')))
    .min(1)
    .max(NUMBER_RANGES_MAX)
    .optional(),
  currency,
  /** Language of a subscriber we have not heard from yet (they change it with LANG). */
  defaultLanguage: z.enum(LANGUAGES).default('en'),
  shortCodes: z.array(z.string().regex(/^\d{3,8}$/)).min(1).max(32),
  /** Operator revenue share in basis points of the payment amount. */
  revenueShareBps: z.number().int().min(0).max(10_000),
  billingAdapter: z.enum(['wallet', 'http', 'simulator']),
  /** The fee a subscriber pays on top of a cash-out at an agent (WITHDRAW), from feeSchedules; absent: no fee. */
  cashOutFeeScheduleId: id.optional(),
  /**
   * The operator's CAMARA Carrier Billing 0.5 and Carrier Billing Refund 0.3 APIs, for
   * billingAdapter: http (services/billing/adapters/http.ts). baseUrl is the API root: the
   * adapter calls {baseUrl}/carrier-billing/v0.5/payments/... and
   * {baseUrl}/carrier-billing-refund/v0.3/payments/{paymentId}/refunds.
   */
  charging: z
    .strictObject({
      baseUrl: z.string().url(),
      timeoutMs: positiveMs.default(3_000),
      /** OAuth2 client-credentials token endpoint (RFC 6749 section 4.4). */
      tokenUrl: z.string().url(),
      clientId: z.string().min(1),
      /** Pass it with DIALPAY__operators__<n>__charging__clientSecret, not in the file. */
      clientSecret: z.string().default(''),
      /** Space-separated scopes asked for with the token; empty asks for none. */
      scope: z.string().default(''),
      /** A token is renewed this long before its expiry. */
      tokenRefreshMarginMs: z.number().int().min(0).max(3_600_000).default(30_000),
      /** Tries of one call answered 429 or 5xx (each waits retryDelayMs more) before the status is asked. */
      attemptsMax: z.number().int().min(1).max(10).default(3),
      retryDelayMs: z.number().int().min(0).max(60_000).default(200),
      /** How far back, and how many pages of 100, a payment is looked for by its clientCorrelator when its paymentId is unknown. */
      lookupWindowMs: positiveMs.default(3_600_000),
      lookupPagesMax: z.number().int().min(1).max(1_000).default(20),
      /** How far the operator's clock may be from ours: a lookup by clientCorrelator reaches this far around our own attempt. */
      lookupSkewMs: positiveMs.default(30_000),
    })
    .optional(),
  /**
   * The operator's airtime top-up interface (docs/top-up-api.md), for billingAdapter: http. The
   * simulator adapter always has one; an operator with neither offers no airtime.
   */
  topUp: z
    .strictObject({
      baseUrl: z.string().url(),
      timeoutMs: positiveMs.default(3_000),
      /** Bearer token; pass it with DIALPAY__operators__<n>__topUp__apiKey, not in the file. */
      apiKey: z.string().optional(),
    })
    .optional(),
  /**
   * The operator's CAMARA SIM Swap 2.x API (POST {url}/check), asked before money leaves a payer
   * (services/billing/sim-swap.ts): a SIM swapped within maxAgeHours holds a payment, transfer or
   * withdrawal of checkAboveMinor or more. url is the API's root including its version path
   * (https://api.operator.example/sim-swap/v2). Absent: no check, counted as skipped.
   */
  simSwap: z
    .strictObject({
      url: z.string().url(),
      timeoutMs: z.number().int().min(100).max(10_000).default(2_000),
      /** OAuth2 client-credentials token endpoint (RFC 6749 section 4.4), as for charging. */
      tokenUrl: z.string().url(),
      clientId: z.string().min(1),
      /** Pass it with DIALPAY__operators__<n>__simSwap__clientSecret, not in the file. */
      clientSecret: z.string().default(''),
      scope: z.string().default(''),
      tokenRefreshMarginMs: z.number().int().min(0).max(3_600_000).default(30_000),
      /** Tries of one check answered 429/5xx or unanswered; with timeoutMs this bounds how long a check takes. */
      attemptsMax: z.number().int().min(1).max(5).default(2),
      retryDelayMs: z.number().int().min(0).max(5_000).default(100),
      /** A swap this recent (hours; CAMARA's maxAge, 1..2400) holds the payment. */
      maxAgeHours: z.number().int().min(1).max(2_400).default(72),
      /** Payments of this amount or more (minor units of the operator's currency) are checked. */
      checkAboveMinor: amountMinor.default(0n),
      /**
       * The API down or erroring after the retries: 'hold' holds the payment (fail closed: a swap
       * cannot be ruled out), 'allow' lets it go on (fail open). Default hold: a stolen number is
       * worth most exactly when the checks are down, and a held payment can be released by care.
       */
      onUnavailable: z.enum(['allow', 'hold']).default('hold'),
    })
    .optional(),
  smpp: smppBind,
  /** USSD for this operator's subscribers, over the HTTP edge, the SMPP link, or both. */
  ussd: z
    .strictObject({
      /** The codes subscribers dial; the first is the menu's home. */
      serviceCodes: z.array(z.string().regex(/^\*[0-9*]{1,20}#$/, 'must look like *384#')).min(1).max(16),
      /** HTTP edge: the aggregator's networkCode values (MCC+MNC) for this operator, to tell operators apart on a shared code. */
      networkCodes: z.array(z.string().regex(/^\d{3,8}$/)).max(16).default([]),
      /** The operator drops a hop it has not answered in this long; the edge answers well before. */
      operatorTimeoutMs: z.number().int().min(1_000).max(60_000).default(5_000),
      /**
       * SMPP edge: where the SMSC keeps a USSD dialogue's identity. its_session_info is the SMPP 3.4
       * TLV (session number + end bit); user_message_reference is used by some SMSCs instead; msisdn
       * means one dialogue per subscriber at a time.
       */
      smppSessionInfo: z.enum(['its_session_info', 'user_message_reference', 'msisdn']).default('its_session_info'),
    })
    .optional(),
  /**
   * The operator API's keys (POST /v1/operator/deposits on the merchant API's listener: the
   * operator's own systems crediting its subscribers' wallets); none: the operator cannot call it.
   */
  apiKeys,
  /** Settlement windows: one a day, from this local time to the same time the next day. */
  settlement: z
    .strictObject({
      /** IANA zone, such as Africa/Nairobi. */
      timeZone: z.string().min(1).default('UTC').refine((zone) => {
        try { new Intl.DateTimeFormat('en', { timeZone: zone }); return true; } catch { return false; }
      }, 'must be an IANA time zone'),
      cutoffLocalTime: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM').default('00:00'),
    })
    .prefault({}),
  /** How this operator's charging-records file reads (services/reconciliation/records.ts documents the default). */
  reconciliation: z
    .strictObject({
      /** Our field -> the operator's column header, for files that differ from the documented format. */
      columns: z
        .strictObject({
          carrierTxId: z.string().min(1).default('carrier_tx_id'),
          correlator: z.string().min(1).default('correlator'),
          msisdn: z.string().min(1).default('msisdn'),
          amountMinor: z.string().min(1).default('amount_minor'),
          currency: z.string().min(1).default('currency'),
          status: z.string().min(1).default('status'),
          chargedAt: z.string().min(1).default('charged_at'),
        })
        .prefault({}),
      /** The operator's status words -> ours; matched case-insensitively. */
      statuses: z.record(z.string(), z.enum(['charged', 'refunded', 'failed'])).default({
        charged: 'charged', success: 'charged', ok: 'charged', refunded: 'refunded', reversed: 'refunded',
        failed: 'failed', error: 'failed',
      }),
      /** Fallback matching: how far apart our time and theirs may be. */
      toleranceMs: z.number().int().min(0).max(86_400_000).default(300_000),
    })
    .prefault({}),
});

/** An operator's ranges, once read: its declared prefixes, or its country calling code alone. */
const operatorWithRanges = operator.transform((o) => ({ ...o, numberRanges: o.numberRanges ?? [o.countryCallingCode] }));

/**
 * A merchant as the runtime knows it: who it is, whose subscribers may pay it, and its API keys (one
 * id namespace with operators'). Each component adds the fields it reads (ConfigPart.merchantFields):
 * payments its fee schedule and payouts, webhooks its endpoint, the gateway its API rate.
 */
const merchantShape = {
  id,
  name: z.string().min(1).max(40),
  /** Operators whose subscribers may pay this merchant. */
  operatorIds: z.array(id).min(1),
  /**
   * Merchant API keys: more than one may be active, for rotation. The key is shown once by
   * `dialpay api-key`; only its id and the SHA-256 of its secret are kept (the secret is 256
   * random bits, so a fast hash is enough; PINs, being four digits, get scrypt).
   */
  apiKeys,
};
const MERCHANTS_MAX = 100_000;

/** Who may connect to NATS: one method each (user and password, token, NKey seed, or a .creds file); every secret also as a *File. */
const natsCredentials = z
  .strictObject({
    user: z.string().min(1).max(256).optional(),
    password: z.string().min(1).max(1024).optional(),
    passwordFile: z.string().min(1).optional(),
    token: z.string().min(1).max(1024).optional(),
    tokenFile: z.string().min(1).optional(),
    /** A user NKey seed ("SU..."), as `nsc` or `nk -gen user` prints it. */
    nkeySeed: z.string().regex(/^SU[A-Z2-7]{56}$/, 'must be a user NKey seed (SU followed by 56 base32 characters)').optional(),
    nkeySeedFile: z.string().min(1).optional(),
    /** A decentralised-auth credentials file (JWT and seed), as `nsc generate creds` writes it. */
    credsFile: z.string().min(1).optional(),
  })
  .superRefine((c, ctx) => {
    const both = (a: keyof typeof c, b: keyof typeof c) => {
      if (c[a] !== undefined && c[b] !== undefined) ctx.addIssue({ code: 'custom', path: [b], message: `give ${a} or ${b}, not both` });
    };
    both('password', 'passwordFile');
    both('token', 'tokenFile');
    both('nkeySeed', 'nkeySeedFile');
    const methods = [
      c.user !== undefined || c.password !== undefined || c.passwordFile !== undefined,
      c.token !== undefined || c.tokenFile !== undefined,
      c.nkeySeed !== undefined || c.nkeySeedFile !== undefined,
      c.credsFile !== undefined,
    ].filter(Boolean).length;
    if (methods !== 1) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of user+password, token, nkeySeed or credsFile' });
    }
    if (c.user !== undefined && c.password === undefined && c.passwordFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'user needs password or passwordFile' });
    }
    if (c.user === undefined && (c.password !== undefined || c.passwordFile !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['user'], message: 'password needs user' });
    }
  });
export type NatsCredentials = z.output<typeof natsCredentials>;

/** NATS identities: each component as its own user, and admin for provisioning and the ops commands (dlq, settle, reconcile). */
export const NATS_IDENTITIES = [...COMPONENT_NAMES, 'admin'] as const;
export type NatsIdentity = (typeof NATS_IDENTITIES)[number];

const natsTls = z
  .strictObject({
    /** CA bundle (PEM) the server's certificate must chain to. */
    caFile: z.string().min(1).optional(),
    /** Client certificate and key (PEM), for servers that verify clients. */
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
  })
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined),
    { message: 'certFile and keyFile go together', path: ['keyFile'] });

/** The runtime's own sections and the shared registries; the components' sections join them in composeConfigSchema. */
export const baseConfigSchema = z
  .strictObject({
    nats: z
      .strictObject({
        /** One URL, or several seeds separated by commas (a cluster): the client connects to any that answers and learns the rest. */
        url: z.string().regex(/^(nats|tls):\/\/[^,\s]+(\s*,\s*(nats|tls):\/\/[^,\s]+){0,15}$/,
          'must be a nats:// or tls:// URL, or up to 16 of them separated by commas').default('nats://127.0.0.1:4222'),
        connectTimeoutMs: positiveMs.default(5_000),
        reconnectWaitMs: positiveMs.default(1_000),
        /** -1 reconnects forever; a daemon should ride out NATS restarts. */
        reconnectAttemptsMax: z.number().int().min(-1).default(-1),
        publishTimeoutMs: positiveMs.default(5_000),
        streamReplicas: z.number().int().min(1).max(5).default(1),
        /** Credentials for every identity without its own entry in users; none: connect anonymously. */
        auth: natsCredentials.optional(),
        /** Per identity credentials, so each component runs as its own NATS user (deploy/nats/README.md). */
        users: z.strictObject(Object.fromEntries(NATS_IDENTITIES.map((n) => [n, natsCredentials.optional()])) as
          Record<NatsIdentity, z.ZodOptional<typeof natsCredentials>>).prefault({}),
        /** TLS to NATS: also on when the URL is tls://. */
        tls: natsTls.optional(),
        /**
         * Create or update streams, consumers and KV buckets (as admin) before components start. Off where
         * components run with least privilege and `dialpay migrate` provisions instead.
         */
        provisionAtStart: z.boolean().default(true),
      })
      .prefault({}),
    postgres: z
      .strictObject({
        url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').default('postgres://postgres@127.0.0.1:5432/dialpay'),
        poolSizeMax: z.number().int().min(1).max(200).default(10),
        connectTimeoutMs: positiveMs.default(5_000),
        statementTimeoutMs: positiveMs.default(10_000),
      })
      .prefault({}),
    http: z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        /** Ops port (/metrics, /healthz, /readyz) per component. */
        opsPorts: z
          .strictObject({
            gateway: port.default(9100),
            payments: port.default(9101),
            ussd: port.default(9102),
            billing: port.default(9103),
            settlement: port.default(9104),
            reconciliation: port.default(9105),
            webhooks: port.default(9106),
          })
          .prefault({}),
      })
      .prefault({}),
    log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') }).prefault({}),
    outbox: z
      .strictObject({
        pollIntervalMs: positiveMs.default(1_000),
        batchSizeMax: z.number().int().min(1).max(10_000).default(200),
      })
      .prefault({}),
    consumers: z
      .strictObject({
        /** Messages a consumer handles at once in one process. */
        inFlightMax: z.number().int().min(1).max(10_000).default(64),
        /**
         * Batched consumers: messages handled in one transaction (one commit) at most; several batches may run at once,
         * inFlightMax messages in all.
         */
        batchSizeMax: z.number().int().min(1).max(512).default(64),
        /**
         * Batched consumers: how long a batch's first message waits for others; a batch goes at once when nothing else is
         * pending. 0: never wait.
         */
        batchLingerMs: z.number().int().min(0).max(1_000).default(2),
        /**
         * Batched consumers: batches one consumer runs at once per process; what arrives meanwhile waits and forms the next,
         * bigger batch.
         */
        batchesInFlightMax: z.number().int().min(1).max(64).default(2),
        ackWaitMs: positiveMs.default(30_000),
        deliveriesMax: z.number().int().min(1).max(100).default(5),
        /** Delay before the n-th redelivery after a failed handler (last value repeats). */
        retryDelaysMs: z.array(positiveMs).min(1).max(20).default([1_000, 5_000, 30_000]),
        /** Webhook deliveries: the wait before each retry; after the last, the event goes to the DLQ (about 8.5 h by default). */
        webhookRetryDelaysMs: z.array(positiveMs).min(1).max(30)
          .default([10_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000]),
      })
      .prefault({}),
    shutdown: z.strictObject({ drainTimeoutMs: positiveMs.default(15_000) }).prefault({}),
    operators: z.array(operatorWithRanges).min(1).max(64),
    merchants: z.array(z.strictObject(merchantShape)).max(MERCHANTS_MAX),
  });

export type BaseConfig = z.output<typeof baseConfigSchema>;

/**
 * The components' own sections, each component's under its name, as each declares them by module
 * augmentation in <component>/config.ts:
 * `declare module '../../runtime/config/schema.js' { interface ComponentConfigSections { payments: PaymentsConfigSections } }`.
 * Config joins them all, so it stays one type for every component; two components may each add keys
 * to one section (ussd: the gateway's HTTP edge, the ussd service's own).
 */
export interface ComponentConfigSections {}

type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** The fields each component adds to a merchant, under its name (like ComponentConfigSections). */
export interface ComponentMerchantFields {}

export type MerchantConfig = BaseConfig['merchants'][number] & Intersection<ComponentMerchantFields[keyof ComponentMerchantFields]>;
export type Config = Omit<BaseConfig, 'merchants'> & { merchants: MerchantConfig[] }
  & Intersection<ComponentConfigSections[keyof ComponentConfigSections]>;
export type OperatorConfig = Config['operators'][number];

/** A component's part of the config: its top-level sections, and its checks across sections. */
export interface ConfigPart {
  /**
   * Top-level keys it adds, each with its schema (defaults included). A key two parts declare must be
   * an object (with .prefault({}) or not) in both: its keys are joined, none declared twice.
   */
  readonly sections: Readonly<Record<string, z.ZodType>>;
  /** Fields it adds to each merchant (merchants[]), none declared by another. */
  readonly merchantFields?: Readonly<Record<string, z.ZodType>>;
  /**
   * Rules across sections, on the parsed config: an id its sections hold that another section names
   * (merchants[].feeScheduleId), or one of its own that names another's. Issues go at their key.
   */
  readonly check?: (config: Config, ctx: z.RefinementCtx) => void;
}

/** A section's object schema, and whether it has an empty default (.prefault({})); null for any other schema. */
function sectionObject(schema: z.ZodType): { object: z.ZodObject; defaulted: boolean } | null {
  if (schema instanceof z.ZodObject) return { object: schema, defaulted: false };
  if (schema instanceof z.ZodPrefault && schema.unwrap() instanceof z.ZodObject) {
    return { object: schema.unwrap() as z.ZodObject, defaulted: true };
  }
  return null;
}

/** One section declared by several parts: their object schemas' keys in one strict object. Throws when they cannot join. */
function joinSections(key: string, a: z.ZodType, b: z.ZodType): z.ZodType {
  const [x, y] = [sectionObject(a), sectionObject(b)];
  if (!x || !y) throw new Error(`config section ${key} is declared twice`);
  for (const field of Object.keys(y.object.shape)) {
    if (field in x.object.shape) throw new Error(`config key ${key}.${field} is declared twice`);
  }
  const joined = z.strictObject({ ...x.object.shape, ...y.object.shape });
  return x.defaulted && y.defaulted ? joined.prefault({}) : joined;
}

/**
 * The whole config's schema: the runtime's sections with the components' parts. Throws when two
 * parts (or a part and the runtime) declare one key.
 */
export function composeConfigSchema(parts: readonly ConfigPart[]): z.ZodType<Config> {
  const shape: Record<string, z.ZodType> = { ...baseConfigSchema.shape };
  const merchant: Record<string, z.ZodType> = { ...merchantShape };
  for (const part of parts) {
    for (const [field, schema] of Object.entries(part.merchantFields ?? {})) {
      if (field in merchant) throw new Error(`merchant field ${field} is declared twice`);
      merchant[field] = schema;
    }
    for (const [key, section] of Object.entries(part.sections)) {
      if (key in baseConfigSchema.shape) throw new Error(`config section ${key} is the runtime's`);
      const declared = shape[key];
      shape[key] = declared ? joinSections(key, declared, section) : section;
    }
  }
  shape.merchants = z.array(z.strictObject(merchant)).max(MERCHANTS_MAX);
  return z.strictObject(shape).superRefine((config, ctx) => {
    checkBase(config as unknown as BaseConfig, ctx);
    for (const part of parts) part.check?.(config as unknown as Config, ctx);
  }) as unknown as z.ZodType<Config>;
}

/** The ids of a list, each once: a repeated one is an issue at its key. Returns them. */
export function uniqueIds(items: readonly { id: string }[], key: string, ctx: z.RefinementCtx): Set<string> {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.id)) ctx.addIssue({ code: 'custom', path: [key, i, 'id'], message: `duplicate id "${item.id}"` });
    seen.add(item.id);
  });
  return seen;
}

/** Cross references within the runtime's sections: an id that names nothing is a config error at its key. */
function checkBase(config: BaseConfig, ctx: z.RefinementCtx): void {
  const operatorIds = uniqueIds(config.operators, 'operators', ctx);
  uniqueIds(config.merchants, 'merchants', ctx);
  config.merchants.forEach((m, i) => {
    m.operatorIds.forEach((op, j) => {
      if (!operatorIds.has(op)) {
        ctx.addIssue({ code: 'custom', path: ['merchants', i, 'operatorIds', j], message: `unknown operator "${op}"` });
      }
    });
  });
  // One namespace for merchants' and operators' key ids: an id names one holder.
  const keyIds = new Set<string>();
  for (const [key, holders] of [['merchants', config.merchants], ['operators', config.operators]] as const) {
    holders.forEach((holder, i) =>
      holder.apiKeys.forEach((k, j) => {
        if (keyIds.has(k.id)) {
          ctx.addIssue({ code: 'custom', path: [key, i, 'apiKeys', j, 'id'], message: `API key id "${k.id}" is used twice` });
        }
        keyIds.add(k.id);
      }),
    );
  }
  config.operators.forEach((op, i) => {
    if (op.billingAdapter === 'http' && !op.charging) {
      ctx.addIssue({ code: 'custom', path: ['operators', i, 'charging'], message: 'billingAdapter http needs charging.baseUrl' });
    }
    if (op.smpp.mode === 'server' && !op.smpp.passwordHash) {
      ctx.addIssue({ code: 'custom', path: ['operators', i, 'smpp', 'passwordHash'],
        message: 'server mode needs passwordHash (run `dialpay hash-password`)' });
    }
    if (op.smpp.mode === 'server' && op.smpp.tls && (!op.smpp.tlsCertFile || !op.smpp.tlsKeyFile)) {
      ctx.addIssue({ code: 'custom', path: ['operators', i, 'smpp', 'tlsCertFile'],
        message: 'server mode with tls needs tlsCertFile and tlsKeyFile' });
    }
    op.shortCodes.forEach((code, j) => {
      if (op.shortCodes.indexOf(code) !== j) {
        ctx.addIssue({ code: 'custom', path: ['operators', i, 'shortCodes', j], message: `duplicate short code "${code}"` });
      }
    });
  });
  checkNumberRanges(config.operators, ctx);
}

/**
 * Each prefix names one operator: the same prefix held by two operators (or twice by one) is an
 * error naming both. An operator without numberRanges holds its country calling code, so two
 * operators of one country must declare theirs. Overlapping prefixes (+254 and +2547) are fine:
 * the longest prefix of a number decides (runtime/msisdn.ts operatorForNumber). A prefix outside
 * the operator's country calling code could never match a number its subscribers type, so it is
 * refused as a slip.
 */
function checkNumberRanges(
  operators: readonly { id: string; countryCallingCode: string; numberRanges: readonly string[] }[], ctx: z.RefinementCtx,
): void {
  const holders = new Map<string, string>();
  operators.forEach((op, i) => {
    op.numberRanges.forEach((prefix, j) => {
      const path = ['operators', i, 'numberRanges', j];
      if (!prefix.startsWith(op.countryCallingCode)) {
        ctx.addIssue({ code: 'custom', path,
          message: `+${prefix} is outside the operator's country calling code +${op.countryCallingCode}` });
      }
      const holder = holders.get(prefix);
      if (holder === undefined) holders.set(prefix, op.id);
      else if (holder === op.id) ctx.addIssue({ code: 'custom', path, message: `+${prefix} is listed twice` });
      else {
        ctx.addIssue({ code: 'custom', path, message: `+${prefix} is claimed by both "${holder}" and "${op.id}" `
          + `(an operator without numberRanges holds its country calling code): declare each operator's own ranges` });
      }
    });
  });
}
