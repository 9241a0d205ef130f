import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, isTerminal } from '../errors.ts';
import type { PublishCommand } from '../executor/command-publisher.ts';
import { mergeSources, type MergeOutcome, type MergeSource } from '../git/index.ts';
import type { Logger } from '../logging/logger.ts';

/** One merge attempt of a join, as the JoinActor hands it over after its commit. */
export interface MergeJob {
  ticketId: string;
  joinId: string;
  attempt: number;
  /** Omoi's clone of the ticket's repository (`<dataDir>/repos/<ticket>`). */
  repoDir: string;
  /** The ticket's base commit; the merge starts at the sources' fork point when that is newer (see `mergeSources`). */
  base: string;
  sources: MergeSource[];
  /** The join's `created_at`: fixed author/committer time, so a re-run yields the same shas. */
  time: Date;
  resolverCommand?: string | null;
  checkCommand?: string | null;
}

/**
 * MergeActor: runs the merge of one join attempt. Implemented as a **plain supervised async job
 * owned by the JoinActor** (not a nact child): the JoinActor starts it in an `afterCommit`
 * effect, and the job reports back only through the durable `merge.finished` command to the
 * ticket's partition (Nats-Msg-Id `merge-finished:<ticket>:<join>:<attempt>`), so a merge never
 * writes state itself and a duplicate report is deduplicated.
 *
 * Lifetime: one job per (ticket, join, attempt) on this node at a time; the merge sandbox
 * `<dataDir>/sandboxes/merge-<ticket>-<join>-<attempt>` is removed on every path. Supervision:
 * an unexpected error is retried with exponential backoff up to `maxTries`, then reported as a
 * failed attempt (`reason` names the error) so the join ends `blocked`, never waiting forever.
 * A crash of the node loses the job; `ticket.wake` on recovery restarts it (same attempt, same
 * shas, same message id).
 */
export class MergeActor {
  private readonly running = new Set<string>();

  constructor(private readonly deps: { dataDir: string; publish: PublishCommand; log: Logger; maxTries?: number; backoffMs?: number }) {}

  /** Starts the job unless the same attempt already runs on this node. Never throws. */
  start(job: MergeJob): void {
    const key = `${job.ticketId}/${job.joinId}/${job.attempt}`;
    if (this.running.has(key)) return;
    this.running.add(key);
    void this.run(job).finally(() => this.running.delete(key));
  }

  /** Merges several sink branches of a ticket into its final head and reports `ticket.finalize`. */
  finalize(job: Omit<MergeJob, 'joinId' | 'attempt'>): void {
    const key = `${job.ticketId}/finalize`;
    if (this.running.has(key)) return;
    this.running.add(key);
    void (async () => {
      const outcome = await this.merge({ ...job, joinId: 'final', attempt: 1 }).catch((err) => ({ error: errorMessage(err) }));
      const payload = 'error' in outcome ? { ticket_id: job.ticketId, error: outcome.error }
        : outcome.ok ? { ticket_id: job.ticketId, head: outcome.commit }
        : { ticket_id: job.ticketId, error: `merge_conflict: ${outcome.files.join(', ')}` };
      await this.deps.publish('ticket.finalize', payload, `finalize:${job.ticketId}`);
    })().catch((err) => this.deps.log.error({ ticket: job.ticketId, err: errorMessage(err) }, 'could not finalize ticket'))
      .finally(() => this.running.delete(key));
  }

  private async run(job: MergeJob): Promise<void> {
    const { log, publish } = this.deps;
    const maxTries = this.deps.maxTries ?? 5;
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await this.merge(job);
        await publish('merge.finished', toPayload(job, outcome), `merge-finished:${job.ticketId}:${job.joinId}:${job.attempt}`);
        return;
      } catch (err) {
        const last = attempt >= maxTries || isTerminal(err);
        log.warn({ ticket: job.ticketId, join: job.joinId, attempt: job.attempt, tries: attempt, err: errorMessage(err) }, last ? 'merge failed for good' : 'merge failed; retrying');
        if (last) {
          await publish('merge.finished', {
            ticket_id: job.ticketId, join_id: job.joinId, attempt: job.attempt, ok: false, reason: `merge_error: ${errorMessage(err)}`,
            order: [], conflicts: {}, resolutions: [], files: [], resolver_output: '', duration_ms: Date.now() - started,
          }, `merge-finished:${job.ticketId}:${job.joinId}:${job.attempt}`).catch((e) => log.error({ err: errorMessage(e) }, 'could not report merge failure'));
          return;
        }
        await new Promise((r) => setTimeout(r, (this.deps.backoffMs ?? 200) * 2 ** (attempt - 1)).unref());
      }
    }
  }

  private async merge(job: MergeJob): Promise<MergeOutcome> {
    const sandboxDir = path.join(this.deps.dataDir, 'sandboxes', `merge-${job.ticketId}-${job.joinId}-${job.attempt}`);
    const logDir = path.join(this.deps.dataDir, 'logs', job.ticketId);
    await mkdir(logDir, { recursive: true });
    await rm(sandboxDir, { recursive: true, force: true }); // what a crashed run of this attempt left
    try {
      return await mergeSources({
        repoDir: job.repoDir, sandboxDir, base: job.base, sources: job.sources,
        who: { name: 'Omoi', email: 'omoi@localhost', time: job.time },
        resolverCommand: job.resolverCommand ?? undefined, checkCommand: job.checkCommand ?? undefined,
        logFile: path.join(logDir, `merge-${job.joinId}-${job.attempt}.log`),
      });
    } finally {
      await rm(sandboxDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

function toPayload(job: MergeJob, outcome: MergeOutcome): Record<string, unknown> {
  const a = outcome.attempt;
  return {
    ticket_id: job.ticketId, join_id: job.joinId, attempt: job.attempt, ok: outcome.ok,
    ...(outcome.ok ? { commit: outcome.commit } : { reason: outcome.reason }),
    order: a.order, conflicts: a.conflicts, resolutions: a.resolutions, files: outcome.ok ? [] : outcome.files,
    resolver_output: a.resolverOutput.slice(-20_000), duration_ms: Math.round(a.durationMs),
  };
}
