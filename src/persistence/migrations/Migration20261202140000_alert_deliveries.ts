import { Migration } from '@mikro-orm/migrations';

/**
 * `omoi_alert_delivery`: one row per notification of an alert and route it goes to (webhook,
 * Slack, e-mail), with its status, attempts, next attempt and last answer or error;
 * `(alert_id, notification, route)` unique so that a redelivered `alert.raised` delivers once.
 */
export class Migration20261202140000_alert_deliveries extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "omoi_alert_delivery" ("id" bigserial primary key, "alert_id" varchar(255) not null, "notification" int not null, "route" varchar(255) not null, "route_type" varchar(255) not null, "status" varchar(255) not null, "attempts" int not null, "next_attempt_at" timestamptz not null, "last_http_status" int null, "last_answer" text null, "last_error_code" varchar(255) null, "last_error" text null, "payload" jsonb not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "delivered_at" timestamptz null);`);
    this.addSql(`create index "omoi_alert_delivery_status_next_attempt_at_index" on "omoi_alert_delivery" ("status", "next_attempt_at");`);
    this.addSql(`alter table "omoi_alert_delivery" add constraint "omoi_alert_delivery_alert_id_notification_route_unique" unique ("alert_id", "notification", "route");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "omoi_alert_delivery";`);
  }
}
