import { Migration } from '@mikro-orm/migrations';

/**
 * Two states that lived in `reason` strings become columns: `omoi_ticket.finalizing` (was
 * `reason = 'finalizing'`: the final merge of several sinks is under way) and
 * `omoi_task.unmatched` (was `reason = 'no_matching_agent'`: no agent matches a ready task and
 * `agent.mismatch` was emitted). Existing rows are carried over and their `reason` cleared;
 * `down()` writes the strings back.
 */
export class Migration20261201000000_explicit_flags extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "omoi_ticket" add column "finalizing" boolean not null default false;`);
    this.addSql(`alter table "omoi_task" add column "unmatched" boolean not null default false;`);
    this.addSql(`update "omoi_ticket" set "finalizing" = true, "reason" = null where "reason" = 'finalizing';`);
    this.addSql(`update "omoi_task" set "unmatched" = true, "reason" = null where "reason" = 'no_matching_agent';`);
  }

  override async down(): Promise<void> {
    this.addSql(`update "omoi_ticket" set "reason" = 'finalizing' where "finalizing";`);
    this.addSql(`update "omoi_task" set "reason" = 'no_matching_agent' where "unmatched";`);
    this.addSql(`alter table "omoi_ticket" drop column "finalizing";`);
    this.addSql(`alter table "omoi_task" drop column "unmatched";`);
  }
}
