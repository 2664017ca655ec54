// The configuration schema: one YAML file, validated at start. Every bound
// has a unit in its name and a default; money is bigint minor units.
import { isIP } from 'node:net';
import { z } from 'zod';
import { LANGUAGES } from '../language.js';

export const COMPONENT_NAMES = ['gateway', 'payments', 'ussd', 'billing', 'settlement', 'reconciliation', 'webhooks'] as const;
export type ComponentName = (typeof COMPONENT_NAMES)[number];

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, "_" or "-"');
const port = z.number().int().min(1).max(65535);
const positiveMs = z.number().int().min(1).max(86_400_000);
/** Minor units, from a YAML integer or a digit string (for values past 2^53). */
const amountMinor = z
  .union([z.number().int().nonnegative(), z.string().regex(/^\d{1,18}$/, 'must be a whole number of minor units')])
  .transform((v) => BigInt(v));
/** An IP address or CIDR block ("10.0.0.0/8", "192.0.2.7", "::1/128") for an edge's allow list. */
const addressOrBlock = z.string().refine((entry) => {
  const [address, prefix, extra] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}, 'must be an IP address or a CIDR block such as 10.0.0.0/8');

/** Whether a listen host is loopback only (so nothing off this machine reaches it). Pure. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  const v4 = bare.startsWith('::ffff:') ? bare.slice(7) : bare;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * Reverse proxies (the Kubernetes Ingress's pods) in front of an HTTP edge: IPs or CIDR blocks. Only from
 * these is X-Forwarded-For believed, its right-most address that is not one of them taken as the caller's.
 */
const trustedProxies = z.array(addressOrBlock).max(256).default([]);
/** An edge secret: it may travel in a URL path, so URL-safe, and long enough not to be guessed. */
const edgeSecret = z.string().regex(/^[A-Za-z0-9._~-]{16,256}$/, 'must be 16-256 letters, digits, ".", "_", "~" or "-" (it may travel in a URL path)');

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
      timeZone: z.string().min(1).default('UTC').refine((zone) => { try { new Intl.DateTimeFormat('en', { timeZone: zone }); return true; } catch { return false; } }, 'must be an IANA time zone'),
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
      statuses: z.record(z.string(), z.enum(['charged', 'refunded', 'failed'])).default({ charged: 'charged', success: 'charged', ok: 'charged', refunded: 'refunded', reversed: 'refunded', failed: 'failed', error: 'failed' }),
      /** Fallback matching: how far apart our time and theirs may be. */
      toleranceMs: z.number().int().min(0).max(86_400_000).default(300_000),
    })
    .prefault({}),
});

/** An operator's ranges, once read: its declared prefixes, or its country calling code alone. */
const operatorWithRanges = operator.transform((o) => ({ ...o, numberRanges: o.numberRanges ?? [o.countryCallingCode] }));

const feeSchedule = z.strictObject({
  id,
  fixedMinor: amountMinor,
  percentBps: z.number().int().min(0).max(10_000),
});

const merchant = z.strictObject({
  id,
  name: z.string().min(1).max(40),
  /** Operators whose subscribers may pay this merchant. */
  operatorIds: z.array(id).min(1),
  feeScheduleId: id,
  webhookUrl: z.string().url().optional(),
  /**
   * Signs webhook bodies (HMAC-SHA256); pass it with DIALPAY__merchants__<n>__webhookSecret, not in the file.
   * Only the webhooks component needs it, and refuses to start when a merchant with a webhookUrl has none.
   */
  webhookSecret: z.string().min(16).max(256).optional(),
  /**
   * Merchant API keys: more than one may be active, for rotation. The key is shown once by
   * `dialpay api-key`; only its id and the SHA-256 of its secret are kept (the secret is 256
   * random bits, so a fast hash is enough; PINs, being four digits, get scrypt).
   */
  /** This merchant's own API rate per key, instead of merchantApi's (a plan with a lower or higher cap). */
  apiRequestsPerSecondMax: z.number().int().min(1).max(100_000).optional(),
  apiRequestsBurstMax: z.number().int().min(1).max(100_000).optional(),
  apiKeys,
  /**
   * Payouts (POST /v1/payouts: business to customer, from this merchant's available balance into a
   * subscriber's dialpay wallet). Absent: payouts are refused (403). perDayMaxMinor counts this
   * merchant's payouts not failed since 00:00 UTC.
   */
  payouts: z.strictObject({ perPayoutMaxMinor: amountMinor, perDayMaxMinor: amountMinor }).optional(),
});

const kycTier = z.strictObject({
  tier: z.number().int().min(0).max(9),
  perTransactionMaxMinor: amountMinor,
  dailyMaxMinor: amountMinor,
  monthlyMaxMinor: amountMinor,
  /**
   * The most a subscriber of this tier may hold in their dialpay wallet: an agent's cash-in that
   * would take it past this is refused (billing checks it under the wallet's row lock). Absent: no cap.
   */
  walletBalanceMaxMinor: amountMinor.optional(),
});

