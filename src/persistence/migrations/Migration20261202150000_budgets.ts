import { Migration } from '@mikro-orm/migrations';

const NO_SPEND = `'{"cost_usd":0,"wall_ms":0,"input_tokens":0,"output_tokens":0,"attempts":0}'`;

/**
 * Budgets and spend of tickets and agents (`budget`, `spend`, `budget_marks`, `budget_exceeded`),
 * and the usage of each task attempt (`omoi_attempt_usage`).
 */
export class Migration20261202150000_budgets extends Migration {
  override async up(): Promise<void> {
    for (const table of ['omoi_ticket', 'omoi_agent']) {
      this.addSql(`alter table "${table}" add column "budget" jsonb null, add column "spend" jsonb not null default ${NO_SPEND}, add column "budget_marks" jsonb not null default '{}', add column "budget_exceeded" boolean not null default false;`);
    }
    this.addSql(`create table "omoi_attempt_usage" ("ticket_id" varchar(255) not null, "task_id" varchar(255) not null, "attempt" int not null, "agent_id" varchar(255) null, "outcome" varchar(255) not null, "model" varchar(255) null, "usage" jsonb not null, "recorded_at" timestamptz not null, constraint "omoi_attempt_usage_pkey" primary key ("ticket_id", "task_id", "attempt"));`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "omoi_attempt_usage" cascade;`);
    for (const table of ['omoi_ticket', 'omoi_agent']) {
      this.addSql(`alter table "${table}" drop column "budget", drop column "spend", drop column "budget_marks", drop column "budget_exceeded";`);
    }
  }
}
