import { Migration } from '@mikro-orm/migrations';

/**
 * What the cluster, supervision and agent views read, without scanning whole tables:
 * - `omoi_lease_history.taken_over_from`: the node whose expired lease this holding took (a
 *   failover); null when the lease was free. Older holdings are not known to be failovers.
 * - `omoi_event.agent_id` (the payload's `agent_id`, filled for the rows already there) with an
 *   index, for an agent's attempt history; an index on (`type`, `time`) for the supervision
 *   events of a window.
 * - `omoi_task`: indexes on `agent_id` (an agent's current attempts) and `status` (ready tasks).
 */
export class Migration20261203110000_dashboard_views extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "omoi_lease_history" add column "taken_over_from" varchar(255) null;`);
    this.addSql(`alter table "omoi_event" add column "agent_id" varchar(255) null;`);
    this.addSql(`update "omoi_event" set "agent_id" = "payload"->>'agent_id' where jsonb_typeof("payload"->'agent_id') = 'string';`);
    this.addSql(`create index "omoi_event_agent_id_id_index" on "omoi_event" ("agent_id", "id");`);
    this.addSql(`create index "omoi_event_type_time_index" on "omoi_event" ("type", "time");`);
    this.addSql(`create index "omoi_task_agent_id_index" on "omoi_task" ("agent_id");`);
    this.addSql(`create index "omoi_task_status_index" on "omoi_task" ("status");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "omoi_task_status_index";`);
    this.addSql(`drop index if exists "omoi_task_agent_id_index";`);
    this.addSql(`drop index if exists "omoi_event_type_time_index";`);
    this.addSql(`drop index if exists "omoi_event_agent_id_id_index";`);
    this.addSql(`alter table "omoi_event" drop column if exists "agent_id";`);
    this.addSql(`alter table "omoi_lease_history" drop column if exists "taken_over_from";`);
  }
}
