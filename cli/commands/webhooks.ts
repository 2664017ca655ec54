// `dialpay webhooks replay`: dead-lettered webhook events sent again.
import { createLogger } from '../../runtime/log.js';
import { connectNats, natsOptionsFor } from '../../runtime/nats/index.js';
import { replayDeadLetters } from '../../services/webhooks/index.js';
import type { Command } from '../command.js';

export const webhooksReplay: Command = {
  needsConfig: true,
  help: [['webhooks replay [--merchant ID]', "send dead-lettered webhook events again (after the merchant's endpoint is back)"]],
  async run({ config, values }) {
    const log = createLogger({ level: config.log.level, component: 'webhooks-replay' });
    const nats = await connectNats(natsOptionsFor(config.nats, 'admin', 'dialpay-webhooks-replay'), log);
    try {
      const replayed = await replayDeadLetters(nats, { merchantId: values.merchant, timeoutMs: config.nats.publishTimeoutMs });
      process.stdout.write(`replayed ${replayed} webhook event(s)\n`);
    } finally {
      await nats.close();
    }
  },
};
