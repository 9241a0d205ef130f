import { Migration } from '@mikro-orm/migrations';
import { MEMORY_SEARCH_SQL } from '../entities/memory.ts';

/**
 * Memory of past work (`omoi_memory`, src/memory/): one row per indexed domain event, with a
 * generated `tsvector` and its GIN index for full-text recall per repository.
 */
export class Migration20261204110000_memory extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "omoi_memory" ("id" bigserial primary key, "event_id" varchar(255) not null, "repository" varchar(255) not null, "kind" varchar(255) not null, "ticket_id" varchar(255) not null, "task_id" varchar(255) null, "join_id" varchar(255) null, "title" text not null, "body" text not null, "files" jsonb not null, "terms" text not null, "commit" varchar(255) null, "resolutions" jsonb not null default '[]', "created_at" timestamptz not null, "search" tsvector generated always as (${MEMORY_SEARCH_SQL}) stored null);`);
    this.addSql(`alter table "omoi_memory" add constraint "omoi_memory_event_id_unique" unique ("event_id");`);
    this.addSql(`create index "omoi_memory_created_at_index" on "omoi_memory" ("created_at");`);
    this.addSql(`create index "omoi_memory_repository_created_at_index" on "omoi_memory" ("repository", "created_at");`);
    this.addSql(`create index "omoi_memory_search_index" on "omoi_memory" using gin ("search");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "omoi_memory";`);
  }
}
