import { Migration } from '@mikro-orm/migrations';

/**
 * `omoi_alert`: one row per alert (src/actors/alert-actor.ts). While open (raised or
 * acknowledged) an alert is the one of its fingerprint; its AlertActor is the only writer, so
 * there is never more than one open row per fingerprint. Resolved rows stay as history.
 */
export class Migration20261202130000_alerts extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "omoi_alert" ("id" varchar(255) not null, "fingerprint" text not null, "kind" varchar(255) not null, "severity" varchar(255) not null, "status" varchar(255) not null, "title" text not null, "fields" jsonb not null, "count" int not null, "notification" int not null, "first_raised_at" timestamptz not null, "last_raised_at" timestamptz not null, "last_notified_at" timestamptz not null, "rule" varchar(255) null, "routes" jsonb not null, "dedupe_window_ms" int not null, "acknowledged_by" varchar(255) null, "acknowledged_at" timestamptz null, "acknowledged_comment" text null, "resolved_by" varchar(255) null, "resolved_at" timestamptz null, "resolved_reason" text null, "updated_at" timestamptz not null, "version" int not null default 1, constraint "omoi_alert_pkey" primary key ("id"));`);
    this.addSql(`create index "omoi_alert_fingerprint_index" on "omoi_alert" ("fingerprint");`);
    this.addSql(`create index "omoi_alert_kind_index" on "omoi_alert" ("kind");`);
    this.addSql(`create index "omoi_alert_status_index" on "omoi_alert" ("status");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "omoi_alert" cascade;`);
  }
}
