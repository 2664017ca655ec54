import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodePdu, encodePdu } from '../../../gateway/smpp/codec/pdu.js';
import { decodeGsm } from '../../../gateway/smpp/codec/gsm7.js';
import { decodeUcs2 } from '../../../gateway/smpp/codec/text-codec.js';
import {
  UssdServiceOp, encodeItsSessionInfo, hopSessionId, identityOf, inboundKind, matchesServiceCode, nextItsSessionInfo,
  parseItsSessionInfo, replyFields, replyServiceOp, ussdTextBytes, USSD_GSM_SEPTETS_MAX, USSD_UCS2_UNITS_MAX,
} from '../../../gateway/ussd/smpp-pdu.js';
import { hopTimeoutMs, unavailableText } from '../../../gateway/ussd/deadline.js';

describe('its_session_info', () => {
  it('reads the session number, the sequence number and the end bit', () => {
    expect(parseItsSessionInfo(Buffer.from([0x2a, 0x07]))).toEqual({ sessionNumber: 42, sequenceNumber: 3, end: true });
    expect(parseItsSessionInfo(Buffer.from([0xff, 0xfe]))).toEqual({ sessionNumber: 255, sequenceNumber: 127, end: false });
  });

  it('refuses anything but two octets', () => {
    expect(parseItsSessionInfo(Buffer.from([1]))).toBeNull();
    expect(parseItsSessionInfo(Buffer.from([1, 2, 3]))).toBeNull();
    expect(parseItsSessionInfo(7)).toBeNull();
    expect(parseItsSessionInfo(undefined)).toBeNull();
  });

  it('round-trips every value', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 127 }), fc.boolean(),
      (sessionNumber, sequenceNumber, end) => {
        const info = { sessionNumber, sequenceNumber, end };
        expect(parseItsSessionInfo(encodeItsSessionInfo(info))).toEqual(info);
      }));
    expect(() => encodeItsSessionInfo({ sessionNumber: 256, sequenceNumber: 0, end: false })).toThrow(RangeError);
    expect(() => encodeItsSessionInfo({ sessionNumber: 1, sequenceNumber: 128, end: false })).toThrow(RangeError);
  });

  it('answers with the same session, the next sequence number mod 128, and the end bit when it ends', () => {
    expect(nextItsSessionInfo({ sessionNumber: 9, sequenceNumber: 0, end: false }, false))
      .toEqual({ sessionNumber: 9, sequenceNumber: 1, end: false });
    expect(nextItsSessionInfo({ sessionNumber: 9, sequenceNumber: 127, end: false }, true))
      .toEqual({ sessionNumber: 9, sequenceNumber: 0, end: true });
  });
});

describe('ussd_service_op', () => {
  it('starts a dialogue on a PSSR indication, takes an answer from a USSR confirm, ignores the rest', () => {
    expect(inboundKind(UssdServiceOp.PSSR_INDICATION)).toBe('dial');
    expect(inboundKind(UssdServiceOp.USSR_CONFIRM)).toBe('answer');
    for (const op of [0, 2, 3, 16, 17, 19, 99]) expect(inboundKind(op)).toBe('ignore');
  });

  it('asks for an answer with a USSR request and ends with a PSSR response', () => {
    expect(replyServiceOp(false)).toBe(2);
    expect(replyServiceOp(true)).toBe(17);
  });
});

describe('dialogue identity', () => {
  const its = Buffer.from([5, 0]);
  it('keys the dialogue by the dialect the operator uses', () => {
    expect(identityOf('its_session_info', { its_session_info: its })).toEqual({ ok: true, identity: { sessionKey: '5', itsSessionInfo: { sessionNumber: 5, sequenceNumber: 0, end: false }, userMessageReference: null } });
    expect(identityOf('user_message_reference', { user_message_reference: 4711 })).toEqual({ ok: true, identity: { sessionKey: '4711', itsSessionInfo: null, userMessageReference: 4711 } });
    expect(identityOf('msisdn', {})).toEqual({ ok: true, identity: { sessionKey: '0', itsSessionInfo: null, userMessageReference: null } });
  });

  it("keeps the other dialect's TLV to echo it", () => {
    const r = identityOf('user_message_reference', { user_message_reference: 3, its_session_info: its });
    expect(r.ok && r.identity.itsSessionInfo?.sessionNumber).toBe(5);
  });

  it('says which TLV is missing or malformed', () => {
    expect(identityOf('its_session_info', { user_message_reference: 1 })).toEqual({ ok: false, reason: 'missing', tlv: 'its_session_info' });
    expect(identityOf('user_message_reference', { its_session_info: its })).toEqual({ ok: false, reason: 'missing', tlv: 'user_message_reference' });
    expect(identityOf('msisdn', { its_session_info: Buffer.from([1]) })).toEqual({ ok: false, reason: 'invalid', tlv: 'its_session_info' });
  });

  it('names the hop session by edge, operator, subscriber and dialogue', () => {
    expect(hopSessionId('safaricom-ke', '254711000001', '5')).toBe('smpp:safaricom-ke:254711000001:5');
  });
});

