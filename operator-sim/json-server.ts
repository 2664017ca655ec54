// The simulated CAMARA APIs' HTTP servers (charging, SIM swap): listening, a JSON 500 for a handler that
// throws, and closing with the connections a client keeps alive.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export async function listenJson(
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>, host = '127.0.0.1', port = 0,
): Promise<Server> {
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: 500, code: 'INTERNAL', message: 'Server error.' }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, () => resolve()));
  return server;
}

export async function closeServer(server: Server | null): Promise<void> {
  if (!server) return;
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
