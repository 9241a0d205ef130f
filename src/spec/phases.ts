/**
 * The phases of a spec, in order, and its statuses. A planning phase runs as a one-task ticket
 * whose JSON result is the phase's artifact; SYNC turns the TASKS artifact into the one ticket
 * that does the work; EXECUTE follows that ticket; COMPLETE is reached when it completed.
 */
export const SpecPhase = {
  EXPLORE: 'EXPLORE',
  REQUIREMENTS: 'REQUIREMENTS',
  DESIGN: 'DESIGN',
  TASKS: 'TASKS',
  SYNC: 'SYNC',
  EXECUTE: 'EXECUTE',
  COMPLETE: 'COMPLETE',
} as const;
export type SpecPhase = (typeof SpecPhase)[keyof typeof SpecPhase];

/** The phases an agent plans in (each one a ticket and an artifact), in order. */
export const PLANNING_PHASES = [SpecPhase.EXPLORE, SpecPhase.REQUIREMENTS, SpecPhase.DESIGN, SpecPhase.TASKS] as const;
export type PlanningPhase = (typeof PLANNING_PHASES)[number];

export const SPEC_PHASES: readonly SpecPhase[] = Object.values(SpecPhase);

export const SpecStatus = {
  planning: 'planning',
  awaiting_approval: 'awaiting_approval',
  executing: 'executing',
  completed: 'completed',
  blocked: 'blocked',
  failed: 'failed',
} as const;
export type SpecStatus = (typeof SpecStatus)[keyof typeof SpecStatus];

export function isPlanningPhase(phase: string): phase is PlanningPhase {
  return (PLANNING_PHASES as readonly string[]).includes(phase);
}

/** The planning phase after `phase`, or SYNC after TASKS. */
export function nextPhase(phase: PlanningPhase): SpecPhase {
  const i = PLANNING_PHASES.indexOf(phase);
  return i + 1 < PLANNING_PHASES.length ? PLANNING_PHASES[i + 1]! : SpecPhase.SYNC;
}

/** The one task of a planning ticket. */
export const PLAN_TASK_ID = 'plan';

/**
 * Ids derived from the spec, so a re-sent create names the same ticket: the `run`-th run of a
 * planning phase is ticket `spec-<spec>-<phase>-v<run>`, the work is `spec-<spec>-exec-v<run>`.
 * A spec id is at most `MAX_SPEC_ID_LENGTH` long so these stay within `MAX_ID_LENGTH` (64).
 */
export const MAX_SPEC_ID_LENGTH = 40;

export function phaseTicketId(specId: string, phase: PlanningPhase, run: number): string {
  return `spec-${specId}-${phase.toLowerCase()}-v${run}`;
}

export function executionTicketId(specId: string, run: number): string {
  return `spec-${specId}-exec-v${run}`;
}