describe('limits and texts', () => {
  it('answers well inside the operator timeout, never with less than 500 ms', () => {
    expect(hopTimeoutMs(5_000)).toBe(4_000);
    expect(hopTimeoutMs(1_200)).toBe(500);
    expect(hopTimeoutMs(1_000)).toBe(500);
  });

  it("matches the operator's codes and their shortcuts only", () => {
    const codes = ['*384#', '*100*7#'];
    expect(matchesServiceCode('*384#', codes)).toBe(true);
    expect(matchesServiceCode(' *384*1*2# ', codes)).toBe(true);
    expect(matchesServiceCode('*100*7*9#', codes)).toBe(true);
    expect(matchesServiceCode('*3841#', codes)).toBe(false);
    expect(matchesServiceCode('*384', codes)).toBe(false);
    expect(matchesServiceCode('*100#', codes)).toBe(false);
  });

  it('says the service is unavailable in the operator language', () => {
    expect(unavailableText('en')).toBe('Service unavailable, please try again later.');
    expect(unavailableText('fr')).toBe('Service indisponible, reessayez plus tard.');
  });

  it('encodes screens as GSM 03.38 and cuts them to one USSD string without splitting an escape', () => {
    const menu = ussdTextBytes('1. Pay merchant\n2. Send money');
    expect(menu.dataCoding).toBe(0);
    expect(decodeGsm(menu.bytes)).toBe('1. Pay merchant\n2. Send money');
    expect(menu.truncated).toBe(false);
    const long = ussdTextBytes(`${'a'.repeat(USSD_GSM_SEPTETS_MAX - 1)}€`);
    expect(long.truncated).toBe(true);
    expect(decodeGsm(long.bytes)).toBe('a'.repeat(USSD_GSM_SEPTETS_MAX - 1));
  });

  it('falls back to UCS-2 for text outside the alphabet, cut at 80 units', () => {
    const r = ussdTextBytes('Reçu ✓');
    expect(r.dataCoding).toBe(8);
    expect(decodeUcs2(r.bytes)).toBe('Reçu ✓');
    expect(decodeUcs2(ussdTextBytes('ç'.repeat(100)).bytes)).toHaveLength(USSD_UCS2_UNITS_MAX);
  });
});

describe('reply PDU', () => {
  const inbound = { source_addr: '254711000001', source_addr_ton: 1, source_addr_npi: 1, destination_addr: '384', dest_addr_ton: 0, dest_addr_npi: 0, service_type: 'USSD' };
  const identity = { sessionKey: '7', itsSessionInfo: { sessionNumber: 7, sequenceNumber: 0, end: false }, userMessageReference: 12 };

  it('goes from the dialled code to the subscriber, with the op, the next session info and the reference', () => {
    const { fields } = replyFields(inbound, identity, { text: 'Menu', end: false });
    expect(fields).toMatchObject({
      service_type: 'USSD', source_addr: '384', source_addr_ton: 0, destination_addr: '254711000001', dest_addr_ton: 1, dest_addr_npi: 1,
      esm_class: 0, data_coding: 0, ussd_service_op: 2, user_message_reference: 12,
    });
    expect([...(fields.its_session_info as Buffer)]).toEqual([7, 0x02]);
    const end = replyFields(inbound, identity, { text: 'Bye', end: true }).fields;
    expect(end.ussd_service_op).toBe(17);
    expect([...(end.its_session_info as Buffer)]).toEqual([7, 0x03]);
  });

  it('survives the SMPP codec: ussd_service_op as one octet, its_session_info as two', () => {
    const { fields } = replyFields(inbound, identity, { text: 'Bye 1', end: true });
    for (const command of ['submit_sm', 'deliver_sm']) {
      const bytes = encodePdu(command, { ...fields, sequence_number: 3 });
      expect(bytes.includes(Buffer.from([0x05, 0x01, 0x00, 0x01, 17]))).toBe(true); // tag 0x0501, length 1
      expect(bytes.includes(Buffer.from([0x13, 0x83, 0x00, 0x02, 7, 0x03]))).toBe(true); // tag 0x1383, length 2
      const decoded = decodePdu(bytes);
      expect(decoded.ussd_service_op).toBe(17);
      expect(parseItsSessionInfo(decoded.its_session_info)).toEqual({ sessionNumber: 7, sequenceNumber: 1, end: true });
      expect(decoded.user_message_reference).toBe(12);
      expect(decodeGsm(decoded.short_message as Buffer)).toBe('Bye 1');
    }
  });

  it('echoes nothing the dialect does not have', () => {
    const { fields } = replyFields(inbound, { sessionKey: '0', itsSessionInfo: null, userMessageReference: null }, { text: 'x', end: true });
    expect(fields).not.toHaveProperty('its_session_info');
    expect(fields).not.toHaveProperty('user_message_reference');
  });
});
