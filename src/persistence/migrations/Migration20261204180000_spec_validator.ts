import { Migration } from '@mikro-orm/migrations';

/** A spec's optional `validator_command` (`spec.create`'s), run on each planning phase's artifact; null for every spec before. */
export class Migration20261204180000_spec_validator extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "omoi_spec" add column "validator_command" text null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "omoi_spec" drop column if exists "validator_command";`);
  }
}
