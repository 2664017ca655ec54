// SMPP metrics, one set per gateway process, labelled by operator.
import { Counter, Gauge, Histogram, LATENCY_BUCKETS_SECONDS, type Registry } from '../../runtime/metrics.js';

/** What each metric is called and means (dashboards and alerts read these); labels where each is made. */
const DESCRIPTIONS = {
  pdus: { name: 'dialpay_smpp_pdus_total', help: 'SMPP PDUs by direction, command and command_status.' },
  bindsUp: { name: 'dialpay_smpp_binds_up', help: 'SMPP binds currently bound.' },
  windowInUse: { name: 'dialpay_smpp_window_requests', help: 'Requests sent and awaiting a response, summed over the operator\'s binds.' },
  throttleEvents: { name: 'dialpay_smpp_throttle_events_total', help: 'ESME_RTHROTTLED answers and local throttle waits.' },
  submitResponseSeconds: { name: 'dialpay_smpp_submit_response_seconds', help: 'Time from submit to its response.' },
  receipts: { name: 'dialpay_smpp_receipts_total', help: 'Delivery receipts by state.' },
  reconnects: { name: 'dialpay_smpp_reconnects_total', help: 'Binds re-established after a loss.' },
  bindFailures: { name: 'dialpay_smpp_bind_failures_total', help: 'Failed bind attempts, ours or a peer\'s.' },
  // Our own unbind at shutdown is left out, so a rolling restart does not look like flapping.
  bindLosses: {
    name: 'dialpay_smpp_bind_losses_total',
    help: 'Bound sessions that ended while the gateway was not stopping: link lost, unanswered enquire_link, or an unbind by the peer.',
  },
  submitRetries: {
    name: 'dialpay_smpp_submit_retries_total',
    help: 'Submit attempts that will be retried, by reason (a command_status, or a timeout or closed link whose outcome is unknown).',
  },
  outboundDuplicates: {
    name: 'dialpay_sms_outbound_duplicates_total',
    help: 'SmsOutbound events delivered again after they were submitted whole, by this gateway (a lost ack, a record write that failed ' +
      'after the submit, a re-published event) or by a replica whose SMS_SENT record it found (that replica died before its ack): acked ' +
      'without a second submit.',
  },
  receiptsUncorrelated: {
    name: 'dialpay_smpp_receipts_uncorrelated_total',
    help: 'Delivery receipts whose message no replica remembers (older than the sent index keeps, or sent before SMS_SENT existed): ' +
      'notified without a message_ref.',
  },
  sentBatchRecords: {
    name: 'dialpay_smpp_sent_batch_records',
    help: 'Sent records per durable SMS_SENT message (one batch): what one JetStream write carries.',
  },
  sentIndexRecords: {
    name: 'dialpay_smpp_sent_index_records',
    help: 'Sent records this replica keeps in memory (its own and the other replicas\' batches), for receipts and redeliveries.',
  },
  ussdHops: {
    name: 'dialpay_smpp_ussd_hops_total',
    help: 'USSD PDUs over SMPP by outcome: continue, end, unavailable (our END after the ussd service failed to answer), reply_refused, ' +
      'reply_failed, throttled, rejected, ignored, closed, released (the network ended the dialogue; the ussd service was told).',
  },
  ussdHopSeconds: {
    name: 'dialpay_smpp_ussd_hop_seconds', help: 'Time from a USSD PDU\'s arrival to the ussd service\'s answer, or to giving up on it.',
  },
  ussdHopsInFlight: {
    name: 'dialpay_smpp_ussd_hops_in_flight', help: 'USSD hops waiting for the ussd service or for the answer PDU to be sent.',
  },
  replicasLive: {
    name: 'dialpay_gateway_replicas_live',
    help: 'Gateway replicas alive as this one counts them (presence on core NATS): each operator\'s submit rate and each merchant key\'s ' +
      'rate limit are split over them.',
  },
  submitRateShare: {
    name: 'dialpay_smpp_submit_rate_share_per_second',
    help: 'This replica\'s share of the operator\'s contracted submit rate (throughputPerSecondMax over the live replicas), drawn on by ' +
      'all its binds.',
  },
  reassemblyMessages: {
    name: 'dialpay_smpp_reassembly_messages',
    help: 'Concatenated messages this replica stored a part of and waits on for the rest (the parts are in the sms_parts KV bucket, ' +
      'shared by the replicas).',
  },
  reassemblyPartsExpired: {
    name: 'dialpay_smpp_reassembly_parts_expired_total',
    help: 'Parts of concatenated messages that were stored and acknowledged but whose message never completed within ' +
      'reassemblyTimeoutMs: dropped, each message logged.',
  },
  outboundExpired: {
    name: 'dialpay_sms_outbound_expired_total',
    help: 'Outbound SMS dropped unsent because their useful life (expires_at_unix_ms: a challenge past its TTL) ended before they could ' +
      'be sent, typically while waiting out an SMSC outage, by kind.',
  },
  outboundWaiting: {
    name: 'dialpay_sms_outbound_waiting_messages',
    help: 'Outbound SMS this replica sent back to JetStream to wait for a bind to the operator (or past temporary SMSC refusals), not ' +
      'yet sent, dropped or failed. Sum across replicas (approximate: a message may count briefly on two).',
  },
};

