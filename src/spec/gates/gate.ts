import type { Static } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import { validateTasks } from '../../dag/index.ts';
import { errorMessage, TerminalError } from '../../errors.ts';
import type { GateFinding } from '../../protocol/messages/spec.ts';
import { PLANNING_PHASES, type PlanningPhase } from '../phases.ts';
import { ARTIFACT_SCHEMAS, type RequirementsArtifact, type TasksArtifact } from './artifacts.ts';

export type Finding = Static<typeof GateFinding>;

/** A gate's verdict on one artifact: passed, or the findings the phase's next run is given. */
export interface GateResult { passed: boolean; findings: Finding[] }

/** The artifacts of the phases before, as the gate of a later phase needs them (REQUIREMENTS for TASKS). */
export type EarlierArtifacts = Partial<Record<PlanningPhase, unknown>>;

/** At most this many schema findings are reported: enough to fix, small enough for a prompt. */
const MAX_SCHEMA_FINDINGS = 20;

const checks = new Map<PlanningPhase, TypeCheck<TSchema>>(PLANNING_PHASES.map((p) => [p, TypeCompiler.Compile(ARTIFACT_SCHEMAS[p])]));

/**
 * The gate of a planning phase. Met when:
 * 1. there is an artifact (the phase's ticket wrote a JSON result) and it validates against the
 *    phase's JSON Schema (src/spec/gates/artifacts.ts);
 * 2. TASKS only: its tasks pass the same DAG checks as `ticket.create` (src/dag/validate.ts: the
 *    cycle named, unknown dependencies, duplicates) and every requirement of the REQUIREMENTS
 *    artifact is served by at least one task (`requirements` of a task), and no task names an
 *    unknown requirement; every id in a task's `acceptance` names an acceptance criterion of
 *    the REQUIREMENTS artifact (see `acceptanceIds`), so a task's `check` verifies real criteria.
 * Approval by a person is not part of the gate: a passed phase listed in the spec's `approvals`
 * waits in `awaiting_approval` (`spec.approve`, `spec.reject`; see SpecActor).
 */
export function checkGate(phase: PlanningPhase, artifact: unknown, earlier: EarlierArtifacts): GateResult {
  if (artifact === null || artifact === undefined) {
    return fail({ code: 'artifact_missing', message: `the ${phase} phase wrote no artifact (a JSON object in OMOI_RESULT_FILE)` });
  }
  const check = checks.get(phase)!;
  // Defaults filled as the codec fills a command's (a task's `capabilities`, `priority`…).
  const filled = Value.Default(ARTIFACT_SCHEMAS[phase], Value.Clone(artifact));
  if (!check.Check(filled)) {
    const findings: Finding[] = [];
    for (const err of check.Errors(filled)) {
      findings.push({ code: 'schema_violation', message: `${err.path || '/'}: ${err.message}`, path: err.path || '/' });
      if (findings.length >= MAX_SCHEMA_FINDINGS) break;
    }
    return fail(...findings);
  }
  if (phase === 'TASKS') return checkTasks(filled as TasksArtifact, earlier.REQUIREMENTS as RequirementsArtifact | undefined);
  return { passed: true, findings: [] };
}

function checkTasks(artifact: TasksArtifact, requirements: RequirementsArtifact | undefined): GateResult {
  try {
    validateTasks(artifact.tasks);
  } catch (err) {
    if (err instanceof TerminalError) return fail({ code: err.code, message: err.message });
    return fail({ code: 'invalid_tasks', message: errorMessage(err) });
  }
  const findings: Finding[] = [];
  const known = new Set((requirements?.requirements ?? []).map((r) => r.id));
  const served = new Set(artifact.tasks.flatMap((t) => t.requirements));
  for (const r of known) {
    if (!served.has(r)) findings.push({ code: 'requirement_not_covered', message: `requirement ${r} is served by no task (list it in a task's "requirements")`, path: r });
  }
  for (const t of artifact.tasks) {
    for (const r of t.requirements) {
      if (!known.has(r)) findings.push({ code: 'unknown_requirement', message: `task ${t.id} names requirement ${r}, which the REQUIREMENTS artifact does not have`, path: `${t.id}/${r}` });
    }
  }
  const criteria = acceptanceIds(requirements);
  for (const t of artifact.tasks) {
    for (const a of t.acceptance ?? []) {
      if (!criteria.has(a)) findings.push({ code: 'unknown_acceptance', message: `task ${t.id} verifies acceptance criterion ${a}, which the REQUIREMENTS artifact does not have (ids are <requirement>.<n>, n counting from 1)`, path: `${t.id}/${a}` });
    }
  }
  return findings.length ? fail(...findings) : { passed: true, findings: [] };
}

/**
 * The ids of the acceptance criteria: the `n`-th criterion (from 1) of requirement `REQ-1` is
 * `REQ-1.n`. Criteria are plain EARS sentences; their place in the list is their id.
 */
export function acceptanceIds(requirements: RequirementsArtifact | undefined): Set<string> {
  return new Set((requirements?.requirements ?? []).flatMap((r) => r.acceptance.map((_, i) => `${r.id}.${i + 1}`)));
}

function fail(...findings: Finding[]): GateResult {
  return { passed: false, findings };
}

/** One line for a person: the first finding (and how many more). */
export function describeFindings(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'gate not met';
  const first = `${findings[0]!.code}: ${findings[0]!.message}`;
  return findings.length > 1 ? `${first} (and ${findings.length - 1} more)` : first;
}
