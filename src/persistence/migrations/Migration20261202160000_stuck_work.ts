import { Migration } from '@mikro-orm/migrations';

/**
 * Stuck work and acknowledged stops:
 * - `omoi_task.progress_at`: the attempt's last progress (a `task.progress` report, or output of
 *   a local command); `stalled_attempt`: the attempt `task.stalled` was raised for (once each);
 *   `cancelled_by`: who cancelled the task (the message's source), its reason in `reason`.
 * - `omoi_ticket.stalled_since`: the last change a `ticket.stalled` was raised for (once per stall).
 * - `omoi_agent.stopping`: stops sent to a remote agent and not acknowledged yet
 *   (`[{ key: "<ticket>/<task>/<attempt>", at }]`); their attempts keep the agent's slots.
 */
export class Migration20261202160000_stuck_work extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "omoi_task" add column "progress_at" timestamptz null, add column "stalled_attempt" int null, add column "cancelled_by" text null;`);
    this.addSql(`alter table "omoi_ticket" add column "stalled_since" timestamptz null;`);
    this.addSql(`alter table "omoi_agent" add column "stopping" jsonb not null default '[]';`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "omoi_agent" drop column "stopping";`);
    this.addSql(`alter table "omoi_ticket" drop column "stalled_since";`);
    this.addSql(`alter table "omoi_task" drop column "progress_at", drop column "stalled_attempt", drop column "cancelled_by";`);
  }
}
