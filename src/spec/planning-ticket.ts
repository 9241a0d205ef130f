import { shellQuote } from '../demo/demo-ticket.ts';
import type { SpecRow } from '../persistence/index.ts';
import type { PayloadOf } from '../protocol/index.ts';
import type { Finding } from './gates/gate.ts';
import { PLAN_TASK_ID, phaseTicketId, type PlanningPhase } from './phases.ts';

/** What each planning phase asks for; the artifact's exact shape is its JSON Schema (src/spec/gates/artifacts.ts). */
export const PHASE_INSTRUCTIONS: Record<PlanningPhase, string> = {
  EXPLORE: 'Read the repository (do not change any file) and report what matters for the goal: '
    + '{"summary": string, "files": [paths that matter], "findings": [at least one string]}.',
  REQUIREMENTS: 'Write the requirements of the goal, each with acceptance criteria in EARS form '
    + '("WHEN <trigger> THE SYSTEM SHALL <response>"): {"requirements": [{"id": "REQ-1", "title": string, "acceptance": [string, ...]}, ...]}.',
  DESIGN: 'Design the change: {"summary": string, "components": [{"name": string, "description": string, "files": [paths]}], "decisions": [string]}.',
  TASKS: 'Break the design into a DAG of tasks, as for `ticket.create` (id, title, depends_on, owns, kind, run, ...) plus '
    + '"requirements": the ids of the requirements each task serves; every requirement must be served by some task; '
    + 'a task may carry "check" (a command verifying its work) and "acceptance" (the ids "<requirement>.<n>" of the acceptance criteria its check verifies, n counting from 1): '
    + '{"tasks": [...], "ownership": "strict" | "lenient"}.',
};

/** What a planning run is told: its instructions, the goal, the artifacts so far and the last gate's findings. */
export interface PhaseContext {
  spec_id: string; phase: PlanningPhase; attempt: number; goal: string; repository: string; base_branch: string;
  instructions: string;
  /** The passed artifact of each earlier phase. */
  artifacts: Partial<Record<PlanningPhase, unknown>>;
  /** Why the previous run of this phase was not accepted (empty on a first run). */
  findings: Finding[];
}

/**
 * The `ticket.create` of one run of a planning phase: one task, `plan`, that must change no file
 * (strict ownership with no globs: any change fails it), so the phase is read-only and the
 * executors, claims, timeouts and budgets of tickets apply unchanged. Its JSON result is the
 * artifact. Not retried by the ticket (`max_retries: 0`): the spec retries the phase, with findings.
 *
 * - `command` planner: `planner_command` runs with the context as JSON in `OMOI_SPEC_CONTEXT`.
 * - `agent` planner: the context is the agent's prompt (the node's agent template runs it).
 */
export function planningTicket(spec: SpecRow, context: PhaseContext, run: number): PayloadOf<'ticket.create'> {
  const json = JSON.stringify(context);
  const command = `export OMOI_SPEC_CONTEXT=${shellQuote(json)}; ${spec.planner_command ?? 'false'}`;
  const prompt = [
    `You are planning phase ${context.phase} of a spec (attempt ${context.attempt}).`,
    context.instructions,
    'Do not change any file of the repository. Write your artifact as one JSON object to the file named by the environment variable OMOI_RESULT_FILE.',
    context.findings.length ? `Your previous artifact was not accepted: fix these findings:\n${context.findings.map((f) => `- ${f.code}: ${f.message}`).join('\n')}` : '',
    `Context (JSON):\n${json}`,
  ].filter(Boolean).join('\n\n');
  return {
    ticket_id: phaseTicketId(spec.id, context.phase, run),
    title: `spec ${spec.id}: ${context.phase} (run ${run})`,
    repository: spec.repository,
    base_branch: spec.base_branch,
    ownership: 'strict',
    spec_id: spec.id,
    spec_phase: context.phase,
    tasks: [{
      id: PLAN_TASK_ID, title: `${context.phase} of spec ${spec.id}`, depends_on: [], owns: [], capabilities: [], phase: 'execute', priority: 0,
      kind: spec.planner === 'command' ? 'command' : 'agent', run: spec.planner === 'command' ? command : prompt, max_retries: 0, timeout_ms: 600_000,
      // The spec's own gate: it sees the artifact (OMOI_RESULT_FILE) in the same read-only sandbox.
      ...(spec.validator_command ? { check: `export OMOI_SPEC_PHASE=${context.phase}; ${spec.validator_command}` } : {}),
    }],
  };
}
