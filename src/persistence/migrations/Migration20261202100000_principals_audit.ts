import { Migration } from '@mikro-orm/migrations';

/**
 * `omoi_principal`: who may call the HTTP API, with a role and the sha256 of their token (the
 * node's bootstrap token becomes the `admin` principal at start).
 * `omoi_audit`: one row per state-changing call (HTTP, NATS ingress, CLI), append-only;
 * `(channel, message_id)` unique so that a redelivery is recorded once.
 */
export class Migration20261202100000_principals_audit extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "omoi_principal" ("id" serial primary key, "name" varchar(255) not null, "role" varchar(255) not null, "token_hash" varchar(64) not null, "created_at" timestamptz not null, "revoked_at" timestamptz null, "created_by" varchar(255) not null);`);
    this.addSql(`alter table "omoi_principal" add constraint "omoi_principal_name_unique" unique ("name");`);
    this.addSql(`alter table "omoi_principal" add constraint "omoi_principal_token_hash_unique" unique ("token_hash");`);
    this.addSql(`create table "omoi_audit" ("id" bigserial primary key, "at" timestamptz not null, "principal" varchar(255) not null, "role" varchar(255) null, "channel" varchar(255) not null, "command" varchar(255) not null, "target" varchar(255) null, "outcome" varchar(255) not null, "message_id" varchar(255) null);`);
    this.addSql(`alter table "omoi_audit" add constraint "omoi_audit_channel_message_id_unique" unique ("channel", "message_id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "omoi_audit";`);
    this.addSql(`drop table if exists "omoi_principal";`);
  }
}
