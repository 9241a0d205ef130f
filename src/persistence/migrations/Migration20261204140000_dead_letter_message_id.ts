import { Migration } from '@mikro-orm/migrations';

/**
 * An index on the dead letters' message id: a running task's API (src/task-api) looks its
 * command's refusal up by it, several times per call, instead of scanning the table.
 */
export class Migration20261204140000_dead_letter_message_id extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index "omoi_dead_letter_message_id_index" on "omoi_dead_letter" ("message_id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "omoi_dead_letter_message_id_index";`);
  }
}
