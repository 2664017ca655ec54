// The SMPP codec, pg-protocol style: bytes in, PDUs, text and receipts out, and
// back; pure functions, no sockets, no NATS. The one entry for code outside the
// gateway (the operator simulator, load generators); importing it also switches
// the `smpp` package's text filters off (pdu.ts), so short_message stays raw bytes.
export * from './frame.js';
export * from './pdu.js';
export * from './gsm7.js';
export * from './text-codec.js';
export * from './segment.js';
export * from './receipt.js';
