// Reads back what a stream holds on one subject, decoded, for assertions.
// Reads the whole stream and filters here: nats-server 2.9 (Debian 12) has no
// filter_subjects on ordered consumers.
import type { NatsHandle, EventDef, EventMessage } from '../../runtime/nats/index.js';

export async function readEvents<M extends EventMessage>(nats: NatsHandle, stream: string, def: EventDef<M>): Promise<M[]> {
  const info = await nats.jsm.streams.info(stream);
  const total = info.state.messages;
  if (total === 0) return [];
  const consumer = await nats.js.consumers.get(stream);
  const out: M[] = [];
  let seen = 0;
  while (seen < total) {
    const batch = await consumer.fetch({ max_messages: total - seen, expires: 2_000 });
    let got = 0;
    for await (const m of batch) {
      got++;
      if (m.subject === def.subject) out.push(def.type.decode(m.data));
    }
    seen += got;
    if (got === 0) break;
  }
  await consumer.delete().catch(() => undefined);
  return out;
}
