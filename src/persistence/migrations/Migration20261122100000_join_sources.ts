import { Migration } from '@mikro-orm/migrations';

/**
 * Join completions move out of `omoi_join.completed` (a jsonb map rewritten in full on every
 * source completion: O(n²) bytes for an n-source join) into `omoi_join_source`, one row per
 * completed source. Existing completions are copied over; their `completed_at` is the join's
 * `updated_at` (the old map kept no time per source). `down()` folds the rows back into the map.
 */
export class Migration20261122100000_join_sources extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "omoi_join_source" ("ticket_id" varchar(255) not null, "join_id" varchar(255) not null, "source" varchar(255) not null, "commit" varchar(255) not null, "result" jsonb null, "completed_at" timestamptz not null, constraint "omoi_join_source_pkey" primary key ("ticket_id", "join_id", "source"));`);
    this.addSql(`insert into "omoi_join_source" ("ticket_id", "join_id", "source", "commit", "result", "completed_at") select j."ticket_id", j."id", c.key, c.value->>'commit', nullif(c.value->'result', 'null'::jsonb), j."updated_at" from "omoi_join" j cross join lateral jsonb_each(j."completed") c;`);
    this.addSql(`alter table "omoi_join" drop column "completed";`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "omoi_join" add column "completed" jsonb not null default '{}';`);
    this.addSql(`update "omoi_join" j set "completed" = s.completed from (select "ticket_id", "join_id", jsonb_object_agg("source", jsonb_build_object('commit', "commit", 'result', "result")) as completed from "omoi_join_source" group by "ticket_id", "join_id") s where s."ticket_id" = j."ticket_id" and s."join_id" = j."id";`);
    this.addSql(`alter table "omoi_join" alter column "completed" drop default;`);
    this.addSql(`drop table if exists "omoi_join_source" cascade;`);
  }
}