const limits = z.strictObject({
  tiers: z.array(kycTier).min(1),
  paymentsPerMinuteMax: z.number().int().min(1).max(1000).default(5),
  pinAttemptsMax: z.number().int().min(1).max(10).default(3),
  challengeTtlMs: positiveMs.default(120_000),
  /** A manual-capture authorization the merchant does not capture within this is voided. */
  authorizationTtlMs: positiveMs.default(86_400_000),
  /** Payments above this amount ask for the PIN instead of a one-time code. */
  pinRequiredAboveMinor: amountMinor.default(100_000n),
  /** Merchant API requests and pending mandates one merchant may have waiting for one subscriber's answer at once. */
  merchantOpenRequestsPerSubscriberMax: z.number().int().min(1).max(100).default(3),
  /** The same over all merchants: also bounds how many codes one `YES <code>` is compared with. */
  merchantOpenRequestsPerSubscriberTotalMax: z.number().int().min(1).max(100).default(5),
  /** One merchant's requests to one subscriber that expired unanswered in a rolling 24 h; past it, new ones are refused. */
  merchantUnansweredRequestsPerDayMax: z.number().int().min(1).max(1000).default(5),
  /** Wrong confirmation codes per subscriber, over all their open challenges, within the window... */
  wrongAnswersPerSubscriberMax: z.number().int().min(1).max(100).default(5),
  wrongAnswersWindowMs: positiveMs.default(15 * 60_000),
  /** ...then confirmations by code are refused this long. */
  codeLockoutMs: positiveMs.default(15 * 60_000),
});

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
    if (methods !== 1) ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of user+password, token, nkeySeed or credsFile' });
    if (c.user !== undefined && c.password === undefined && c.passwordFile === undefined) ctx.addIssue({ code: 'custom', path: ['password'], message: 'user needs password or passwordFile' });
    if (c.user === undefined && (c.password !== undefined || c.passwordFile !== undefined)) ctx.addIssue({ code: 'custom', path: ['user'], message: 'password needs user' });
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
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), { message: 'certFile and keyFile go together', path: ['keyFile'] });

