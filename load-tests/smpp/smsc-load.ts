// Load generator: an SMSC that accepts one bind and then sends `count`
// deliver_sm PDUs keeping `window` unanswered, as fast as the ESME answers.
// Raw socket and pre-encoded PDUs, so the generator is never the bottleneck.
// Prints BOUND when the ESME binds, then one JSON line when every PDU is
// answered: {count, ms, errors, distinct, duplicates, unknown}. It stays up
// (so its CPU can still be read) until its stdin closes.
import { createServer } from 'node:net';
import { decodePdu, encodeGsm, encodePdu, FrameParser } from '../../gateway/smpp/codec/index.js';

const [portArg, countArg, windowArg] = process.argv.slice(2);
const count = Number(countArg);
const window = Number(windowArg);
const template = encodePdu('deliver_sm', {
  sequence_number: 1, source_addr: '254712345678', source_addr_ton: 1, destination_addr: '384', data_coding: 0,
  short_message: encodeGsm('PAY SHOP42 500 inv-2211'),
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

const server = createServer((socket) => {
  socket.setNoDelay(true);
  const parser = new FrameParser(65_536);
  /** Responses per sequence number (1..count): each PDU must get exactly one. */
  const answers = new Uint8Array(count + 1);
  let sent = 0;
  let answered = 0;
  let distinct = 0;
  let duplicates = 0;
  let unknown = 0;
  let errors = 0;
  let started = 0;
  let done = false;
  const pump = () => {
    const chunks: Buffer[] = [];
    while (sent < count && sent - answered < window) {
      const pdu = Buffer.from(template);
      pdu.writeUInt32BE(++sent, 12);
      chunks.push(pdu);
    }
    if (chunks.length) socket.write(Buffer.concat(chunks));
  };
  socket.on('data', (chunk: Buffer) => {
    if (done) return;
    for (const frame of parser.push(chunk)) {
      if (frame.kind !== 'pdu') continue;
      const commandId = frame.bytes.readUInt32BE(4);
      if (commandId === 0x00000009) {
        const bind = decodePdu(frame.bytes);
        socket.write(encodePdu('bind_transceiver_resp', { sequence_number: bind.sequence_number, system_id: 'loadgen' }));
        process.stdout.write('BOUND\n');
        started = performance.now();
        pump();
      } else if (commandId === 0x80000005) {
        answered++;
        const sequence = frame.bytes.readUInt32BE(12);
        if (sequence < 1 || sequence > count) unknown++;
        else if (answers[sequence] === 0) {
          answers[sequence] = 1;
          distinct++;
        } else duplicates++;
        if (frame.bytes.readUInt32BE(8) !== 0) errors++;
        if (answered === count) {
          done = true;
          process.stdout.write(`${JSON.stringify({ count, ms: performance.now() - started, errors, distinct, duplicates, unknown })}\n`);
          socket.destroy();
          server.close();
          return;
        }
      } else if (commandId === 0x00000015) {
        socket.write(encodePdu('enquire_link_resp', { sequence_number: frame.bytes.readUInt32BE(12) }));
      }
    }
    pump();
  });
  socket.on('error', () => undefined);
});
server.listen(Number(portArg), '127.0.0.1', () => process.stdout.write('LISTENING\n'));
