// /metrics, /healthz and /readyz for one component, on node:http: three
// read-only routes do not need a framework.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from './log.js';

export interface ReadinessCheck {
  readonly name: string;
  /** Resolves to null when ready, or a short reason when not. */
  check(): Promise<string | null> | string | null;
}

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

const CHECK_TIMEOUT_MS = 2_000;

export async function startOpsServer(options: {
  host: string;
  port: number;
  registry: Registry;
  readiness: readonly ReadinessCheck[];
  log: Logger;
}): Promise<OpsServer> {
  const { registry, readiness, log } = options;
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url === '/metrics') {
      registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
        (err: unknown) => {
          log.error({ err }, 'metrics collection failed');
          res.writeHead(500).end();
        },
      );
    } else if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (url === '/readyz') {
      runChecks(readiness).then((failures) => {
        if (failures.length === 0) res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
        else res.writeHead(503, { 'content-type': 'text/plain' }).end(`not ready: ${failures.join('; ')}\n`);
      }).catch((err: unknown) => {
        // runChecks never rejects: only writing the answer can throw (the response was already sent or destroyed).
        log.error({ err }, 'readiness response failed');
      });
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function runChecks(checks: readonly ReadinessCheck[]): Promise<string[]> {
  const results = await Promise.all(
    checks.map(async (c) => {
      try {
        const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('check timed out'), CHECK_TIMEOUT_MS).unref());
        const reason = await Promise.race([Promise.resolve(c.check()), timeout]);
        return reason === null ? null : `${c.name}: ${reason}`;
      } catch (err) {
        return `${c.name}: ${(err as Error).message}`;
      }
    }),
  );
  return results.filter((r): r is string => r !== null);
}
