import { Migration } from '@mikro-orm/migrations';

/**
 * Human gates and delivery: a ticket's `approvals` and `delivery` (as created) and where its
 * delivery stands; the decisions taken at gates (`omoi_approval`); the pushes of completed
 * tickets' heads, a delivery table for the shared dispatcher (`omoi_ticket_push`).
 */
export class Migration20261204130000_approvals_delivery extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "omoi_ticket" add column "approvals" jsonb not null default '[]', add column "delivery" jsonb null, add column "delivery_status" varchar(255) null, add column "delivery_round" int not null default 0, add column "delivery_attempts" int not null default 0, add column "delivered_commit" varchar(255) null, add column "pull_request_url" text null, add column "pull_request_error" text null, add column "delivery_error" text null;`);
    this.addSql(`create table "omoi_approval" ("id" varchar(255) not null, "entity_kind" varchar(255) not null, "entity_id" varchar(255) not null, "gate" varchar(255) not null, "decision" varchar(255) not null, "comment" text null, "principal" varchar(255) not null, "at" timestamptz not null, constraint "omoi_approval_pkey" primary key ("id"));`);
    this.addSql(`create index "omoi_approval_entity_kind_entity_id_index" on "omoi_approval" ("entity_kind", "entity_id");`);
    this.addSql(`create table "omoi_ticket_push" ("id" bigserial primary key, "ticket_id" varchar(255) not null, "round" int not null, "head" varchar(255) not null, "status" varchar(255) not null, "attempts" int not null, "next_attempt_at" timestamptz not null, "last_http_status" int null, "last_answer" text null, "last_error_code" varchar(255) null, "last_error" text null, "payload" jsonb not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "delivered_at" timestamptz null, "pull_request_done" boolean not null default false, "pull_request_url" text null, "pull_request_error" text null);`);
    this.addSql(`create index "omoi_ticket_push_updated_at_index" on "omoi_ticket_push" ("updated_at");`);
    this.addSql(`create index "omoi_ticket_push_status_next_attempt_at_index" on "omoi_ticket_push" ("status", "next_attempt_at");`);
    this.addSql(`alter table "omoi_ticket_push" add constraint "omoi_ticket_push_ticket_id_round_unique" unique ("ticket_id", "round");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "omoi_ticket_push";`);
    this.addSql(`drop table if exists "omoi_approval";`);
    this.addSql(`alter table "omoi_ticket" drop column "approvals", drop column "delivery", drop column "delivery_status", drop column "delivery_round", drop column "delivery_attempts", drop column "delivered_commit", drop column "pull_request_url", drop column "pull_request_error", drop column "delivery_error";`);
  }
}
