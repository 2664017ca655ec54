// SmppSession on a real socket pair: a response written after the session
// has begun to close is dropped quietly (the SMSC re-sends what it did not
// get an answer to), instead of a "write after end" error in the log.
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { expect, it } from 'vitest';
import { createLogger } from '../../../runtime/log.js';
import { createRegistry } from '../../../runtime/metrics.js';
import { SmppMetrics } from '../../../gateway/smpp/metrics.js';
import { SmppSession } from '../../../gateway/smpp/session.js';
import type { Pdu } from '../../../gateway/smpp/codec/pdu.js';

it('drops a response written after close() began, with nothing in the log', async () => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const peer = connect((server.address() as { port: number }).port, '127.0.0.1');
  const [socket] = await accepted;
  const lines: string[] = [];
  const session = new SmppSession({
    socket, label: 'test', operatorId: 'op', pduBytesMax: 4_096, windowSize: 10, windowWaitersMax: 10, responseTimeoutMs: 1_000,
    log: createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } }), metrics: new SmppMetrics(createRegistry('gateway')),
    onRequest: () => undefined, onClose: () => undefined,
  });
  const received: Buffer[] = [];
  peer.on('data', (d: Buffer) => received.push(d));
  const request = { command: 'deliver_sm', command_id: 5, command_status: 0, sequence_number: 7, command_length: 0 } as Pdu;
  session.respond(request, 0);
  await new Promise((r) => setTimeout(r, 50));
  expect(Buffer.concat(received).readUInt32BE(4)).toBe(0x80000005); // the deliver_sm_resp arrived
  session.close();
  session.respond({ ...request, sequence_number: 8 }, 0);
  await new Promise((r) => setTimeout(r, 50));
  expect(lines.filter((l) => /write after end|smpp socket error/.test(l))).toEqual([]);
  expect(Buffer.concat(received).length).toBe(17); // one resp of 17 bytes (header + empty message_id), not two
  // A request while closing fails at once rather than waiting out its response timeout.
  await expect(session.request('enquire_link', {}, 60_000)).rejects.toMatchObject({ name: 'SessionClosedError' });
  peer.destroy();
  server.close();
});
