import { Migration } from '@mikro-orm/migrations';

/** The initial schema: cluster bookkeeping (nodes, leases, processed ids, outbox, dead letters, events) and the DAG state. */
export class Migration20261122000000_initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "omoi_agent" ("id" varchar(255) not null, "name" varchar(255) not null, "phase" varchar(255) not null, "capabilities" jsonb not null, "agent_version" varchar(255) not null, "kind" varchar(255) not null, "public_key" text null, "status" varchar(255) not null, "capacity" int not null, "running" jsonb not null, "registered_at" timestamptz not null, "last_heartbeat_at" timestamptz null, "restarts" int not null, "restart_window_start" timestamptz null, "reason" text null, "updated_at" timestamptz not null, "version" int not null default 1, constraint "omoi_agent_pkey" primary key ("id"));`);
    this.addSql(`create index "omoi_agent_phase_index" on "omoi_agent" ("phase");`);
    this.addSql(`create index "omoi_agent_status_index" on "omoi_agent" ("status");`);
    this.addSql(`create table "omoi_dead_letter" ("id" serial primary key, "message_id" varchar(255) null, "subject" varchar(255) not null, "type" varchar(255) null, "code" varchar(255) not null, "reason" text not null, "body" text not null, "deliveries" int not null, "status" varchar(255) not null, "created_at" timestamptz not null, "resolved_at" timestamptz null);`);
    this.addSql(`create index "omoi_dead_letter_status_index" on "omoi_dead_letter" ("status");`);
    this.addSql(`create table "omoi_event" ("id" bigserial primary key, "message_id" varchar(255) not null, "type" varchar(255) not null, "ticket_id" varchar(255) null, "entity" varchar(255) null, "payload" jsonb not null, "time" timestamptz not null);`);
    this.addSql(`alter table "omoi_event" add constraint "omoi_event_message_id_unique" unique ("message_id");`);
    this.addSql(`create index "omoi_event_ticket_id_id_index" on "omoi_event" ("ticket_id", "id");`);
    this.addSql(`create table "omoi_file_claim" ("ticket_id" varchar(255) not null, "task_id" varchar(255) not null, "globs" jsonb not null, "status" varchar(255) not null, "seq" int not null, constraint "omoi_file_claim_pkey" primary key ("ticket_id", "task_id"));`);
    this.addSql(`create table "omoi_join" ("ticket_id" varchar(255) not null, "id" varchar(255) not null, "continuation" varchar(255) not null, "sources" jsonb not null, "completed" jsonb not null, "status" varchar(255) not null, "strategy" varchar(255) not null, "synthesis" jsonb null, "merge_commit" varchar(255) null, "reason" text null, "files" jsonb null, "attempts" int not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "version" int not null default 1, constraint "omoi_join_pkey" primary key ("ticket_id", "id"));`);
    this.addSql(`create table "omoi_merge_attempt" ("id" serial primary key, "ticket_id" varchar(255) not null, "join_id" varchar(255) not null, "attempt" int not null, "ok" boolean not null, "commit" varchar(255) null, "merge_order" jsonb not null, "conflicts" jsonb not null, "resolutions" jsonb not null, "files" jsonb not null, "resolver_output" text not null, "duration_ms" int not null, "created_at" timestamptz not null);`);
    this.addSql(`alter table "omoi_merge_attempt" add constraint "omoi_merge_attempt_ticket_id_join_id_attempt_unique" unique ("ticket_id", "join_id", "attempt");`);
    this.addSql(`create table "omoi_node" ("id" varchar(255) not null, "started_at" timestamptz not null, "heartbeat_at" timestamptz not null, "http_url" varchar(255) null, "status" varchar(255) not null, constraint "omoi_node_pkey" primary key ("id"));`);
    this.addSql(`create table "omoi_outbox" ("id" bigserial primary key, "message_id" varchar(255) not null, "subject" varchar(255) not null, "body" text not null, "partition" int not null, "created_at" timestamptz not null);`);
    this.addSql(`alter table "omoi_outbox" add constraint "omoi_outbox_message_id_unique" unique ("message_id");`);
    this.addSql(`create index "omoi_outbox_partition_index" on "omoi_outbox" ("partition");`);
    this.addSql(`create table "omoi_partition_lease" ("partition" int not null, "node_id" varchar(255) null, "epoch" int not null, "expires_at" timestamptz not null, constraint "omoi_partition_lease_pkey" primary key ("partition"));`);
    this.addSql(`create table "omoi_processed_message" ("message_id" varchar(255) not null, "partition" int not null, "processed_at" timestamptz not null, constraint "omoi_processed_message_pkey" primary key ("message_id"));`);
    this.addSql(`create table "omoi_task" ("ticket_id" varchar(255) not null, "id" varchar(255) not null, "spec" jsonb not null, "depends_on" jsonb not null, "owns" jsonb not null, "status" varchar(255) not null, "attempt" int not null, "base_commit" varchar(255) null, "commit" varchar(255) null, "result" jsonb null, "reason" text null, "agent_id" varchar(255) null, "context" jsonb null, "ready_since" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "version" int not null default 1, constraint "omoi_task_pkey" primary key ("ticket_id", "id"));`);
    this.addSql(`create table "omoi_ticket" ("id" varchar(255) not null, "title" text not null, "repository" text not null, "base_branch" varchar(255) not null, "base_commit" varchar(255) null, "status" varchar(255) not null, "ownership" varchar(255) not null, "resolver_command" text null, "check_command" text null, "head" varchar(255) null, "reason" text null, "failed_reason" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "version" int not null default 1, constraint "omoi_ticket_pkey" primary key ("id"));`);
    this.addSql(`create index "omoi_ticket_status_index" on "omoi_ticket" ("status");`);
  }

  override async down(): Promise<void> {
    for (const table of ['omoi_agent', 'omoi_dead_letter', 'omoi_event', 'omoi_file_claim', 'omoi_join', 'omoi_merge_attempt', 'omoi_node', 'omoi_outbox', 'omoi_partition_lease', 'omoi_processed_message', 'omoi_task', 'omoi_ticket']) {
      this.addSql(`drop table if exists "${table}" cascade;`);
    }
  }
}
