import { Migration } from '@mikro-orm/migrations';

/** Indexes on the time columns the retention sweep deletes resolved alerts and finished deliveries by. */
export class Migration20261202180000_alert_retention extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index "omoi_alert_resolved_at_index" on "omoi_alert" ("resolved_at");`);
    this.addSql(`create index "omoi_alert_delivery_updated_at_index" on "omoi_alert_delivery" ("updated_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "omoi_alert_resolved_at_index";`);
    this.addSql(`drop index if exists "omoi_alert_delivery_updated_at_index";`);
  }
}
