import { Migration } from '@mikro-orm/migrations';

/**
 * `omoi_agent_message`: the ids of signed agent messages the ingress router accepted, per agent
 * (a reused id is refused as `replayed`), with the `OMOI_IN` stream sequence that carried each
 * (its redelivery is not a replay). Pruned by age.
 */
export class Migration20261202110000_agent_messages extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "omoi_agent_message" ("agent_id" varchar(255) not null, "message_id" varchar(255) not null, "stream_seq" bigint not null, "at" timestamptz not null, constraint "omoi_agent_message_pkey" primary key ("agent_id", "message_id"));`);
    this.addSql(`create index "omoi_agent_message_at_index" on "omoi_agent_message" ("at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "omoi_agent_message";`);
  }
}
