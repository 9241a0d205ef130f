import { Migration } from '@mikro-orm/migrations';

/** A ticket's `max_conflicts_auto_resolve` (null: no limit, as every ticket before it). */
export class Migration20261203130000_auto_resolve_limit extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "omoi_ticket" add column "max_conflicts_auto_resolve" int null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "omoi_ticket" drop column if exists "max_conflicts_auto_resolve";`);
  }
}
