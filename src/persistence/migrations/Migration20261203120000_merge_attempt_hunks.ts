import { Migration } from '@mikro-orm/migrations';

/** A merge attempt keeps the conflict hunks of the files it left unresolved and the resolver's exit code (for the merge attempt view). */
export class Migration20261203120000_merge_attempt_hunks extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "omoi_merge_attempt" add column "conflict_hunks" jsonb not null default '{}', add column "resolver_exit_code" int null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "omoi_merge_attempt" drop column "conflict_hunks", drop column "resolver_exit_code";`);
  }
}
