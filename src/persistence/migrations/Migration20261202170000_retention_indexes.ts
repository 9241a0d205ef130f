import { Migration } from '@mikro-orm/migrations';

/**
 * Indexes on the time columns the retention sweep (`src/persistence/retention.ts`) deletes by:
 * each batch finds its oldest rows by index instead of scanning a hot table.
 */
export class Migration20261202170000_retention_indexes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index "omoi_processed_message_processed_at_index" on "omoi_processed_message" ("processed_at");`);
    this.addSql(`create index "omoi_event_time_index" on "omoi_event" ("time");`);
    this.addSql(`create index "omoi_dead_letter_resolved_at_index" on "omoi_dead_letter" ("resolved_at");`);
    this.addSql(`create index "omoi_audit_at_index" on "omoi_audit" ("at");`);
    this.addSql(`create index "omoi_lease_history_held_to_index" on "omoi_lease_history" ("held_to");`);
  }

  override async down(): Promise<void> {
    for (const index of ['omoi_processed_message_processed_at_index', 'omoi_event_time_index', 'omoi_dead_letter_resolved_at_index', 'omoi_audit_at_index', 'omoi_lease_history_held_to_index']) {
      this.addSql(`drop index if exists "${index}";`);
    }
  }
}
