// The batch runner of a consumer with the batch option: messages that arrive together are handed to
// one run (batcher.ts), and each is settled by its own result.
import type { JsMsg } from '@nats-io/jetstream';
import type { EventMessage } from './events.js';
import { UndecodableMessageError } from './errors.js';
import type { Logger } from '../log.js';
import type { BatchItem, BatchOptions, ConsumerMetrics } from './consume.js';
import { Batcher } from './batcher.js';
import type { MessageSettler, Taken } from './settle.js';

export class BatchedHandling<M extends EventMessage> {
  readonly #settler: MessageSettler<M>;
  readonly #batch: BatchOptions<M>;
  readonly #metrics: ConsumerMetrics;
  readonly #name: string;
  readonly #consumerLog: Logger;
  readonly #batcher: Batcher<Taken<M>, PromiseSettledResult<void>>;

  constructor(settler: MessageSettler<M>, batch: BatchOptions<M>, metrics: ConsumerMetrics, name: string, consumerLog: Logger) {
    this.#settler = settler;
    this.#batch = batch;
    this.#metrics = metrics;
    this.#name = name;
    this.#consumerLog = consumerLog;
    this.#batcher = new Batcher<Taken<M>, PromiseSettledResult<void>>(batch.sizeMax, batch.lingerMs,
      (group) => this.#runGroup(group), batch.runsInFlightMax ?? Number.POSITIVE_INFINITY);
  }

  /** `last`: nothing else is coming from this pull now, so the open group goes at once. */
  async handle(msg: JsMsg, last: boolean): Promise<void> {
    const taken = this.#settler.take(msg);
    if (taken instanceof UndecodableMessageError) {
      if (last) this.#batcher.flush();
      return this.#settler.deadLetterUndecodable(msg, taken);
    }
    await this.#settler.settle(taken, await this.#batcher.submit(taken, last));
  }

  flush(): void {
    this.#batcher.flush();
  }

  /** A run that throws, or answers for the wrong number of messages, fails every message of its group. */
  async #runGroup(group: Taken<M>[]): Promise<PromiseSettledResult<void>[]> {
    const started = performance.now();
    const items: BatchItem<M>[] = group.map((t) => ({ message: t.message, context: t.context, handle: () => this.#settler.runHandler(t) }));
    let results: PromiseSettledResult<void>[];
    try {
      results = await this.#batch.run(items);
      if (results.length !== items.length) throw new Error(`the batch run answered ${results.length} results for ${items.length} messages`);
    } catch (err) {
      this.#consumerLog.error({ err, messages: items.length }, 'batch run failed; each of its messages is retried');
      results = items.map(() => ({ status: 'rejected', reason: err }));
    }
    this.#metrics.batchSeconds.observe({ consumer: this.#name }, (performance.now() - started) / 1000);
    this.#metrics.batchMessages.observe({ consumer: this.#name }, items.length);
    return results;
  }
}
