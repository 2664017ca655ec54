// Baseline for the payments bench: a bare ESME on the `smpp` package that plays
// dialpay's SEND flow with nothing behind it. It binds to the simulated SMSC as
// our gateway does (client, transceiver), answers every deliver_sm at once,
// challenges a SEND with a code and, on the right YES, sends the payer's and
// the payee's receipts (asking for delivery receipts, as the gateway does). No
// persistence, no NATS, no money: what the phones measure against it is the
// protocol and the load generator alone.
//   node echo-gateway.js <smsc port>
import smpp from 'smpp';

interface LibPdu {
  readonly command_status: number;
  readonly source_addr?: string;
  readonly esm_class?: number;
  readonly short_message?: Buffer | { readonly message?: string };
  response(): unknown;
}
interface LibSession {
  bind_transceiver(fields: Record<string, unknown>, cb: (pdu: LibPdu) => void): void;
  submit_sm(fields: Record<string, unknown>, cb?: (pdu: LibPdu) => void): void;
  on(event: string, cb: (pdu: LibPdu) => void): void;
  send(pdu: unknown): void;
}

/** Challenges awaiting their YES; past this the oldest is forgotten (its YES then gets "Wrong code"). */
const PENDING_MAX = 100_000;
const SHORT_CODE = '384';
const RECEIPT_REQUESTED = 1;

const pending = new Map<string, { code: string; payee: string; amount: string }>();
let nextRef = 0;

const session = smpp.connect({ host: '127.0.0.1', port: Number(process.argv[2]) }) as LibSession;
session.on('error', () => process.exit(0));
session.on('close', () => process.exit(0));
session.bind_transceiver({ system_id: 'dialpay', password: 'secret1', interface_version: 0x34 }, (pdu) => {
  if (pdu.command_status !== 0) process.exit(1);
});
session.on('enquire_link', (pdu) => session.send(pdu.response()));

function sms(to: string, text: string): void {
  // Plain letters and digits: the same bytes in GSM 03.38 (data_coding 0) as in ASCII.
  session.submit_sm({ source_addr: SHORT_CODE, destination_addr: to, data_coding: 0, short_message: Buffer.from(text, 'ascii'),
    registered_delivery: RECEIPT_REQUESTED });
}

function answer(from: string, text: string): void {
  const send = /^SEND 0(\d{9}) (\d+\.\d{2})$/.exec(text);
  if (send) {
    const code = String(1_000 + Math.floor(Math.random() * 9_000));
    pending.delete(from);
    pending.set(from, { code, payee: `254${send[1]}`, amount: send[2] as string });
    if (pending.size > PENDING_MAX) pending.delete(pending.keys().next().value as string);
    return sms(from, `Pay KES ${send[2]} to +254${send[1]}? Fee KES 0.00. Reply YES ${code} within 5 min.`);
  }
  const yes = /^YES (\d{4})$/.exec(text);
  const waiting = pending.get(from);
  if (!yes || !waiting || waiting.code !== yes[1]) return sms(from, 'Wrong code. Reply YES <code> as in the last SMS.');
  pending.delete(from);
  const ref = (nextRef++ >>> 0).toString(16).toUpperCase().padStart(8, '0');
  sms(from, `Paid KES ${waiting.amount} to +${waiting.payee}. Fee KES 0.00. Ref ${ref}.`);
  sms(waiting.payee, `Received KES ${waiting.amount} from +${from}. Ref ${ref}.`);
}

session.on('deliver_sm', (pdu) => {
  session.send(pdu.response());
  if ((pdu.esm_class ?? 0) & 0x04) return; // a delivery receipt: nothing to do
  const body = pdu.short_message;
  const text = Buffer.isBuffer(body) ? body.toString('latin1') : body?.message ?? '';
  answer(String(pdu.source_addr), text.trim());
});
