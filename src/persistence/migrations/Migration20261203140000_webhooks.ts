import { Migration } from '@mikro-orm/migrations';

/**
 * Webhooks: outgoing subscriptions (`omoi_webhook_subscription`) and their deliveries
 * (`omoi_webhook_delivery`, one per subscription and event), and the incoming GitHub
 * endpoint's deliveries seen (`omoi_github_delivery`, by `X-GitHub-Delivery`) and the tickets
 * issues became (`omoi_github_issue_ticket`).
 */
export class Migration20261203140000_webhooks extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "omoi_webhook_subscription" ("id" varchar(255) not null, "url" text not null, "secret" text not null, "events" jsonb not null, "ticket_id" varchar(255) null, "active" boolean not null, "created_by" varchar(255) not null, "created_at" timestamptz not null, "removed_at" timestamptz null, constraint "omoi_webhook_subscription_pkey" primary key ("id"));`);
    this.addSql(`create index "omoi_webhook_subscription_removed_at_index" on "omoi_webhook_subscription" ("removed_at");`);
    this.addSql(`create table "omoi_webhook_delivery" ("id" bigserial primary key, "subscription_id" varchar(255) not null, "event_id" varchar(255) not null, "event_type" varchar(255) not null, "status" varchar(255) not null, "attempts" int not null, "next_attempt_at" timestamptz not null, "last_http_status" int null, "last_answer" text null, "last_error_code" varchar(255) null, "last_error" text null, "payload" jsonb not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "delivered_at" timestamptz null);`);
    this.addSql(`create index "omoi_webhook_delivery_updated_at_index" on "omoi_webhook_delivery" ("updated_at");`);
    this.addSql(`create index "omoi_webhook_delivery_status_next_attempt_at_index" on "omoi_webhook_delivery" ("status", "next_attempt_at");`);
    this.addSql(`alter table "omoi_webhook_delivery" add constraint "omoi_webhook_delivery_subscription_id_event_id_unique" unique ("subscription_id", "event_id");`);
    this.addSql(`create table "omoi_github_delivery" ("delivery_id" varchar(255) not null, "event" varchar(255) not null, "action" varchar(255) null, "outcome" varchar(255) not null, "ticket_id" varchar(255) null, "received_at" timestamptz not null, constraint "omoi_github_delivery_pkey" primary key ("delivery_id"));`);
    this.addSql(`create index "omoi_github_delivery_received_at_index" on "omoi_github_delivery" ("received_at");`);
    this.addSql(`create table "omoi_github_issue_ticket" ("ticket_id" varchar(255) not null, "repository" varchar(255) not null, "issue" int not null, "created_at" timestamptz not null, constraint "omoi_github_issue_ticket_pkey" primary key ("ticket_id"));`);
    this.addSql(`create index "omoi_github_issue_ticket_created_at_index" on "omoi_github_issue_ticket" ("created_at");`);
    this.addSql(`create index "omoi_github_issue_ticket_repository_issue_index" on "omoi_github_issue_ticket" ("repository", "issue");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "omoi_github_issue_ticket";`);
    this.addSql(`drop table if exists "omoi_github_delivery";`);
    this.addSql(`drop table if exists "omoi_webhook_delivery";`);
    this.addSql(`drop table if exists "omoi_webhook_subscription";`);
  }
}
