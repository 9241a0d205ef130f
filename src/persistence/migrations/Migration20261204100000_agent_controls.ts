import { Migration } from '@mikro-orm/migrations';

/**
 * Agent control channels (`omoi.agent.<id>.control`):
 * - `omoi_agent.controls`: the controls sent to the agent (drain, undrain, shutdown, broadcast),
 *   newest last, with whether each awaits, got or missed its acknowledgement
 *   (`[{ control_id, kind, at, status, acknowledged_at?, overdue_at? }]`, the last 20 kept).
 * - `omoi_agent.shutting_down`: told to shut down (`agent.shutdown`); it is removed (reason
 *   `shutdown`) once its running attempts end.
 */
export class Migration20261204100000_agent_controls extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "omoi_agent" add column "controls" jsonb not null default '[]', add column "shutting_down" boolean not null default false;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "omoi_agent" drop column "controls", drop column "shutting_down";`);
  }
}
