import { Migration } from '@mikro-orm/migrations';

/**
 * `omoi_join.blocked_by`: what blocked a join, as data (`source_failed`, `merge_conflict`,
 * `merge_error`, `actor_failed`), so that no decision reads the text of `reason`. Existing
 * blocked joins are classified once, here, from the reasons the earlier code wrote.
 */
export class Migration20261201220000_join_blocked_by extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "omoi_join" add column "blocked_by" varchar(255) null;`);
    this.addSql(`update "omoi_join" set "blocked_by" = case
      when "reason" = 'merge_conflict' then 'merge_conflict'
      when "reason" like 'merge\\_error%' then 'merge_error'
      when "reason" like 'actor\\_failed%' then 'actor_failed'
      else 'source_failed' end
      where "status" = 'blocked';`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "omoi_join" drop column "blocked_by";`);
  }
}
