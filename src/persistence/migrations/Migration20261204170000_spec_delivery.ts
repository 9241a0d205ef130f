import { Migration } from '@mikro-orm/migrations';

/** A spec's `delivery` (`spec.create`'s), passed to its work ticket at SYNC; null for every spec before. */
export class Migration20261204170000_spec_delivery extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "omoi_spec" add column "delivery" jsonb null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "omoi_spec" drop column if exists "delivery";`);
  }
}
