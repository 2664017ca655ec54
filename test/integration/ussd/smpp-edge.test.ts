// USSD over SMPP against the real gateway, real NATS and the simulated SMSC
// (client mode, its_session_info) and a raw peer (server mode,
// user_message_reference): a phone dials, gets a menu, answers, gets the last
// screen; a ussd service that stalls or is gone still gives the phone an END
// in time; USSD never becomes an SMS event, and SMS on the same link still flows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, serveRequests, Requests, Events, type NatsHandle, type Responder } from '../../../runtime/nats/index.js';
import { validateConfig } from '../../../cli/config.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { dialpay } from '../../../proto/index.js';
import { gateway } from '../../../gateway/index.js';
import { decodeGsm, encodeGsm } from '../../../gateway/smpp/codec/index.js';
import { SmscSimulator } from '../../../operator-sim/index.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';
import { RawPeer } from '../../support/smpp-peer.js';
import { Capture } from '../../support/tshark.js';

const log = quietLogger();
const OPERATOR_TIMEOUT_MS = 2_000;
const SERVER_OPERATOR_TIMEOUT_MS = 1_500;
/** The responder never answers hops from these subscribers. */
const STALLING = new Set(['254711000199', '221770000199']);

let stack: Stack;
let sim: SmscSimulator;
let host: Host;
let nats: NatsHandle;
let responder: Responder;
let responderDrained = false;
let serverPort: number;
const requests: dialpay.v1.IUssdHopRequest[] = [];
const stalled: (() => void)[] = [];

