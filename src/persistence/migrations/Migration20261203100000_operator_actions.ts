import { Migration } from '@mikro-orm/migrations';

/**
 * What people may now do to failed work and to agents (dashboard actions, `task.retry`, `agent.drain`):
 * - `omoi_task.attempt_base`: attempts made before the last `task.retry`; a task's retries are
 *   counted from it (`attempt - attempt_base <= max_retries`), so a retried task gets a fresh
 *   budget of retries while its attempt numbers keep growing (stale reports stay stale).
 * - `omoi_task.retried_by` / `retry_reason`: who retried it last (the message's source) and why.
 * - `omoi_agent.draining`: it keeps its running attempts and is offered no new ones.
 */
export class Migration20261203100000_operator_actions extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "omoi_task" add column "attempt_base" int not null default 0, add column "retried_by" text null, add column "retry_reason" text null;`);
    this.addSql(`alter table "omoi_agent" add column "draining" boolean not null default false;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "omoi_agent" drop column "draining";`);
    this.addSql(`alter table "omoi_task" drop column "attempt_base", drop column "retried_by", drop column "retry_reason";`);
  }
}
