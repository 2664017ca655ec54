// What a group of routes needs from the API: one call to payments on the caller's behalf, and the
// problem answer. Route modules (payment-routes.ts, ...) register on the fastify instance with it.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { unixMsToProto, type dialpay } from '../../proto/index.js';
import type { Config } from '../../runtime/config/index.js';
import type { Problem } from './problem.js';

export type Answer<R> = { reply: R } | { problem: Problem };

export interface RouteContext {
  readonly config: Config;
  readonly nc: NatsConnection;
  /** One call to payments for the request's merchant; its error codes become problems. */
  ask(
    request: FastifyRequest, command: Omit<dialpay.v1.IMerchantCommandRequest, 'merchantId'>,
  ): Promise<Answer<dialpay.v1.IMerchantCommandReply>>;
  /** One call to payments for the request's operator; the same error codes. */
  askOperator(
    request: FastifyRequest, command: Omit<dialpay.v1.IOperatorCommandRequest, 'operatorId'>,
  ): Promise<Answer<dialpay.v1.IOperatorCommandReply>>;
  send(reply: FastifyReply, p: Problem): FastifyReply;
}

/** The request's Idempotency-Key, checked at the door for every POST. */
export const idempotencyKeyOf = (request: FastifyRequest): string => String(request.headers['idempotency-key']);

/** A list query's time bounds as unix ms (0: unbounded); the schema has checked they are dates. */
export function listBounds(
  q: { from?: string; to?: string },
): { fromUnixMs: ReturnType<typeof unixMsToProto>; toUnixMs: ReturnType<typeof unixMsToProto> } {
  const unixMs = (iso: string | undefined) => unixMsToProto(iso ? Date.parse(iso) : 0);
  return { fromUnixMs: unixMs(q.from), toUnixMs: unixMs(q.to) };
}