export class SmppMetrics {
  readonly pdus: Counter<'operator' | 'direction' | 'command' | 'status'>;
  readonly bindsUp: Gauge<'operator' | 'mode'>;
  readonly windowInUse: Gauge<'operator'>;
  readonly throttleEvents: Counter<'operator'>;
  readonly submitResponseSeconds: Histogram<'operator'>;
  readonly receipts: Counter<'operator' | 'state'>;
  readonly reconnects: Counter<'operator'>;
  readonly bindFailures: Counter<'operator' | 'reason'>;
  readonly bindLosses: Counter<'operator' | 'mode'>;
  readonly reassemblyMessages: Gauge<'operator'>;
  readonly reassemblyPartsExpired: Counter<'operator'>;
  readonly submitRetries: Counter<'operator' | 'reason'>;
  readonly outboundDuplicates: Counter<'operator'>;
  readonly receiptsUncorrelated: Counter<'operator'>;
  readonly sentBatchRecords: Histogram;
  readonly sentIndexRecords: Gauge;
  readonly ussdHops: Counter<'operator' | 'outcome'>;
  readonly ussdHopSeconds: Histogram<'operator'>;
  readonly ussdHopsInFlight: Gauge<'operator'>;
  readonly replicasLive: Gauge<string>;
  readonly submitRateShare: Gauge<'operator'>;
  readonly outboundExpired: Counter<'operator' | 'kind'>;
  readonly outboundWaiting: Gauge<'operator'>;
  #waiting: { readonly operators: readonly string[]; readonly counts: () => ReadonlyMap<string, number> } | null = null;

  constructor(registry: Registry) {
    const registers = [registry];
    this.pdus = new Counter({ ...DESCRIPTIONS.pdus, labelNames: ['operator', 'direction', 'command', 'status'], registers });
    this.bindsUp = new Gauge({ ...DESCRIPTIONS.bindsUp, labelNames: ['operator', 'mode'], registers });
    this.windowInUse = new Gauge({ ...DESCRIPTIONS.windowInUse, labelNames: ['operator'], registers });
    this.throttleEvents = new Counter({ ...DESCRIPTIONS.throttleEvents, labelNames: ['operator'], registers });
    this.submitResponseSeconds = new Histogram({
      ...DESCRIPTIONS.submitResponseSeconds, labelNames: ['operator'], buckets: LATENCY_BUCKETS_SECONDS, registers,
    });
    this.receipts = new Counter({ ...DESCRIPTIONS.receipts, labelNames: ['operator', 'state'], registers });
    this.reconnects = new Counter({ ...DESCRIPTIONS.reconnects, labelNames: ['operator'], registers });
    this.bindFailures = new Counter({ ...DESCRIPTIONS.bindFailures, labelNames: ['operator', 'reason'], registers });
    this.bindLosses = new Counter({ ...DESCRIPTIONS.bindLosses, labelNames: ['operator', 'mode'], registers });
    this.submitRetries = new Counter({ ...DESCRIPTIONS.submitRetries, labelNames: ['operator', 'reason'], registers });
    this.outboundDuplicates = new Counter({ ...DESCRIPTIONS.outboundDuplicates, labelNames: ['operator'], registers });
    this.receiptsUncorrelated = new Counter({ ...DESCRIPTIONS.receiptsUncorrelated, labelNames: ['operator'], registers });
    this.sentBatchRecords = new Histogram({ ...DESCRIPTIONS.sentBatchRecords, buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers });
    this.sentIndexRecords = new Gauge({ ...DESCRIPTIONS.sentIndexRecords, registers });
    this.ussdHops = new Counter({ ...DESCRIPTIONS.ussdHops, labelNames: ['operator', 'outcome'], registers });
    this.ussdHopSeconds = new Histogram({
      ...DESCRIPTIONS.ussdHopSeconds, labelNames: ['operator'], buckets: LATENCY_BUCKETS_SECONDS, registers,
    });
    this.ussdHopsInFlight = new Gauge({ ...DESCRIPTIONS.ussdHopsInFlight, labelNames: ['operator'], registers });
    this.replicasLive = new Gauge({ ...DESCRIPTIONS.replicasLive, registers });
    this.submitRateShare = new Gauge({ ...DESCRIPTIONS.submitRateShare, labelNames: ['operator'], registers });
    this.reassemblyMessages = new Gauge({ ...DESCRIPTIONS.reassemblyMessages, labelNames: ['operator'], registers });
    this.reassemblyPartsExpired = new Counter({ ...DESCRIPTIONS.reassemblyPartsExpired, labelNames: ['operator'], registers });
    this.outboundExpired = new Counter({ ...DESCRIPTIONS.outboundExpired, labelNames: ['operator', 'kind'], registers });
    // Read from the replica's waiting set at scrape time (waiting.ts): sum across replicas.
    this.outboundWaiting = new Gauge({
      ...DESCRIPTIONS.outboundWaiting, labelNames: ['operator'], registers,
      collect: () => {
        if (!this.#waiting) return;
        const counts = this.#waiting.counts();
        for (const operator of this.#waiting.operators) this.outboundWaiting.set({ operator }, counts.get(operator) ?? 0);
      },
    });
  }

  /** Reports the waiting messages of these operators (0 when none) on each scrape. */
  trackWaiting(operators: readonly string[], counts: () => ReadonlyMap<string, number>): void {
    this.#waiting = { operators: [...operators], counts };
  }
}