const inboundCount = async () => (await nats.jsm.streams.info('SMS_INBOUND')).state.messages;
const metrics = async () => (await fetch(`http://127.0.0.1:${host.opsPorts.gateway}/metrics`)).text();
const hopsTotal = (text: string, operator: string, outcome: string) =>
  Number(new RegExp(`dialpay_smpp_ussd_hops_total\\{[^}]*operator="${operator}"[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0);
const requestsOf = (msisdn: string) => requests.filter((r) => r.msisdn === msisdn);

beforeAll(async () => {
  stack = await setupStack();
  sim = new SmscSimulator({ systemId: 'dialpay', password: 'secret1', messageIdFormat: 'hex', receiptDelayMs: 20 });
  const port = await sim.start();
  const raw = structuredClone(stack.rawConfig) as any;
  Object.assign(raw.operators[0].smpp,
    { port, bindCount: 1, reconnectDelayMsMin: 100, reconnectDelayMsMax: 500, throughputPerSecondMax: 1_000 });
  raw.operators[0].ussd = { serviceCodes: ['*384#'], operatorTimeoutMs: OPERATOR_TIMEOUT_MS, smppSessionInfo: 'its_session_info' };
  raw.operators[1].ussd = { serviceCodes: ['*384#', '*100#'], operatorTimeoutMs: SERVER_OPERATOR_TIMEOUT_MS, smppSessionInfo: 'user_message_reference' };
  serverPort = raw.operators[1].smpp.port;
  host = await startHost(validateConfig(raw), [gateway], { log });
  nats = await connectNats({ ...stack.config.nats, name: 'test' }, log);
  // A stand-in for the ussd service: CON "Menu" on a new dialogue, END "Bye <answer>" after.
  responder = serveRequests(nats.nc, Requests.ussdHop, {
    queue: 'ussd',
    inFlightMax: 100,
    log,
    unavailable: () => ({ text: 'busy', end: true }),
    handle: async (req) => {
      requests.push(req);
      if (STALLING.has(req.msisdn ?? '')) await new Promise<void>((resolve) => stalled.push(resolve));
      return req.text === '' ? { text: 'Menu', end: false } : { text: `Bye ${req.text}`, end: true };
    },
  });
  await nats.nc.flush();
  await waitFor('gateway bound to the SMSC', async () => sim.boundSessions === 1);
});
afterAll(async () => {
  stalled.forEach((release) => release());
  if (responder && !responderDrained) await responder.drain();
  await host?.stop();
  await nats?.close();
  await sim?.stop();
  await stack?.cleanup();
});

describe('client mode, its_session_info', () => {
  it('dials, shows the menu, takes the answer and ends, without an SMS event', async () => {
    const inboundBefore = await inboundCount();
    const submittedBefore = sim.submitted.length;
    const msisdn = '254711000101';
    const dialledAt = Date.now();
    const dial = await sim.ussdDial(msisdn, '*384#');
    expect(dial.status).toBe(0);
    const menu = await sim.nextUssdScreen(msisdn, dial.sessionNumber);
    expect(menu).toMatchObject({ text: 'Menu', end: false, serviceOp: 2, sessionNumber: dial.sessionNumber, source: '384', dataCoding: 0, itsSessionInfo: { sequenceNumber: 1, endBit: false } });

    expect(await sim.ussdAnswer(msisdn, dial.sessionNumber, '1')).toBe(0);
    const bye = await sim.nextUssdScreen(msisdn, dial.sessionNumber);
    expect(bye).toMatchObject({ text: 'Bye 1', end: true, serviceOp: 17, sessionNumber: dial.sessionNumber, itsSessionInfo: { sequenceNumber: 3, endBit: true } });

    const sessionId = `smpp:safaricom-ke:${msisdn}:${dial.sessionNumber}`;
    const [first, second] = requestsOf(msisdn);
    expect(first).toMatchObject({ sessionId, operatorId: 'safaricom-ke', msisdn, serviceCode: '*384#', text: '', inputOnly: true, begins: true });
    expect(second).toMatchObject({ sessionId, operatorId: 'safaricom-ke', msisdn, serviceCode: '*384#', text: '1', inputOnly: true, begins: false });
    // The hop's deadline is the operator's timeout less the margin.
    const deadline = Number(first?.deadlineUnixMs?.toString());
    expect(deadline).toBeGreaterThanOrEqual(dialledAt + OPERATOR_TIMEOUT_MS - 1_000);
    expect(deadline).toBeLessThan(dialledAt + OPERATOR_TIMEOUT_MS);

    // USSD is not SMS: nothing in SMS_INBOUND, nothing among the SMS a phone received.
    expect(await inboundCount()).toBe(inboundBefore);
    expect(sim.submitted.slice(submittedBefore).map((m) => m.text)).toEqual([]);
  });

  it('passes a shortcut dial as the service code, and refuses a code that is not ours', async () => {
    const dial = await sim.ussdDial('254711000102', '*384*2*1#');
    expect(await sim.nextUssdScreen('254711000102', dial.sessionNumber)).toMatchObject({ text: 'Menu' });
    expect(requestsOf('254711000102')[0]).toMatchObject({ serviceCode: '*384*2*1#', text: '' });
    expect((await sim.ussdDial('254711000103', '*999#')).status).toBe(0x0b); // ESME_RINVDSTADR
    expect(requestsOf('254711000103')).toEqual([]);
  });

  it('acknowledges a dialogue the network released, tells the ussd service, and sends no screen', async () => {
    const msisdn = '254711000104';
    const dial = await sim.ussdDial(msisdn, '*384#');
    await sim.nextUssdScreen(msisdn, dial.sessionNumber);
    const screensBefore = sim.counters.ussdScreens;
    expect(await sim.ussdAbort(msisdn, dial.sessionNumber)).toBe(0);
    await waitFor('the release forwarded', async () => requestsOf(msisdn).length === 2);
    expect(requestsOf(msisdn)[1]).toMatchObject({ sessionId: requestsOf(msisdn)[0]?.sessionId, released: true });
    await new Promise((r) => setTimeout(r, 300));
    expect(sim.counters.ussdScreens).toBe(screensBefore);
  });

  it('ends a hop the ussd service never answers with "Service unavailable", within the operator timeout', async () => {
    const msisdn = '254711000199';
    const before = hopsTotal(await metrics(), 'safaricom-ke', 'unavailable');
    const dialledAt = Date.now();
    const dial = await sim.ussdDial(msisdn, '*384#');
    expect(dial.status).toBe(0); // answered at once, not after the hop
    const screen = await sim.nextUssdScreen(msisdn, dial.sessionNumber, OPERATOR_TIMEOUT_MS);
    expect(Date.now() - dialledAt).toBeLessThan(OPERATOR_TIMEOUT_MS);
    expect(screen).toMatchObject({ text: 'Service unavailable, please try again later.', end: true, serviceOp: 17, itsSessionInfo: { sequenceNumber: 1, endBit: true } });
    expect(requestsOf(msisdn)).toHaveLength(1);
    await waitFor('unavailable counted', async () => hopsTotal(await metrics(), 'safaricom-ke', 'unavailable') === before + 1);
  });

  it('sends screens that Wireshark decodes: ussd_service_op and its_session_info in place', async () => {
    const msisdn = '254711000107';
    const capture = await Capture.start([sim.port]);
    let sessionNumber: number;
    try {
      sessionNumber = (await sim.ussdDial(msisdn, '*384#')).sessionNumber;
      await sim.nextUssdScreen(msisdn, sessionNumber);
      await sim.ussdAnswer(msisdn, sessionNumber, '2');
      await sim.nextUssdScreen(msisdn, sessionNumber);
    } finally {
      await capture.stop();
    }
    const rows = await capture.fields('smpp.command_id == 0x00000004 && smpp.ussd_service_op', ['smpp.ussd_service_op', 'smpp.its_session.number', 'smpp.its_session.sequence', 'smpp.its_session.ind']);
    // Wireshark prints some of these in hex ("0x03"): compare as numbers.
    expect(rows.map((r) => r.map(Number))).toEqual([[2, sessionNumber, 1, 0], [17, sessionNumber, 3, 1]]);
    expect(await capture.problems()).toEqual([]);
  });

  it('still carries SMS on the same link, into SMS_INBOUND', async () => {
    const before = await inboundCount();
    expect(await sim.sendFromPhone('254711000105', '384', 'BAL next to USSD')).toEqual([0]);
    expect(await inboundCount()).toBe(before + 1);
    const event = (await readEvents(nats, 'SMS_INBOUND', Events.smsInbound)).find((e) => e.text === 'BAL next to USSD');
    expect(event).toMatchObject({ operatorId: 'safaricom-ke', fromMsisdn: '254711000105', toAddress: '384' });
  });

  it('exports hop outcomes and latency', async () => {
    const text = await metrics();
    expect(hopsTotal(text, 'safaricom-ke', 'continue')).toBeGreaterThanOrEqual(3);
    expect(hopsTotal(text, 'safaricom-ke', 'end')).toBeGreaterThanOrEqual(1);
    expect(hopsTotal(text, 'safaricom-ke', 'rejected')).toBeGreaterThanOrEqual(1);
    expect(hopsTotal(text, 'safaricom-ke', 'released')).toBeGreaterThanOrEqual(1);
    expect(Number(/dialpay_smpp_ussd_hop_seconds_count\{[^}]*operator="safaricom-ke"[^}]*\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(5);
  });
});

describe('server mode, user_message_reference', () => {
  let seq = 900;
  async function boundPeer(): Promise<RawPeer> {
    const peer = await RawPeer.connect(serverPort);
    expect((await peer.request('bind_transceiver', { system_id: 'orangesn', password: 'secret2', interface_version: 0x34 }, ++seq)).command_status).toBe(0);
    return peer;
  }
  const ussdSubmit = (msisdn: string, text: string, op: number, reference: number) => ({
    service_type: 'USSD', source_addr: msisdn, source_addr_ton: 1, source_addr_npi: 1, destination_addr: '384',
    data_coding: 0, short_message: encodeGsm(text), ussd_service_op: op, user_message_reference: reference,
  });

  it("answers the peer's submit_sm at once and sends each screen back as deliver_sm", async () => {
    const inboundBefore = await inboundCount();
    const peer = await boundPeer();
    const msisdn = '221770000101';
    expect((await peer.request('submit_sm', ussdSubmit(msisdn, '*384#', 1, 4242), ++seq)).command_status).toBe(0);
    const menu = await peer.expect('deliver_sm');
    expect(menu).toMatchObject({ source_addr: '384', destination_addr: msisdn, ussd_service_op: 2, user_message_reference: 4242, data_coding: 0 });
    expect(decodeGsm(menu.short_message as Buffer)).toBe('Menu');
    peer.send('deliver_sm_resp', { sequence_number: menu.sequence_number });

    expect((await peer.request('submit_sm', ussdSubmit(msisdn, '3', 18, 4242), ++seq)).command_status).toBe(0);
    const bye = await peer.expect('deliver_sm');
    expect(bye).toMatchObject({ ussd_service_op: 17, user_message_reference: 4242 });
    expect(decodeGsm(bye.short_message as Buffer)).toBe('Bye 3');
    peer.send('deliver_sm_resp', { sequence_number: bye.sequence_number });

    expect(requestsOf(msisdn).map((r) => [r.sessionId, r.serviceCode, r.text, r.inputOnly, r.begins])).toEqual([
      [`smpp:orange-sn:${msisdn}:4242`, '*384#', '', true, true],
      [`smpp:orange-sn:${msisdn}:4242`, '*384#', '3', true, false],
    ]);
    expect(await inboundCount()).toBe(inboundBefore);
    peer.close();
  });

  it('refuses a USSD PDU without the reference its dialect needs', async () => {
    const peer = await boundPeer();
    const { user_message_reference: _none, ...fields } = ussdSubmit('221770000102', '*384#', 1, 0);
    expect((await peer.request('submit_sm', fields, ++seq)).command_status).toBe(0xc3); // ESME_RMISSINGOPTPARAM
    peer.close();
  });

  it('says the service is unavailable in French when the hop stalls', async () => {
    const peer = await boundPeer();
    const sentAt = Date.now();
    expect((await peer.request('submit_sm', ussdSubmit('221770000199', '*384#', 1, 7), ++seq)).command_status).toBe(0);
    const end = await peer.expect('deliver_sm', SERVER_OPERATOR_TIMEOUT_MS);
    expect(Date.now() - sentAt).toBeLessThan(SERVER_OPERATOR_TIMEOUT_MS);
    expect(end).toMatchObject({ ussd_service_op: 17, user_message_reference: 7 });
    expect(decodeGsm(end.short_message as Buffer)).toBe('Service indisponible, reessayez plus tard.');
    peer.send('deliver_sm_resp', { sequence_number: end.sequence_number });
    peer.close();
  });
});

describe('without a ussd service', () => {
  it('ends the dialogue at once when no replica listens', async () => {
    stalled.splice(0).forEach((release) => release());
    await responder.drain();
    responderDrained = true;
    const msisdn = '254711000106';
    const started = Date.now();
    const dial = await sim.ussdDial(msisdn, '*384#');
    const screen = await sim.nextUssdScreen(msisdn, dial.sessionNumber, OPERATOR_TIMEOUT_MS);
    expect(screen).toMatchObject({ text: 'Service unavailable, please try again later.', end: true, serviceOp: 17 });
    expect(Date.now() - started).toBeLessThan(OPERATOR_TIMEOUT_MS);
  });
});
