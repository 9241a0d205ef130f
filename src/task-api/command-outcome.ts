import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../persistence/index.ts';

/** What became of a published command: applied by its actor, refused (a dead letter), or not known yet. */
export type CommandOutcome =
  | { status: 'accepted' }
  | { status: 'rejected'; code: string; reason: string }
  | { status: 'pending' };

/** Looks a command's fate up by its message id (a narrow seam: the task API needs nothing else of the database). */
export interface CommandOutcomes {
  /** `pending` when it is neither processed nor dead-lettered yet. */
  lookup(messageId: string): Promise<CommandOutcome>;
}

/**
 * A command's fate in PostgreSQL: its id in `omoi_processed_message` (committed with its effects)
 * means accepted; a row of `omoi_dead_letter` with its id means refused, with the code and reason
 * its actor gave (`cycle`, `unknown_dependency`, `illegal_transition`, ...).
 */
export function postgresOutcomes(db: Database): CommandOutcomes {
  return {
    async lookup(messageId) {
      const conn = db.em().getConnection();
      const processed = await conn.execute('select 1 from omoi_processed_message where message_id = ?', [messageId]) as unknown[];
      if (processed.length) return { status: 'accepted' };
      const dead = await conn.execute('select code, reason from omoi_dead_letter where message_id = ? order by id limit 1', [messageId]) as Array<{ code: string; reason: string }>;
      return dead[0] ? { status: 'rejected', code: dead[0].code, reason: dead[0].reason } : { status: 'pending' };
    },
  };
}

/**
 * Waits at most `timeoutMs` for the command's fate, looking every 50 ms and less often as time
 * goes on (at most every 500 ms); `pending` when it is still undecided then (a busy partition:
 * the command is durable and will be applied or refused later). Stops early when `signal` aborts.
 */
export async function awaitOutcome(outcomes: CommandOutcomes, messageId: string, timeoutMs: number, signal?: AbortSignal): Promise<CommandOutcome> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 50; ; wait = Math.min(wait * 2, 500)) {
    const outcome = await outcomes.lookup(messageId);
    if (outcome.status !== 'pending' || Date.now() >= deadline || signal?.aborted) return outcome;
    await sleep(Math.min(wait, Math.max(0, deadline - Date.now())));
  }
}
