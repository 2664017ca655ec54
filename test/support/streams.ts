// Reads back what a stream holds on one subject, decoded, for assertions.
// Reads by sequence rather than with a consumer: SMS_INBOUND and SMS_OUTBOUND are
// work queues, which take no second consumer (and no ack-less ordered one), and
// a direct read leaves every message where it is.
import type { NatsHandle, EventDef, EventMessage } from '../../runtime/nats/index.js';

/** Reads in flight at once. */
const READ_CONCURRENCY = 64;

export async function readEvents<M extends EventMessage>(nats: NatsHandle, stream: string, def: EventDef<M>): Promise<M[]> {
  const out: M[] = [];
  for (const m of await readStored(nats, stream)) if (m.subject === def.subject) out.push(def.type.decode(m.data));
  return out;
}

/** Every message a stream holds now, oldest first (a sequence already gone reads as nothing). */
export async function readStored(
  nats: NatsHandle, stream: string,
): Promise<{ subject: string; seq: number; data: Uint8Array; headers: string }[]> {
  const { state } = await nats.jsm.streams.info(stream);
  const out: { subject: string; seq: number; data: Uint8Array; headers: string }[] = [];
  if (state.messages === 0) return out;
  for (let from = state.first_seq; from <= state.last_seq; from += READ_CONCURRENCY) {
    const seqs = Array.from({ length: Math.min(READ_CONCURRENCY, state.last_seq - from + 1) }, (_, i) => from + i);
    const messages = await Promise.all(seqs.map((seq) => nats.jsm.streams.getMessage(stream, { seq }).catch(() => null)));
    for (const m of messages) {
      if (!m) continue;
      const headers = m.header ? [...m.header.keys()].map((k) => `${k}: ${m.header.get(k)}`).join('\n') : '';
      out.push({ subject: m.subject, seq: m.seq, data: m.data, headers });
    }
  }
  return out;
}
