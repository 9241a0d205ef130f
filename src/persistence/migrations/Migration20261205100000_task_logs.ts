import { Migration } from '@mikro-orm/migrations';

/** The end of each attempt's output (`omoi_task_log`), kept when its command ended, so it outlives its node. */
export class Migration20261205100000_task_logs extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "omoi_task_log" ("ticket_id" varchar(255) not null, "task_id" varchar(255) not null, "attempt" int not null, "node_id" varchar(255) not null, "size" bigint not null, "text" text not null, "truncated" boolean not null, "created_at" timestamptz not null, constraint "omoi_task_log_pkey" primary key ("ticket_id", "task_id", "attempt"));`);
    this.addSql(`create index "omoi_task_log_created_at_index" on "omoi_task_log" ("created_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "omoi_task_log";`);
  }
}
