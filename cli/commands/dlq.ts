// `dialpay dlq list|replay`: the dead-letter stream per consumer.
import { createLogger } from '../../runtime/log.js';
import { connectNats, natsOptionsFor, replayDeadLetters, summariseDeadLetters } from '../../runtime/nats/index.js';
import { usageError, type Command, type ConfigContext } from '../command.js';
import { TOPOLOGY } from '../components.js';

/** list or replay: both on the admin identity's connection. */
async function dlq({ config, positionals, values }: ConfigContext): Promise<void> {
  const log = createLogger({ level: config.log.level, component: 'dlq' });
  const consumer = values.consumer;
  if (positionals[1] === 'replay' && !TOPOLOGY.consumers.some((c) => c.durableName === consumer)) {
    usageError(`dialpay: dlq replay needs --consumer NAME, one of: ${TOPOLOGY.consumers.map((c) => c.durableName).join(', ')}`);
  }
  const nats = await connectNats(natsOptionsFor(config.nats, 'admin', 'dialpay-dlq'), log);
  try {
    if (positionals[1] === 'list') {
      const summary = await summariseDeadLetters(nats);
      if (summary.length === 0) process.stdout.write('the DLQ is empty\n');
      for (const s of summary) {
        process.stdout.write(
          `${s.consumer}: ${s.count}${s.truncated ? ' or more' : ''} dead letter(s); newest error: ${s.lastError || '(none recorded)'}\n`);
      }
    } else {
      const replayed = await replayDeadLetters(nats, { consumer: consumer as string, timeoutMs: config.nats.publishTimeoutMs });
      process.stdout.write(`replayed ${replayed} message(s) of ${consumer}\n`);
    }
  } finally {
    await nats.close();
  }
}

export const dlqList: Command = {
  needsConfig: true, help: [['dlq list', 'the dead-letter stream per consumer: how many, and the newest error']], run: dlq,
};

export const dlqReplay: Command = {
  needsConfig: true,
  help: [
    ['dlq replay --consumer NAME',
      "put a consumer's dead letters back on their subject once the cause is fixed;",
      'handlers are idempotent on their ids, so work already done is not done twice'],
  ],
  run: dlq,
};
