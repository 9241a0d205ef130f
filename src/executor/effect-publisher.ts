import type { JetStreamClient } from '@nats-io/jetstream';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { OutboxPublisher } from '../messaging/outbox.ts';
import { encodeCommand, type PublishCommand } from './command-publisher.ts';

export interface EffectPublisherDeps {
  js: JetStreamClient;
  outbox: OutboxPublisher;
  log: Logger;
  partitions: number;
  source: string;
  /** Aborted when the node stops: a result neither published nor kept is then given up (see below). */
  signal: AbortSignal;
  /** First pause between rounds when both NATS and the database refused, ms, doubled up to `maxBackoffMs` (defaults 250, 5000). */
  backoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * How effects report what they did (`task.started`/`task.complete`/`task.fail` of the local
 * executor, `merge.finished`/`ticket.finalize` of MergeActors): never fire-and-forget.
 *
 * Invariants:
 * 1. The promise resolves only once the command is durable: acknowledged by JetStream, or, when
 *    publishing fails (NATS down or restarting), kept in the outbox of its target partition
 *    (`OutboxPublisher.keep`), from where the holder's `OutboxSweeper` publishes it until it
 *    lands — also after this node stopped or crashed, on whichever node holds that partition.
 * 2. When neither works (NATS and PostgreSQL both away) it tries again after a pause that
 *    doubles up to `maxBackoffMs`, until one works or the node stops (`signal`): then it
 *    rejects, and recovery re-drives the attempt (`agent.wake` fails it as lost; a join's
 *    `ticket.wake` spawns its merge again, which reports with the same id).
 * 3. One message id per outcome, kept on every path: JetStream's duplicate window and the
 *    partition worker's processed ids make a result published both directly and from the
 *    outbox one effect.
 * A payload that breaks the schema is a bug of the caller and rejects at once.
 */
export function effectPublisher(deps: EffectPublisherDeps): PublishCommand {
  const first = deps.backoffMs ?? 250;
  const max = deps.maxBackoffMs ?? 5_000;
  return async (type, payload, id) => {
    const c = encodeCommand(type, payload, id, deps.partitions, deps.source);
    for (let pause = first; ; pause = Math.min(pause * 2, max)) {
      let published: unknown;
      try {
        await deps.js.publish(c.subject, c.body, { msgID: id });
        return;
      } catch (err) {
        published = err;
      }
      try {
        await deps.outbox.keep({ message_id: id, subject: c.subject, body: Buffer.from(c.body).toString('utf8'), partition: c.partition });
        deps.log.warn({ type, id, err: errorMessage(published) }, 'could not publish a result; kept in the outbox, the sweep re-drives it');
        return;
      } catch (err) {
        deps.log.warn({ type, id, err: errorMessage(published), db: errorMessage(err), retryInMs: pause }, 'could not publish nor keep a result; will retry');
      }
      if (deps.signal.aborted) throw new Error(`node stopping: ${type} ${id} was not delivered (recovery re-drives it)`);
      await sleep(pause, undefined, { signal: deps.signal }).catch(() => undefined);
    }
  };
}
