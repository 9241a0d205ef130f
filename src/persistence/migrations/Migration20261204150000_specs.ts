import { Migration } from '@mikro-orm/migrations';

/**
 * Specs (src/actors/spec-actor.ts): `omoi_spec`, one row per spec; `omoi_spec_artifact`, one row
 * per run of a phase (its artifact and its gate's verdict); and on `omoi_ticket` the spec and phase
 * a ticket runs (`spec_id`, `spec_phase`; null for every ticket before).
 */
export class Migration20261204150000_specs extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "omoi_spec" ("id" varchar(255) not null, "title" text null, "repository" text not null, "base_branch" varchar(255) not null, "goal" text not null, "status" varchar(255) not null, "phase" varchar(255) not null, "attempt" int not null, "max_phase_attempts" int not null, "planner" varchar(255) not null, "planner_command" text null, "approvals" jsonb not null, "runs" jsonb not null, "current_ticket_id" varchar(255) null, "ticket_id" varchar(255) null, "head" varchar(255) null, "reason" text null, "created_by" varchar(255) null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "version" int not null default 1, constraint "omoi_spec_pkey" primary key ("id"));`);
    this.addSql(`create index "omoi_spec_status_index" on "omoi_spec" ("status");`);
    this.addSql(`create index "omoi_spec_updated_at_index" on "omoi_spec" ("updated_at");`);
    this.addSql(`create table "omoi_spec_artifact" ("spec_id" varchar(255) not null, "phase" varchar(255) not null, "version" int not null, "ticket_id" varchar(255) not null, "body" jsonb null, "gate" jsonb not null, "created_at" timestamptz not null, constraint "omoi_spec_artifact_pkey" primary key ("spec_id", "phase", "version"));`);
    this.addSql(`alter table "omoi_ticket" add column "spec_id" varchar(255) null, add column "spec_phase" varchar(255) null;`);
    this.addSql(`create index "omoi_ticket_spec_id_index" on "omoi_ticket" ("spec_id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "omoi_ticket_spec_id_index";`);
    this.addSql(`alter table "omoi_ticket" drop column if exists "spec_phase", drop column if exists "spec_id";`);
    this.addSql(`drop table if exists "omoi_spec_artifact";`);
    this.addSql(`drop table if exists "omoi_spec";`);
  }
}
