// The SMPP edge of the gateway: a link per operator (client binds now, server
// listener in server mode), the inbound handler per operator, and the
// consumer that turns SmsOutbound events into submits, and the USSD edge of
// operators with ussd config. The sent log (sent-log.ts) is read before any
// of it starts: receipts and redeliveries find what every replica sent.
// Shutdown order: stop pulling outbound work and finish what is in flight,
// stop sweeping long-message parts (they wait in KV for any replica), let
// USSD hops in flight send their screens, then unbind cleanly.
import type { ComponentContext, StartedComponent } from '../../runtime/component.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { Kvm } from '@nats-io/kv';
import type { Logger } from '../../runtime/log.js';
import { Events, SMS_PARTS_BUCKET, STREAMS, effectiveConsumer, startConsumer, type RunningConsumer } from '../../runtime/nats/index.js';
import { GATEWAY_SMS_OUTBOUND } from '../consumers.js';
import { ClientBind, type BindCommand } from './client-bind.js';
import { SmppServerListener } from './server.js';
import { InboundHandler } from './inbound.js';
import {
  OutboundSubmitter, SubmittedIds, SUBMITTED_IDS_MAX, SUBMITTED_IDS_TTL_MS, clientLink, redactCodesForDeadLetter, type OperatorLink,
} from './outbound.js';
import { SmppMetrics } from './metrics.js';
import { WaitingMessages } from './waiting.js';
import { SentIndex, SENT_INDEX_AGE_MS, SENT_INDEX_RECORDS_MAX } from './sent-index.js';
import { SentLog } from './sent-log.js';
import { CommandStatus } from './status.js';
import { UssdEdge, type UssdReplySender } from '../ussd/smpp-edge.js';
import { OperatorThroughput, ReplicaShares } from './replica-share.js';
import type { TokenBucket } from './throttle.js';

/** `replicas`: the gateway replicas alive now, this one included (presence.ts). */
export async function startSmppEdge(context: ComponentContext, replicas: () => number = () => 1): Promise<StartedComponent> {
  const { config, log, nats } = context;
  const metrics = new SmppMetrics(context.registry);
  const sent = new SentLog({
    nc: nats.nc, js: nats.publisher, jsm: nats.jsm, index: new SentIndex(SENT_INDEX_RECORDS_MAX, SENT_INDEX_AGE_MS),
    publishTimeoutMs: config.nats.publishTimeoutMs, log, metrics,
  });
  await sent.start();
  // Parts of long inbound messages: shared, since the SMSC may send them on binds to different replicas.
  const parts = await new Kvm(nats.js).open(SMS_PARTS_BUCKET);
  const operators = new Map<string, OperatorConfig>(config.operators.map((o) => [o.id, o]));
  const links = new Map<string, OperatorLink>();
  const binds: ClientBind[] = [];
  const inbound: InboundHandler[] = [];
  const listeners: SmppServerListener[] = [];
  const ussdEdges: UssdEdge[] = [];
  // Each operator's rate is shared by all its binds here, and split over the live replicas.
  const throughputs = new Map(config.operators.map((o) => [o.id, new OperatorThroughput(o.smpp.throughputPerSecondMax, Date.now())]));
  const shares = new ReplicaShares(throughputs, replicas, metrics, log);
  shares.start();

  for (const operator of config.operators) {
    const throughput = (throughputs.get(operator.id) as OperatorThroughput).bucket;
    seedOperatorSeries(metrics, operator);
    let listener: SmppServerListener | null = null;
    // Set once the binds or the listener exist; a USSD PDU cannot arrive before that.
    let sendUssd: UssdReplySender = () => Promise.reject(new Error(`no link to ${operator.id} yet`));
    const ussd = operator.ussd
      ? new UssdEdge({
        operator, ussd: operator.ussd, nc: nats.nc, log, metrics,
        send: (session, bindId, fields) => sendUssd(session, bindId, fields),
      })
      : null;
    if (ussd) ussdEdges.push(ussd);
    const handler = new InboundHandler({
      operator, js: nats.publisher, nc: nats.nc, sent, parts, publishTimeoutMs: config.nats.publishTimeoutMs, log, metrics,
      receiptSession: (session) => listener?.receiptSession(session) ?? null,
      ussd,
    });
    inbound.push(handler);
    if (operator.smpp.mode === 'server') {
      const serverListener = new SmppServerListener({ operator, log, metrics, inbound: handler, throughput });
      listener = serverListener;
      // Server mode: the screen goes back as deliver_sm, on the bind the hop came in on if it may receive.
      sendUssd = (session, _bindId, fields) => serverListener.deliverVia(session, fields);
      await serverListener.listen();
      listeners.push(serverListener);
      links.set(operator.id, serverListener.link());
      continue;
    }
    const client = clientBinds(operator, handler, { log, metrics, throughput });
    sendUssd = client.sendUssd;
    client.binds.forEach((b) => b.start());
    binds.push(...client.binds);
    links.set(operator.id, client.link);
  }

  const consumer = await startOutbound(context, operators, links, sent, metrics);

  return {
    readiness: [],
    stop: async (timeoutMs: number) => {
      // Stop taking outbound work and finish what is in flight (it needs the binds), stop
      // sweeping message parts (they are in KV, every replica's), let USSD hops send their
      // screens, then unbind.
      await consumer.stop(timeoutMs);
      inbound.forEach((h) => h.close());
      // A hop in flight ends within its deadline; its screen still needs the link.
      ussdEdges.forEach((u) => u.close());
      await Promise.all(ussdEdges.map((u) => u.drain(timeoutMs)));
      await Promise.all([...binds.map((b) => b.stop()), ...listeners.map((l) => l.stop())]);
      shares.stop();
      await sent.close();
    },
  };
}

