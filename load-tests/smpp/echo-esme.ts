// Baseline for the SMPP bench: a bare ESME on the `smpp` package, answering
// every deliver_sm at once and doing nothing else. What the gateway does on
// top of this (decode, publish durably, wait for the ack) is what we measure.
import smpp from 'smpp';

const [port] = process.argv.slice(2);
const session = smpp.connect({ host: '127.0.0.1', port: Number(port) }) as {
  bind_transceiver(fields: Record<string, unknown>, cb: (pdu: { command_status: number }) => void): void;
  on(event: string, cb: (pdu: { response(): unknown }) => void): void;
  send(pdu: unknown): void;
};
session.on('error', () => process.exit(0));
session.on('close', () => process.exit(0));
session.bind_transceiver({ system_id: 'dialpay', password: 'secret1' }, () => undefined);
session.on('deliver_sm', (pdu) => session.send(pdu.response()));
