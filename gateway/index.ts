// gateway: wire protocols only: SMPP links (SMS, and USSD where an operator
// carries it there), the USSD HTTP edge and the merchant API. It turns
// traffic into protobuf messages on NATS and back; it holds no business rules
// and never opens a Postgres connection (schema: null).
import type { ComponentContext, ComponentDefinition, StartedComponent } from '../runtime/component.js';
import { startSmppEdge } from './smpp/edge.js';
import { UssdHttpEdge } from './ussd/http-edge.js';
import { MerchantApi } from './merchant-api/server.js';
import { GatewayPresence } from './presence.js';
import { GATEWAY_CONSUMERS } from './consumers.js';

/** The header a USSD aggregator's HTTP callback carries our shared secret in: part of that edge's wire contract. */
export { SECRET_HEADER as USSD_SECRET_HEADER } from './ussd/http-auth.js';
/** Customer care's `dialpay payment show`: a payment's SMS as the SMS_SENT stream recorded them. */
export { sentSmsOf, SENT_SEARCH_BATCHES_MAX, type SentSearch, type SentSms } from './smpp/sent-search.js';

async function startGateway(context: ComponentContext): Promise<StartedComponent> {
  // What must hold across replicas (operators' submit rates, merchant keys' rate limits) is
  // shared out over the replicas alive; it hears the others before anything is sent or served.
  const presence = new GatewayPresence({ nc: context.nats.nc, log: context.log });
  await presence.start();
  const smpp = await startSmppEdge(context, () => presence.replicas());
  let ussdHttp: UssdHttpEdge | null = null;
  if (context.config.ussd.http.port !== undefined) {
    ussdHttp = new UssdHttpEdge({ config: context.config, nc: context.nats.nc, log: context.log, registry: context.registry });
    await ussdHttp.listen();
  }
  let merchantApi: MerchantApi | null = null;
  if (context.config.merchantApi.port !== undefined) {
    merchantApi = new MerchantApi({
      config: context.config, nc: context.nats.nc, log: context.log, registry: context.registry, replicas: () => presence.replicas(),
    });
    const port = await merchantApi.listen();
    context.log.info({ port }, 'merchant API listening');
  }
  return {
    readiness: smpp.readiness,
    // API keys only: a removed key stops working and a new one works without a restart.
    reloadConfig: (config) => merchantApi?.reloadKeys(config.merchants, config.operators),
    stop: async (timeoutMs) => {
      await merchantApi?.close();
      await ussdHttp?.close();
      await smpp.stop(timeoutMs);
      await presence.stop();
    },
  };
}

export const gateway: ComponentDefinition = {
  name: 'gateway',
  schema: null,
  migrationsDir: null,
  consumers: GATEWAY_CONSUMERS,
  start: (context) => startGateway(context),
};