export const configSchema = z
  .strictObject({
    nats: z
      .strictObject({
        /** One URL, or several seeds separated by commas (a cluster): the client connects to any that answers and learns the rest. */
        url: z.string().regex(/^(nats|tls):\/\/[^,\s]+(\s*,\s*(nats|tls):\/\/[^,\s]+){0,15}$/, 'must be a nats:// or tls:// URL, or up to 16 of them separated by commas').default('nats://127.0.0.1:4222'),
        connectTimeoutMs: positiveMs.default(5_000),
        reconnectWaitMs: positiveMs.default(1_000),
        /** -1 reconnects forever; a daemon should ride out NATS restarts. */
        reconnectAttemptsMax: z.number().int().min(-1).default(-1),
        publishTimeoutMs: positiveMs.default(5_000),
        streamReplicas: z.number().int().min(1).max(5).default(1),
        /** Credentials for every identity without its own entry in users; none: connect anonymously. */
        auth: natsCredentials.optional(),
        /** Per identity credentials, so each component runs as its own NATS user (deploy/nats/README.md). */
        users: z.strictObject(Object.fromEntries(NATS_IDENTITIES.map((n) => [n, natsCredentials.optional()])) as Record<NatsIdentity, z.ZodOptional<typeof natsCredentials>>).prefault({}),
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
        /** Batched consumers: messages handled in one transaction (one commit) at most; several batches may run at once, inFlightMax messages in all. */
        batchSizeMax: z.number().int().min(1).max(512).default(64),
        /** Batched consumers: how long a batch's first message waits for others; a batch goes at once when nothing else is pending. 0: never wait. */
        batchLingerMs: z.number().int().min(0).max(1_000).default(2),
        /** Batched consumers: batches one consumer runs at once per process; what arrives meanwhile waits and forms the next, bigger batch. */
        batchesInFlightMax: z.number().int().min(1).max(64).default(2),
        ackWaitMs: positiveMs.default(30_000),
        deliveriesMax: z.number().int().min(1).max(100).default(5),
        /** Delay before the n-th redelivery after a failed handler (last value repeats). */
        retryDelaysMs: z.array(positiveMs).min(1).max(20).default([1_000, 5_000, 30_000]),
        /** Webhook deliveries: the wait before each retry; after the last, the event goes to the DLQ (about 8.5 h by default). */
        webhookRetryDelaysMs: z.array(positiveMs).min(1).max(30).default([10_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000]),
      })
      .prefault({}),
    shutdown: z.strictObject({ drainTimeoutMs: positiveMs.default(15_000) }).prefault({}),
    webhooks: z
      .strictObject({
        /** One POST to a merchant's endpoint; past this it counts as failed and is retried. */
        timeoutMs: positiveMs.default(10_000),
        /** Consecutive failures of one merchant's endpoint after which its deliveries fail at once, freeing the shared slots. */
        circuitFailuresToOpen: z.number().int().min(1).max(1_000).default(5),
        /** How long such an endpoint is left alone before one delivery probes it. */
        circuitOpenMs: positiveMs.default(30_000),
      })
      .prefault({}),
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
    settlementReports: z
      .strictObject({
        /** Where the scheduled closes write their CSV and JSON reports; none written when absent. */
        dir: z.string().min(1).optional(),
      })
      .prefault({}),
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
    operators: z.array(operatorWithRanges).min(1).max(64),
    feeSchedules: z.array(feeSchedule).min(1),
    merchants: z.array(merchant).max(100_000),
    limits,
  })
  .superRefine((config, ctx) => {
    // Cross references: an id that names nothing is a config error at its key.
    const unique = (items: { id: string }[], key: string): Set<string> => {
      const seen = new Set<string>();
      items.forEach((item, i) => {
        if (seen.has(item.id)) ctx.addIssue({ code: 'custom', path: [key, i, 'id'], message: `duplicate id "${item.id}"` });
        seen.add(item.id);
      });
      return seen;
    };
    const operatorIds = unique(config.operators, 'operators');
    const feeIds = unique(config.feeSchedules, 'feeSchedules');
    unique(config.merchants, 'merchants');
    config.merchants.forEach((m, i) => {
      m.operatorIds.forEach((op, j) => {
        if (!operatorIds.has(op)) {
          ctx.addIssue({ code: 'custom', path: ['merchants', i, 'operatorIds', j], message: `unknown operator "${op}"` });
        }
      });
      if (!feeIds.has(m.feeScheduleId)) {
        ctx.addIssue({ code: 'custom', path: ['merchants', i, 'feeScheduleId'], message: `unknown fee schedule "${m.feeScheduleId}"` });
      }
    });
    // One namespace for merchants' and operators' key ids: an id names one holder.
    const keyIds = new Set<string>();
    for (const [key, holders] of [['merchants', config.merchants], ['operators', config.operators]] as const) {
      holders.forEach((holder, i) =>
        holder.apiKeys.forEach((k, j) => {
          if (keyIds.has(k.id)) ctx.addIssue({ code: 'custom', path: [key, i, 'apiKeys', j, 'id'], message: `API key id "${k.id}" is used twice` });
          keyIds.add(k.id);
        }),
      );
    }
    config.merchants.forEach((m, i) => {
      if (m.payouts && m.payouts.perPayoutMaxMinor > m.payouts.perDayMaxMinor) {
        ctx.addIssue({ code: 'custom', path: ['merchants', i, 'payouts', 'perPayoutMaxMinor'], message: 'must not exceed perDayMaxMinor' });
      }
    });
    config.operators.forEach((op, i) => {
      if (op.billingAdapter === 'http' && !op.charging) {
        ctx.addIssue({ code: 'custom', path: ['operators', i, 'charging'], message: 'billingAdapter http needs charging.baseUrl' });
      }
      if (op.smpp.mode === 'server' && !op.smpp.passwordHash) {
        ctx.addIssue({ code: 'custom', path: ['operators', i, 'smpp', 'passwordHash'], message: 'server mode needs passwordHash (run `dialpay hash-password`)' });
      }
      if (op.smpp.mode === 'server' && op.smpp.tls && (!op.smpp.tlsCertFile || !op.smpp.tlsKeyFile)) {
        ctx.addIssue({ code: 'custom', path: ['operators', i, 'smpp', 'tlsCertFile'], message: 'server mode with tls needs tlsCertFile and tlsKeyFile' });
      }
      if (op.cashOutFeeScheduleId !== undefined && !feeIds.has(op.cashOutFeeScheduleId)) {
        ctx.addIssue({ code: 'custom', path: ['operators', i, 'cashOutFeeScheduleId'], message: `unknown fee schedule "${op.cashOutFeeScheduleId}"` });
      }
      op.shortCodes.forEach((code, j) => {
        if (op.shortCodes.indexOf(code) !== j) {
          ctx.addIssue({ code: 'custom', path: ['operators', i, 'shortCodes', j], message: `duplicate short code "${code}"` });
        }
      });
    });
    if (config.ussd.airtimeMerchantIds !== undefined) {
      // Refused, not ignored: a config written for the old path expects airtime money in a merchant's
      // account, and an operator with no top-up interface now offers no airtime. Both deserve a decision.
      ctx.addIssue({
        code: 'custom', path: ['ussd', 'airtimeMerchantIds'],
        message: 'no longer supported: airtime now tops the line up through the operator (billingAdapter simulator, or operators[].topUp); remove this key and the airtime merchant it names',
      });
    }
    // An edge open beyond this machine must know who calls it: checked here, before any engine is contacted.
    const ussdHttp = config.ussd.http;
    if (ussdHttp.port !== undefined && !isLoopbackHost(ussdHttp.host) && !ussdHttp.sharedSecret && ussdHttp.aggregators.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['ussd', 'http', 'sharedSecret'], message: `ussd.http.host ${ussdHttp.host} is not loopback: set a shared secret for the aggregators (DIALPAY__ussd__http__sharedSecret, or ussd.http.aggregators)` });
    }
    checkNumberRanges(config.operators, ctx);
    checkUssdAggregators(ussdHttp, config.operators, ctx);
    if (Boolean(ussdHttp.tlsCertFile) !== Boolean(ussdHttp.tlsKeyFile)) {
      ctx.addIssue({ code: 'custom', path: ['ussd', 'http', ussdHttp.tlsCertFile ? 'tlsKeyFile' : 'tlsCertFile'], message: 'HTTPS needs both tlsCertFile and tlsKeyFile' });
    }
    config.limits.tiers.forEach((t, i) => {
      if (t.perTransactionMaxMinor > t.dailyMaxMinor) {
        ctx.addIssue({ code: 'custom', path: ['limits', 'tiers', i, 'perTransactionMaxMinor'], message: 'must not exceed dailyMaxMinor' });
      }
      if (t.dailyMaxMinor > t.monthlyMaxMinor) {
        ctx.addIssue({ code: 'custom', path: ['limits', 'tiers', i, 'dailyMaxMinor'], message: 'must not exceed monthlyMaxMinor' });
      }
    });
  });

