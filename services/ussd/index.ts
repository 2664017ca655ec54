// ussd: the *384# menus. Hops arrive by request/reply from the gateway's USSD
// edges (HTTP and SMPP); sessions live in NATS KV, so it owns no tables.
// Payments keeps every money rule; this service only draws the screens.
import { Kvm } from '@nats-io/kv';
import type { ComponentDefinition, ComponentContext, StartedComponent } from '../../runtime/component.js';
import { Requests, serveRequests } from '../../runtime/nats/index.js';
import { SessionStore } from './sessions.js';
import { UssdMetrics, UssdService } from './service.js';
import { text } from './texts.js';
import { sealKeyFrom } from './seal.js';

async function startUssd(context: ComponentContext): Promise<StartedComponent> {
  const { config, nats, log } = context;
  const sessions = new SessionStore(await new Kvm(nats.js).open('ussd_sessions'));
  const seal = sealKeyFrom(config.ussd.sessionSealKey);
  // One process can make its own key; replicas share one, or a dialogue moving between them is asked to start again.
  if (seal.generated) {
    log.info('ussd.sessionSealKey not set: PINs a dialogue still needs are sealed with a key made for this process'
      + ' (set one shared key when running several ussd replicas)');
  }
  const service = new UssdService({ config, sessions, nc: nats.nc, log, metrics: new UssdMetrics(context.registry), sealKey: seal.key });
  const hops = serveRequests(nats.nc, Requests.ussdHop, {
    queue: 'ussd', inFlightMax: config.ussd.hopsInFlightMax, log,
    unavailable: () => ({ text: text('unavailable', 'en'), end: true }),
    handle: (request) => service.hop(request),
  });
  return { readiness: [], stop: () => hops.drain() };
}

export const ussd: ComponentDefinition = {
  name: 'ussd',
  schema: null,
  migrationsDir: null,
  consumers: [],
  start: (context) => startUssd(context),
};
