// Body lengths against the PDU they sit in, from the SMPP 3.4 layouts
// (section 4.4.1 submit_sm, 4.6.1 deliver_sm, 4.5.1 submit_multi, 5.3 TLVs):
// fixtures are written out byte by byte, not produced by the codec under test.
import { describe, expect, it } from 'vitest';
import { BodyFault, checkPduBody } from '../../../gateway/smpp/body-check.js';
import { decodePdu, encodePdu } from '../../../gateway/smpp/codec/pdu.js';
import { CommandStatus } from '../../../gateway/smpp/status.js';

const cstr = (s: string) => Buffer.concat([Buffer.from(s, 'latin1'), Buffer.from([0])]);
const u8 = (...values: number[]) => Buffer.from(values);
const tlv = (tag: number, value: Buffer, declaredLength = value.length) => {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(tag, 0);
  head.writeUInt16BE(declaredLength, 2);
  return Buffer.concat([head, value]);
};

/** Header (command_length is the bytes actually sent) and body. */
function pdu(commandId: number, sequence: number, ...body: Buffer[]): Buffer {
  const head = Buffer.alloc(16);
  const bytes = Buffer.concat([head, ...body]);
  bytes.writeUInt32BE(bytes.length, 0);
  bytes.writeUInt32BE(commandId, 4);
  bytes.writeUInt32BE(0, 8);
  bytes.writeUInt32BE(sequence, 12);
  return bytes;
}

const SUBMIT_SM = 0x00000004;
const DELIVER_SM = 0x00000005;
const SUBMIT_MULTI = 0x00000021;
const BIND_TRANSCEIVER = 0x00000009;

/** submit_sm / deliver_sm mandatory parameters up to and including sm_length and short_message. */
function messageBody(text: string, smLength = Buffer.byteLength(text, 'latin1')): Buffer {
  return Buffer.concat([
    cstr(''), // service_type
    u8(1, 1), cstr('254711000001'), // source_addr_ton, _npi, source_addr
    u8(0, 0), cstr('384'), // dest_addr_ton, _npi, destination_addr
    u8(0, 0, 0), // esm_class, protocol_id, priority_flag
    cstr(''), cstr(''), // schedule_delivery_time, validity_period
    u8(0, 0, 0, 0), // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
    u8(smLength), Buffer.from(text, 'latin1'),
  ]);
}

describe('PDU body lengths', () => {
  it('accepts well-formed requests: submit_sm (the same bytes the codec writes), deliver_sm with TLVs, bind, enquire_link', () => {
    const submit = pdu(SUBMIT_SM, 7, messageBody('PAY SHOP42 500'));
    expect(submit.equals(encodePdu('submit_sm', { sequence_number: 7, source_addr_ton: 1, source_addr_npi: 1, source_addr: '254711000001', destination_addr: '384', short_message: Buffer.from('PAY SHOP42 500') }))).toBe(true);
    expect(checkPduBody(submit)).toBeNull();
    // sm_length 0 with the text in message_payload, plus user_message_reference.
    expect(checkPduBody(pdu(DELIVER_SM, 8, messageBody(''), tlv(0x0424, Buffer.from('BAL')), tlv(0x0204, u8(0, 1))))).toBeNull();
    expect(checkPduBody(pdu(BIND_TRANSCEIVER, 1, cstr('orangesn'), cstr('secret2'), cstr(''), u8(0x34, 0, 0), cstr('')))).toBeNull();
    expect(checkPduBody(pdu(0x00000015, 2))).toBeNull(); // enquire_link: no body
    expect(checkPduBody(pdu(SUBMIT_MULTI, 3, cstr(''), u8(1, 1), cstr('254711000001'), u8(2), u8(1, 1, 1), cstr('254711000002'), u8(2), cstr('list'), u8(0, 0, 0), cstr(''), cstr(''), u8(0, 0, 0, 0), u8(2), Buffer.from('hi')))).toBeNull();
  });

  it('refuses an sm_length larger than the bytes that follow with ESME_RINVMSGLEN, which the lenient codec would take as a message', () => {
    const bytes = pdu(SUBMIT_SM, 9, messageBody('HELP', 200));
    expect(checkPduBody(bytes)).toEqual({ command: 'submit_sm', sequenceNumber: 9, fault: BodyFault.SM_LENGTH, field: 'short_message', commandStatus: CommandStatus.ESME_RINVMSGLEN });
    expect(Buffer.from(decodePdu(bytes).short_message as Buffer).toString()).toBe('HELP'); // why this check exists
    expect(checkPduBody(pdu(DELIVER_SM, 10, messageBody('', 1)))?.fault).toBe(BodyFault.SM_LENGTH);
  });

  it('refuses a C-string without its NUL, a body cut short and a TLV that runs past the end with ESME_RINVCMDLEN', () => {
    const unterminated = pdu(SUBMIT_SM, 11, cstr(''), u8(1, 1), Buffer.from('254711000001'));
    expect(checkPduBody(unterminated)).toMatchObject({ fault: BodyFault.UNTERMINATED_STRING, field: 'source_addr', commandStatus: CommandStatus.ESME_RINVCMDLEN });
    expect(checkPduBody(pdu(BIND_TRANSCEIVER, 12, cstr('orangesn'), Buffer.from('secret2')))).toMatchObject({ fault: BodyFault.UNTERMINATED_STRING, field: 'password' });
    expect(checkPduBody(pdu(SUBMIT_SM, 13, cstr(''), u8(1, 1), cstr('254711000001'), u8(0, 0), cstr('384')))).toMatchObject({ fault: BodyFault.TRUNCATED, field: 'esm_class' });
    expect(checkPduBody(pdu(SUBMIT_SM, 14, messageBody(''), tlv(0x0424, Buffer.from('BAL'), 300)))).toMatchObject({ fault: BodyFault.TLV_LENGTH, field: 'tlv 0x0424', commandStatus: CommandStatus.ESME_RINVCMDLEN });
    expect(checkPduBody(pdu(SUBMIT_SM, 15, messageBody('HI'), u8(0x04, 0x24)))).toMatchObject({ fault: BodyFault.TLV_LENGTH, field: 'tlv header' });
    // submit_multi: more destinations declared than the body holds.
    expect(checkPduBody(pdu(SUBMIT_MULTI, 16, cstr(''), u8(1, 1), cstr('254711000001'), u8(3), u8(1, 1, 1), cstr('254711000002'))))?.toMatchObject({ field: 'dest_address' });
  });

  it('refuses every cut of a good submit_sm, wherever the body stops, except where the optional TLVs begin', () => {
    const mandatory = messageBody('SEND 0712345678 200');
    const good = pdu(SUBMIT_SM, 17, mandatory, tlv(0x0204, u8(0, 1)));
    for (let cut = 16; cut < good.length; cut++) {
      const bytes = Buffer.from(good.subarray(0, cut));
      bytes.writeUInt32BE(cut, 0);
      expect({ cut, refused: checkPduBody(bytes) !== null }).toEqual({ cut, refused: cut !== 16 + mandatory.length });
    }
  });

  it('leaves responses (an error response has no body) and unknown commands to the session', () => {
    expect(checkPduBody(pdu(0x80000004, 18))).toBeNull(); // submit_sm_resp, header only
    expect(checkPduBody(pdu(0x80000005, 19))).toBeNull(); // deliver_sm_resp without message_id, as some SMSCs send it
    expect(checkPduBody(pdu(0x0000ab12, 20, Buffer.from('junk')))).toBeNull();
    expect(checkPduBody(pdu(0x00000102, 21))).toBeNull(); // alert_notification: no response exists, it is only logged
  });
});
