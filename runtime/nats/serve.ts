// Answers one request/reply contract on core NATS in a queue group, so any
// replica answers each request once. Bounded: past inFlightMax a request gets
// the overload reply at once instead of queueing behind slow ones.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../log.js';
import type { RequestDef } from './events.js';

export interface ResponderOptions<Q, R> {
  queue: string;
  inFlightMax: number;
  /** The answer when the request cannot be decoded, the handler throws, or too many are in flight. */
  unavailable: () => R;
  handle: (request: Q) => Promise<R>;
  log: Logger;
}

export interface Responder {
  /** Stops taking requests and waits for the ones in flight. */
  drain(): Promise<void>;
}

export function serveRequests<Q, R>(nc: NatsConnection, def: RequestDef<Q, R>, options: ResponderOptions<Q, R>): Responder {
  let inFlight = 0;
  const respond = (msg: { respond(data: Uint8Array): boolean }, reply: R) => {
    msg.respond(def.reply.encode(reply).finish());
  };
  const subscription: Subscription = nc.subscribe(def.subject, {
    queue: options.queue,
    callback: (err, msg) => {
      if (err) return options.log.warn({ err, subject: def.subject }, 'request subscription error');
      if (inFlight >= options.inFlightMax) return respond(msg, options.unavailable());
      let request: Q;
      try {
        request = def.request.decode(msg.data);
      } catch (e) {
        options.log.warn({ err: e, subject: def.subject }, 'undecodable request');
        return respond(msg, options.unavailable());
      }
      inFlight++;
      options
        .handle(request)
        .catch((e: unknown) => {
          options.log.warn({ err: e, subject: def.subject }, 'request failed');
          return options.unavailable();
        })
        .then((reply) => respond(msg, reply))
        // Encoding the reply or sending it on a closed connection throws: the requester times out.
        .catch((e: unknown) => options.log.warn({ err: e, subject: def.subject }, 'reply failed'))
        .finally(() => inFlight--);
    },
  });
  return { drain: () => subscription.drain() };
}
