// What in an exchange with a SIM Swap API breaks the official definition (SIM Swap 2.1.0, vendored in
// test/contracts/camara/sim-swap.yaml), checked with ajv after @apidevtools/swagger-parser dereferenced
// it: the path under the definition's `servers` path, the request body against its schema, a
// well-formed x-correlator echoed, a status the operation lists, and the response body against its
// schema. Used for dialpay's own client (billing's check: every request it sends must conform) and
// for the simulator (test/integration/sim-swap-contract.test.ts), whose 400 scenarios send requests
// made invalid on purpose: those must NOT conform.
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { SIM_SWAP_ADMIN_PATH, TOKEN_PATH, type Exchange } from '../../operator-sim/index.js';
import { ROOT } from './stack.js';

const DEFINITION = join(ROOT, 'test', 'contracts', 'camara', 'sim-swap.yaml');

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
addFormats.default(ajv);

function errorsOf(schema: object, value: unknown): string[] {
  const v = ajv.compile(schema);
  return v(value) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
}

export type SimSwapDefinition = Record<string, any>;

export async function loadSimSwapDefinition(): Promise<SimSwapDefinition> {
  return (await SwaggerParser.dereference(DEFINITION)) as SimSwapDefinition;
}

export interface ViolationOptions {
  /** A request made invalid on purpose (a 400 scenario): its body must break the schema, and that is no violation. */
  readonly invalidOnPurpose?: (x: Exchange) => boolean;
}

/** The violations of one exchange; token requests (OAuth2) and the simulator's own admin calls are not the definition's. */
export function simSwapViolations(doc: SimSwapDefinition, x: Exchange, options: ViolationOptions = {}): string[] {
  if (x.path === TOKEN_PATH || x.path === SIM_SWAP_ADMIN_PATH) return [];
  const serverPath = new URL(String(doc.servers[0].url).replace('{apiRoot}', 'http://h')).pathname;
  if (!x.path.startsWith(`${serverPath}/`)) return [`${x.method} ${x.path}: not under the definition's server path ${serverPath}`];
  const op = doc.paths[x.path.slice(serverPath.length)]?.[x.method.toLowerCase()];
  if (!op) return [`${x.method} ${x.path}: no such operation in the definition`];
  const where = `${op.operationId} ${x.status}`;
  const out: string[] = [];
  const xc = x.requestHeaders['x-correlator'];
  if (typeof xc !== 'string' || errorsOf(doc.components.schemas.XCorrelator, xc).length) out.push(`${where}: request x-correlator malformed`);
  if (x.responseHeaders['x-correlator'] !== xc) out.push(`${where}: response x-correlator is not the request's`);
  out.push(...requestViolations(op.requestBody.content['application/json'].schema, x, where, options.invalidOnPurpose?.(x) ?? false));
  const response = op.responses[String(x.status)];
  if (!response) return [...out, `${where}: status ${x.status} is not a documented response of ${op.operationId}`];
  if (x.responseHeaders['content-type'] !== 'application/json') out.push(`${where}: response content-type ${x.responseHeaders['content-type']}`);
  out.push(...errorsOf(response.content['application/json'].schema, JSON.parse(x.responseText)).map((e) => `${where} response: ${e}`));
  return out;
}

function requestViolations(schema: object, x: Exchange, where: string, invalidOnPurpose: boolean): string[] {
  let errors: string[];
  try {
    errors = errorsOf(schema, JSON.parse(x.requestText));
  } catch {
    errors = ['not JSON'];
  }
  if (invalidOnPurpose) return errors.length ? [] : [`${where}: a request meant to be invalid conforms`];
  return errors.map((e) => `${where} request: ${e}`);
}
