import { EntitySchema } from '@mikro-orm/core';

/**
 * A spec (src/actors/spec-actor.ts): a goal planned phase by phase into a ticket. Its SpecActor
 * is the only writer. `attempt` counts the runs of the current phase since it was reached;
 * `runs` counts every run of each phase ever (it numbers the phase's tickets and artifacts).
 */
export interface SpecRow {
  id: string; title: string | null; repository: string; base_branch: string; goal: string;
  status: string; phase: string; attempt: number; max_phase_attempts: number;
  planner: string; planner_command: string | null;
  /** Run on each planning artifact in the planning task's sandbox (its `check`); null: none. */
  validator_command?: string | null;
  /** Planning phases whose passed artifact waits for a person. */
  approvals: string[];
  /** Runs of each phase so far: `{ "EXPLORE": 2, … }`. */
  runs: Record<string, number>;
  /** The ticket the spec waits for now (a phase's, or the work's in EXECUTE), or null. */
  current_ticket_id: string | null;
  /** SYNC's ticket: the work. */
  ticket_id: string | null;
  head: string | null; reason: string | null; created_by: string | null;
  /** `spec.create`'s `delivery`, passed to the work ticket's `ticket.create` at SYNC; null: none. */
  delivery: { remote?: string; branch?: string; pull_request_command?: string } | null;
  created_at: Date; updated_at: Date; version: number;
}
export const SpecEntity = new EntitySchema<SpecRow>({
  name: 'SpecRow',
  tableName: 'omoi_spec',
  properties: {
    id: { type: 'string', primary: true },
    title: { type: 'text', nullable: true },
    repository: { type: 'text' },
    base_branch: { type: 'string' },
    goal: { type: 'text' },
    status: { type: 'string', index: true },
    phase: { type: 'string' },
    attempt: { type: 'integer' },
    max_phase_attempts: { type: 'integer' },
    planner: { type: 'string' },
    planner_command: { type: 'text', nullable: true },
    validator_command: { type: 'text', nullable: true },
    approvals: { type: 'json' },
    runs: { type: 'json' },
    current_ticket_id: { type: 'string', nullable: true },
    ticket_id: { type: 'string', nullable: true },
    head: { type: 'string', nullable: true },
    reason: { type: 'text', nullable: true },
    created_by: { type: 'string', nullable: true },
    delivery: { type: 'json', nullable: true },
    created_at: { type: 'Date' },
    updated_at: { type: 'Date', index: true },
    version: { type: 'integer', default: 1 },
  },
});

/** One run's artifact of a phase (its ticket's JSON result, or null when it gave none) and its gate's verdict. */
export interface SpecArtifactRow {
  spec_id: string; phase: string; version: number; ticket_id: string;
  body: unknown;
  gate: { passed: boolean; findings: Array<{ code: string; message: string; path?: string }> };
  created_at: Date;
}
export const SpecArtifactEntity = new EntitySchema<SpecArtifactRow>({
  name: 'SpecArtifactRow',
  tableName: 'omoi_spec_artifact',
  properties: {
    spec_id: { type: 'string', primary: true },
    phase: { type: 'string', primary: true },
    version: { type: 'integer', primary: true },
    ticket_id: { type: 'string' },
    body: { type: 'json', nullable: true },
    gate: { type: 'json' },
    created_at: { type: 'Date' },
  },
});
