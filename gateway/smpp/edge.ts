// The SMPP edge of the gateway: a link per operator (client binds now, server
// listener in server mode), the inbound handler per operator, and the
// consumer that turns SmsOutbound events into submits. Shutdown order: stop
// pulling outbound work and finish what is in flight, then unbind cleanly,
// then answer any held message parts with a temporary error.
import { Kvm } from '@nats-io/kv';
import type { ComponentContext, StartedComponent } from '../../runtime/component.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { Events, GATEWAY_SMS_OUTBOUND, effectiveConsumer, startConsumer } from '../../runtime/nats/index.js';
import { ClientBind, type BindCommand } from './client-bind.js';
import { SmppServerListener } from './server.js';
import { InboundHandler } from './inbound.js';
import { OutboundSubmitter, clientLink, type OperatorLink } from './outbound.js';
import { SmppMetrics } from './metrics.js';
import { CommandStatus } from './status.js';

export async function startSmppEdge(context: ComponentContext): Promise<StartedComponent> {
  const { config, log, nats } = context;
  const metrics = new SmppMetrics(context.registry);
  const correlations = await new Kvm(nats.js).open('dlr_correlation');
  const operators = new Map<string, OperatorConfig>(config.operators.map((o) => [o.id, o]));
  const links = new Map<string, OperatorLink>();
  const binds: ClientBind[] = [];
  const inbound: InboundHandler[] = [];
  const listeners: SmppServerListener[] = [];

  for (const operator of config.operators) {
    let listener: SmppServerListener | null = null;
    const handler = new InboundHandler({
      operator, js: nats.js, correlations, publishTimeoutMs: config.nats.publishTimeoutMs, log, metrics,
      receiptSession: (session) => listener?.receiptSession(session) ?? null,
    });
    inbound.push(handler);
    if (operator.smpp.mode === 'server') {
      listener = new SmppServerListener({ operator, log, metrics, inbound: handler });
      await listener.listen();
      listeners.push(listener);
      links.set(operator.id, listener.link());
      continue;
    }
    const commands: BindCommand[] = operator.smpp.bindType === 'pair' ? ['bind_transmitter', 'bind_receiver'] : ['bind_transceiver'];
    const operatorBinds = Array.from({ length: operator.smpp.bindCount }, (_, index) => commands.map((bindCommand) =>
      new ClientBind({
        operator,
        index,
        bindCommand,
        log,
        metrics,
        onRequest: (session, pdu, bindId) => {
          // Client mode: the SMSC sends subscriber messages and receipts as deliver_sm.
          if (pdu.command === 'deliver_sm') handler.handle(session, pdu, bindId);
          else session.respond(pdu, CommandStatus.ESME_RINVCMDID);
        },
      }),
    )).flat();
    operatorBinds.forEach((b) => b.start());
    binds.push(...operatorBinds);
    links.set(operator.id, clientLink(operatorBinds));
  }

  const submitter = new OutboundSubmitter({ operators, links, js: nats.js, correlations, publishTimeoutMs: config.nats.publishTimeoutMs, log, metrics });
  const consumer = await startConsumer({
    nats,
    spec: effectiveConsumer(GATEWAY_SMS_OUTBOUND, config.consumers),
    event: Events.smsOutbound,
    handler: (message) => submitter.handle(message),
    log,
    metrics: context.consumerMetrics,
    inFlightMax: config.consumers.inFlightMax,
    retryDelaysMs: config.consumers.retryDelaysMs,
    publishTimeoutMs: config.nats.publishTimeoutMs,
  });

  return {
    readiness: [],
    stop: async (timeoutMs: number) => {
      // Stop taking outbound work and finish what is in flight (it needs the binds), answer
      // held message parts with a temporary error while the links are still up, then unbind.
      await consumer.stop(timeoutMs);
      inbound.forEach((h) => h.close());
      await Promise.all([...binds.map((b) => b.stop()), ...listeners.map((l) => l.stop())]);
    },
  };
}