/**
 * Each prefix names one operator: the same prefix held by two operators (or twice by one) is an
 * error naming both. An operator without numberRanges holds its country calling code, so two
 * operators of one country must declare theirs. Overlapping prefixes (+254 and +2547) are fine:
 * the longest prefix of a number decides (runtime/msisdn.ts operatorForNumber). A prefix outside
 * the operator's country calling code could never match a number its subscribers type, so it is
 * refused as a slip.
 */
function checkNumberRanges(operators: readonly { id: string; countryCallingCode: string; numberRanges: readonly string[] }[], ctx: z.RefinementCtx): void {
  const holders = new Map<string, string>();
  operators.forEach((op, i) => {
    op.numberRanges.forEach((prefix, j) => {
      const path = ['operators', i, 'numberRanges', j];
      if (!prefix.startsWith(op.countryCallingCode)) {
        ctx.addIssue({ code: 'custom', path, message: `+${prefix} is outside the operator's country calling code +${op.countryCallingCode}` });
      }
      const holder = holders.get(prefix);
      if (holder === undefined) holders.set(prefix, op.id);
      else if (holder === op.id) ctx.addIssue({ code: 'custom', path, message: `+${prefix} is listed twice` });
      else ctx.addIssue({ code: 'custom', path, message: `+${prefix} is claimed by both "${holder}" and "${op.id}" (an operator without numberRanges holds its country calling code): declare each operator's own ranges` });
    });
  });
}

/**
 * Aggregator ids unique, their operators known, and no secret shared (it would make who called
 * ambiguous). An aggregator may serve one of two operators of a country: the edge tells their
 * subscribers apart by number range (numberBelongsTo), and checkNumberRanges makes every number
 * belong to at most one operator.
 */
function checkUssdAggregators(
  http: { sharedSecret?: string | undefined; sharedSecretPrevious?: string | undefined; aggregators: { id: string; sharedSecret: string; sharedSecretPrevious?: string | undefined; operatorIds: string[] }[] },
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
    if (ids.has(aggregator.id)) ctx.addIssue({ code: 'custom', path: [...path, 'id'], message: `duplicate aggregator id "${aggregator.id}"` });
    ids.add(aggregator.id);
    aggregator.operatorIds.forEach((op, j) => {
      if (!operatorIds.has(op)) ctx.addIssue({ code: 'custom', path: [...path, 'operatorIds', j], message: `unknown operator "${op}"` });
    });
    for (const key of ['sharedSecret', 'sharedSecretPrevious'] as const) {
      const secret = aggregator[key];
      if (!secret) continue;
      // The message names the other key, never the secret.
      const owner = owners.get(secret);
      if (owner) ctx.addIssue({ code: 'custom', path: [...path, key], message: `the same secret as ${owner}: each aggregator needs its own` });
      else owners.set(secret, `ussd.http.aggregators[${i}].${key}`);
    }
  });
}

export type Config = z.output<typeof configSchema>;
export type OperatorConfig = Config['operators'][number];
export type MerchantConfig = Config['merchants'][number];