/**
 * Series from the start: an operator that never binds must read 0, not be missing (bind-down
 * alert), and increase() cannot see a counter's first step from absent to 1 (flapping alert).
 */
function seedOperatorSeries(metrics: SmppMetrics, operator: OperatorConfig): void {
  metrics.bindsUp.set({ operator: operator.id, mode: operator.smpp.mode }, 0);
  metrics.bindLosses.inc({ operator: operator.id, mode: operator.smpp.mode }, 0);
  metrics.outboundDuplicates.inc({ operator: operator.id }, 0);
  metrics.receiptsUncorrelated.inc({ operator: operator.id }, 0);
  // The kinds publishers give an expiry (sms.proto, SmsOutbound).
  for (const kind of ['challenge', 'retry_prompt']) metrics.outboundExpired.inc({ operator: operator.id, kind }, 0);
}

interface ClientBinds {
  /** Not yet started: the caller starts them once the USSD sender is in place. */
  readonly binds: ClientBind[];
  readonly link: OperatorLink;
  readonly sendUssd: UssdReplySender;
}

/** Client mode: the operator's binds (a transceiver, or a transmitter/receiver pair, per bind slot) and the link over them. */
function clientBinds(
  operator: OperatorConfig, handler: InboundHandler,
  shared: { readonly log: Logger; readonly metrics: SmppMetrics; readonly throughput: TokenBucket },
): ClientBinds {
  const commands: BindCommand[] = operator.smpp.bindType === 'pair' ? ['bind_transmitter', 'bind_receiver'] : ['bind_transceiver'];
  const binds = Array.from({ length: operator.smpp.bindCount }, (_, index) => commands.map((bindCommand) =>
    new ClientBind({
      operator,
      index,
      bindCommand,
      ...shared,
      onRequest: (session, pdu, bindId) => {
        // Client mode: the SMSC sends subscriber messages and receipts as deliver_sm.
        if (pdu.command === 'deliver_sm') handler.handle(session, pdu, bindId);
        else session.respond(pdu, CommandStatus.ESME_RINVCMDID);
      },
    }),
  )).flat();
  const link = clientLink(binds);
  // Client mode: the screen goes back as submit_sm on the bind the hop came in on, or on any
  // bind that can submit when that one cannot (a receiver of a transmitter/receiver pair).
  const sendUssd: UssdReplySender = (_session, bindId, fields) => {
    const own = binds.find((b) => b.id === bindId);
    return own && own.canSubmit && own.state === 'bound' ? own.submit(fields) : link.send(fields);
  };
  return { binds, link, sendUssd };
}

/** The consumer that turns SmsOutbound events into submits on the operators' links. */
async function startOutbound(
  context: ComponentContext, operators: ReadonlyMap<string, OperatorConfig>, links: ReadonlyMap<string, OperatorLink>,
  sent: SentLog, metrics: SmppMetrics,
): Promise<RunningConsumer> {
  const { config, log, nats } = context;
  const outboundSpec = effectiveConsumer(GATEWAY_SMS_OUTBOUND, config.consumers);
  // A repeat comes within the ack wait (a lost ack or nak) or the stream's duplicate window (a
  // relay's re-publish after a lost PubAck): remembered at least that long.
  const duplicateWindowMs = STREAMS.find((s) => s.name === outboundSpec.stream)?.duplicateWindowMs ?? 0;
  const submitted = new SubmittedIds(SUBMITTED_IDS_MAX, Math.max(SUBMITTED_IDS_TTL_MS, outboundSpec.ackWaitMs, duplicateWindowMs));
  // SMS waiting out an SMSC outage (nak'd, not failed: GATEWAY_SMS_OUTBOUND.waitsUnbounded), for the gauge.
  const waiting = new WaitingMessages();
  metrics.trackWaiting(config.operators.map((o) => o.id), () => waiting.counts());
  const submitter = new OutboundSubmitter({ operators, links, nc: nats.nc, sent, log, metrics, submitted, waiting });
  return startConsumer({
    nats,
    spec: outboundSpec,
    event: Events.smsOutbound,
    handler: (message, handlerContext) => submitter.handle(message, handlerContext.deliveryCount),
    deadLetterData: redactCodesForDeadLetter,
    log,
    metrics: context.consumerMetrics,
    inFlightMax: config.consumers.inFlightMax,
    retryDelaysMs: config.consumers.retryDelaysMs,
    publishTimeoutMs: config.nats.publishTimeoutMs,
  });
}
