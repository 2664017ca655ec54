// The USSD edge's shell with a real nats-server (a responder plays the ussd
// service) and a stand-in SMPP session: what it answers at once, what it
// forwards, and the END it sends when nobody answers.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../../../runtime/engines/index.js';
import { validateConfig } from '../../../cli/config.js';
import { createRegistry } from '../../../runtime/metrics.js';
import { Requests } from '../../../runtime/nats/index.js';
import { dialpay } from '../../../proto/index.js';
import { SmppMetrics } from '../../../gateway/smpp/metrics.js';
import { UssdEdge } from '../../../gateway/ussd/smpp-edge.js';
import { encodeGsm, decodeGsm } from '../../../gateway/smpp/codec/gsm7.js';
import type { Pdu } from '../../../gateway/smpp/codec/pdu.js';
import type { SmppSession } from '../../../gateway/smpp/session.js';
import { exampleConfigRaw, quietLogger } from '../../support/stack.js';

type Reply = { text: string; end: boolean } | 'stall' | 'fail';

let server: NatsServerHandle;
let nc: NatsConnection;
const responders: Subscription[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
}, 30_000);

afterEach(() => {
  for (const r of responders.splice(0)) r.unsubscribe();
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

function setup(answer: (req: dialpay.v1.IUssdHopRequest) => Reply, hopsInFlightMax = 10) {
  const raw = exampleConfigRaw() as { operators: Record<string, unknown>[] };
  (raw.operators[0] as Record<string, unknown>).ussd = { serviceCodes: ['*384#'], operatorTimeoutMs: 1_000 };
  const operator = validateConfig(raw).operators[0] as NonNullable<ReturnType<typeof validateConfig>['operators'][number]>;
  const requests: dialpay.v1.IUssdHopRequest[] = [];
  // The ussd service's stand-in on the real subject; 'fail' is nobody listening (no responders).
  for (const r of responders.splice(0)) r.unsubscribe();
  if (answer({}) !== 'fail') {
    responders.push(nc.subscribe(Requests.ussdHop.subject, {
      callback: (_err, msg) => {
        const req = Requests.ussdHop.request.decode(msg.data);
        requests.push(req);
        const reply = answer(req);
        if (reply === 'stall' || reply === 'fail') return;
        msg.respond(Requests.ussdHop.reply.encode(reply).finish());
      },
    }));
  }
  const responses: { sequence: number; status: number }[] = [];
  const session = {
    respond: (pdu: Pdu, status: number) => responses.push({ sequence: pdu.sequence_number, status }),
  } as unknown as SmppSession;
  const sent: Record<string, unknown>[] = [];
  const metrics = new SmppMetrics(createRegistry('gateway'));
  const edge = new UssdEdge({
    operator, ussd: operator.ussd as NonNullable<typeof operator.ussd>, nc, log: quietLogger(), metrics, hopsInFlightMax,
    send: async (_s, _b, fields) => {
      sent.push(fields);
      return { command: 'submit_sm_resp', command_id: 0x80000004, command_status: 0, sequence_number: 1, command_length: 16 };
    },
  });
  return { edge, session, requests, responses, sent, metrics };
}

let seq = 0;
function pdu(serviceOp: number, text: string, extra: Record<string, unknown> = {}): Pdu {
  return {
    command: 'deliver_sm', command_id: 5, command_status: 0, sequence_number: ++seq, command_length: 0,
    source_addr: '0711000001', source_addr_ton: 0, destination_addr: '384', data_coding: 0, short_message: encodeGsm(text),
    ussd_service_op: serviceOp, its_session_info: Buffer.from([4, 0]), ...extra,
  };
}

const settle = (ms = 20) => new Promise((r) => setTimeout(r, ms));

describe('UssdEdge', () => {
  it('answers the PDU at once, forwards a dial as an empty input, and sends the screen', async () => {
    const t = setup(() => ({ text: 'Menu', end: false }));
    const dial = pdu(1, '*384#');
    t.edge.handle(t.session, dial, 'b');
    expect(t.responses).toEqual([{ sequence: dial.sequence_number, status: 0 }]); // before any hop
    await t.edge.drain(2_000); // the hop and its screen are done (a fixed pause was flaky on a loaded machine)
    expect(t.requests[0]).toMatchObject({ sessionId: 'smpp:safaricom-ke:254711000001:4', operatorId: 'safaricom-ke', msisdn: '254711000001', serviceCode: '*384#', text: '', inputOnly: true, begins: true });
    expect(t.sent[0]).toMatchObject({ ussd_service_op: 2, source_addr: '384', destination_addr: '0711000001', data_coding: 0 });
    expect(decodeGsm(t.sent[0]?.short_message as Buffer)).toBe('Menu');
  });

  it('forwards an answer with the home service code', async () => {
    const t = setup((req) => ({ text: `Bye ${req.text}`, end: true }));
    t.edge.handle(t.session, pdu(18, '2', { its_session_info: Buffer.from([4, 2 << 1]) }), 'b'); // sequence 2
    await t.edge.drain(2_000); // the hop and its screen are done (a fixed pause was flaky on a loaded machine)
    expect(t.requests[0]).toMatchObject({ serviceCode: '*384#', text: '2', inputOnly: true, begins: false });
    expect(t.sent[0]?.ussd_service_op).toBe(17);
    expect([...(t.sent[0]?.its_session_info as Buffer)]).toEqual([4, (3 << 1) | 1]);
  });

  it('ends the dialogue itself when the ussd service fails or stalls', async () => {
    for (const mode of ['fail', 'stall'] as const) {
      const t = setup(() => mode);
      const started = Date.now();
      t.edge.handle(t.session, pdu(1, '*384#'), 'b');
      await t.edge.drain(2_000);
      expect(Date.now() - started).toBeLessThan(1_000); // operatorTimeoutMs 1000: the hop gets 500 ms
      expect(t.sent[0]?.ussd_service_op).toBe(17);
      expect(decodeGsm(t.sent[0]?.short_message as Buffer)).toBe('Service unavailable, please try again later.');
      expect((await t.metrics.ussdHops.get()).values.find((v) => v.labels.outcome === 'unavailable')?.value).toBe(1);
    }
  });

  it('throttles past its in-flight bound, and takes hops again once they finish', async () => {
    const t = setup(() => 'stall', 2);
    for (let i = 0; i < 3; i++) t.edge.handle(t.session, pdu(1, '*384#', { its_session_info: Buffer.from([i, 0]) }), 'b');
    expect(t.responses.map((r) => r.status)).toEqual([0, 0, 0x58]);
    expect(t.edge.inFlight).toBe(2);
    await t.edge.drain(2_000);
    t.edge.handle(t.session, pdu(1, '*384#'), 'b');
    expect(t.responses.at(-1)?.status).toBe(0);
    await t.edge.drain(2_000);
  });

  it('acknowledges what it does not handle and forwards nothing', async () => {
    const t = setup(() => ({ text: 'x', end: true }));
    for (const op of [0, 3, 16, 19]) t.edge.handle(t.session, pdu(op, ''), 'b');
    await settle();
    expect(t.responses.map((r) => r.status)).toEqual([0, 0, 0, 0]);
    expect(t.requests).toEqual([]);
    expect(t.sent).toEqual([]);
  });

  it('acknowledges a release by the network and tells the ussd service, with no screen back', async () => {
    const t = setup(() => ({ text: '', end: true }));
    t.edge.handle(t.session, pdu(18, '1', { its_session_info: Buffer.from([4, 3]) }), 'b'); // end bit: released by the network
    await t.edge.drain(2_000);
    expect(t.responses.map((r) => r.status)).toEqual([0]);
    expect(t.requests).toHaveLength(1);
    expect(t.requests[0]).toMatchObject({ sessionId: 'smpp:safaricom-ke:254711000001:4', msisdn: '254711000001', released: true });
    expect(t.sent).toEqual([]);
    expect((await t.metrics.ussdHops.get()).values.find((v) => v.labels.outcome === 'released')?.value).toBe(1);
  });

  it('refuses what it cannot route', async () => {
    const t = setup(() => ({ text: 'x', end: true }));
    t.edge.handle(t.session, pdu(1, '*384#', { its_session_info: undefined }), 'b');
    t.edge.handle(t.session, pdu(1, '*384#', { its_session_info: Buffer.from([1, 2, 3]) }), 'b');
    t.edge.handle(t.session, pdu(1, '*999#'), 'b');
    t.edge.handle(t.session, pdu(1, '*384#', { source_addr: 'abc' }), 'b');
    t.edge.close();
    t.edge.handle(t.session, pdu(1, '*384#'), 'b');
    expect(t.responses.map((r) => r.status)).toEqual([0xc3, 0xc4, 0x0b, 0x0a, 0x64]);
    await settle();
    expect(t.requests).toEqual([]);
  });
});
