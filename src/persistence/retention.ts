import { errorMessage } from '../errors.ts';
import type { OmoiConfig } from '../config/options.ts';
import type { Logger } from '../logging/logger.ts';
import type { Database } from './database.ts';
import { isDatabaseOutage } from './outage.ts';

/** Settings that hold a retention, ms (`retention…Ms`; the sweep's interval is none). */
export type RetentionSetting = Exclude<Extract<keyof OmoiConfig, `retention${string}Ms`>, 'retentionSweepMs'>;

/**
 * One table the sweep keeps bounded: its rows whose `column` is older than the setting's
 * retention (and that match `only`, if given) are deleted. `only` is SQL over the row, aliased
 * `r`. The table name is also the `table` label of `omoi_retention_deleted_total`.
 */
export interface RetentionRule {
  table: string;
  column: string;
  only?: string;
  setting: RetentionSetting;
}

/**
 * What the sweep prunes. Adding a table is one line (and an index on its time column). Not
 * here: `omoi_outbox` (a row goes when JetStream has it; an unpublished one must stay) and
 * `omoi_agent_message` (pruned by `AgentAuthenticator` itself, past twice the signature max age).
 */
export const RETENTION_RULES: readonly RetentionRule[] = [
  // An id still in the outbox may yet be published again (a crash between publish and delete): its processed id must stay.
  { table: 'omoi_processed_message', column: 'processed_at', setting: 'retentionProcessedMs', only: 'not exists (select 1 from omoi_outbox o where o.message_id = r.message_id)' },
  { table: 'omoi_event', column: 'time', setting: 'retentionEventsMs' },
  // Open dead letters wait for someone to retry or discard them, however old.
  { table: 'omoi_dead_letter', column: 'resolved_at', setting: 'retentionDeadLettersMs', only: `r.status <> 'open'` },
  { table: 'omoi_audit', column: 'at', setting: 'retentionAuditMs' },
  // The holding of a lease that is still held has no end yet.
  { table: 'omoi_lease_history', column: 'held_to', setting: 'retentionAuditMs', only: 'r.held_to is not null' },
  // Open alerts wait for a person or their condition to clear, however old.
  { table: 'omoi_alert', column: 'resolved_at', setting: 'retentionAlertsMs', only: `r.status = 'resolved'` },
  // A pending delivery is still being tried; delivered and failed ones are history.
  { table: 'omoi_alert_delivery', column: 'updated_at', setting: 'retentionAlertsMs', only: `r.status <> 'pending'` },
  // Webhooks: finished deliveries, removed subscriptions (their deliveries are gone by then), GitHub delivery ids and the issue → ticket map.
  { table: 'omoi_webhook_delivery', column: 'updated_at', setting: 'retentionWebhooksMs', only: `r.status <> 'pending'` },
  { table: 'omoi_webhook_subscription', column: 'removed_at', setting: 'retentionWebhooksMs', only: 'not r.active' },
  { table: 'omoi_github_delivery', column: 'received_at', setting: 'retentionWebhooksMs' },
  { table: 'omoi_github_issue_ticket', column: 'created_at', setting: 'retentionWebhooksMs' },
  // Memory of past work: older results stop being recalled into new tasks.
  { table: 'omoi_memory', column: 'created_at', setting: 'retentionMemoryMs' },
  // The end of each attempt's output, kept for when its node is gone.
  { table: 'omoi_task_log', column: 'created_at', setting: 'retentionTaskLogsMs' },
  // Ticket pushes: a pending one is still being tried; a finished one's outcome is on its ticket (gate decisions stay with their ticket).
  { table: 'omoi_ticket_push', column: 'updated_at', setting: 'retentionAuditMs', only: `r.status <> 'pending'` },
];

/** Key of the advisory lock that lets one node at a time delete (`omrt` in ASCII). */
const RETENTION_LOCK = 0x6f6d7274;

export interface RetentionSweepOptions {
  /** ms between sweeps. */
  intervalMs: number;
  /** Rows per delete statement (default 1000): each is its own short transaction. */
  batch?: number;
  /** Statements per table per sweep (default 100); the rest waits for the next sweep. */
  maxBatches?: number;
  /** Pause between two statements, ms, so writers of a hot table get their turn (default 10). */
  pauseMs?: number;
  rules?: readonly RetentionRule[];
}

export type SweepResult = { outcome: 'done'; deleted: Record<string, number> } | { outcome: 'busy' | 'failed' };

