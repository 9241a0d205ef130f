import { Migration } from '@mikro-orm/migrations';

/** `omoi_ticket.network`: false runs the ticket's commands with no network (`ticket.create` `network`). */
export class Migration20261202120000_ticket_network extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "omoi_ticket" add column "network" boolean not null default true;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "omoi_ticket" drop column "network";`);
  }
}