/**
 * The retention sweep: every `intervalMs` (and once at start) deletes rows past their retention
 * from each table of `RETENTION_RULES`, oldest first.
 *
 * Invariants:
 * 1. Bounded locks: a statement deletes at most `batch` rows found by the time column's index,
 *    in a transaction of its own; a sweep makes at most `maxBatches` statements per table.
 * 2. One node at a time: each statement first takes a transaction-scoped advisory lock without
 *    waiting; a node that cannot get it leaves this sweep to the node that has it.
 * 3. Never fatal: a failed sweep (the database away) is logged and counted; the next one tries again.
 * 4. `stop()` waits for a statement in flight, so the node closes its database after it.
 */
export class RetentionSweep {
  private timer?: NodeJS.Timeout;
  private running?: Promise<SweepResult>;
  private stopped = false;
  private readonly o: Required<RetentionSweepOptions>;

  constructor(
    private readonly deps: {
      db: Database; log: Logger; config: Pick<OmoiConfig, RetentionSetting>;
      /** Called with the rows one statement deleted (`omoi_retention_deleted_total`). */
      deleted?: (table: string, rows: number) => void;
      /** Called once per sweep with its outcome (`omoi_retention_sweeps_total`). */
      swept?: (outcome: SweepResult['outcome']) => void;
    },
    options: RetentionSweepOptions,
  ) {
    this.o = { batch: 1_000, maxBatches: 100, pauseMs: 10, rules: RETENTION_RULES, ...options };
  }

  start(): void {
    this.stopped = false;
    const keepMs = Object.fromEntries(this.o.rules.map((r) => [r.table, this.deps.config[r.setting]]));
    this.deps.log.info({ intervalMs: this.o.intervalMs, keepMs }, 'retention sweep started');
    this.schedule(0);
  }

  /** Stops sweeping and waits for a statement in flight. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One sweep now (at most one at a time on this node). */
  sweep(): Promise<SweepResult> {
    this.running ??= this.sweepAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.sweep().finally(() => this.schedule(this.o.intervalMs));
    }, ms);
    this.timer.unref();
  }

  private async sweepAll(): Promise<SweepResult> {
    const deleted: Record<string, number> = {};
    let result: SweepResult;
    try {
      result = { outcome: 'done', deleted };
      outer: for (const rule of this.o.rules) {
        deleted[rule.table] = 0;
        for (let i = 0; i < this.o.maxBatches && !this.stopped; i++) {
          const n = await this.deleteBatch(rule);
          if (n === undefined) {
            result = { outcome: 'busy' };
            break outer;
          }
          deleted[rule.table] += n;
          if (n > 0) this.deps.deleted?.(rule.table, n);
          if (n < this.o.batch) break;
          await new Promise((r) => setTimeout(r, this.o.pauseMs));
        }
      }
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err), outage: isDatabaseOutage(err) }, 'retention sweep failed; the next sweep tries again');
      result = { outcome: 'failed' };
    }
    const total = Object.values(deleted).reduce((a, b) => a + b, 0);
    if (total > 0) this.deps.log.info({ deleted }, 'retention sweep removed rows past their retention');
    else this.deps.log.debug({ outcome: result.outcome }, 'retention sweep');
    this.deps.swept?.(result.outcome);
    return result;
  }

  /** Deletes up to `batch` of the oldest rows past retention; undefined if another node holds the lock. */
  private async deleteBatch(rule: RetentionRule): Promise<number | undefined> {
    const keepMs = this.deps.config[rule.setting];
    const conn = this.deps.db.em().getConnection();
    return conn.transactional(async (trx) => {
      const [lock] = await conn.execute('select pg_try_advisory_xact_lock(?) as locked', [RETENTION_LOCK], 'all', trx) as Array<{ locked: boolean }>;
      if (!lock?.locked) return undefined;
      const old = `r."${rule.column}" < now() - ?::interval${rule.only ? ` and ${rule.only}` : ''}`;
      const [row] = await conn.execute(
        `with gone as (
           delete from "${rule.table}" where ctid = any(array(
             select r.ctid from "${rule.table}" r where ${old} order by r."${rule.column}" limit ?))
           returning 1)
         select count(*)::int as n from gone`,
        [`${keepMs} milliseconds`, this.o.batch], 'all', trx,
      ) as Array<{ n: number }>;
      return row?.n ?? 0;
    });
  }
}
