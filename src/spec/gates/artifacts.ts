import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TaskSpec } from '../../protocol/messages/common.ts';
import { SAFE_ID_PATTERN } from '../../ids.ts';
import type { PlanningPhase } from '../phases.ts';

/**
 * The JSON Schemas of the planning phases' artifacts (what a phase's ticket writes to
 * `OMOI_RESULT_FILE`). The gate of each phase checks its artifact against its schema first.
 */

const Text = (max = 10_000) => Type.String({ minLength: 1, maxLength: max });
const RequirementId = Type.String({ minLength: 1, maxLength: 64, pattern: SAFE_ID_PATTERN.source });

/** EXPLORE: what the agent found in the repository that matters for the goal. */
export const Findings = Type.Object({
  summary: Text(),
  files: Type.Array(Text(1000), { maxItems: 5000, description: 'files of the repository that matter for the goal' }),
  findings: Type.Array(Text(), { minItems: 1, maxItems: 200 }),
}, { additionalProperties: false });

/**
 * An acceptance criterion in EARS form: `WHEN <trigger> THE SYSTEM SHALL <response>` (or
 * `WHILE …`, `IF … THEN …`, or a plain `THE SYSTEM SHALL …`).
 */
export const EARS_PATTERN = '^(?:(?:WHEN|WHILE|WHERE) .+ |IF .+ THEN )?THE SYSTEM SHALL .+';
export const Acceptance = Type.String({ minLength: 1, maxLength: 2000, pattern: EARS_PATTERN });

/** REQUIREMENTS: ids, titles and EARS acceptance criteria. */
export const Requirements = Type.Object({
  requirements: Type.Array(Type.Object({
    id: RequirementId,
    title: Text(500),
    acceptance: Type.Array(Acceptance, { minItems: 1, maxItems: 50 }),
  }, { additionalProperties: false }), { minItems: 1, maxItems: 500 }),
}, { additionalProperties: false });

/** DESIGN: the components the change touches and the decisions taken. */
export const Design = Type.Object({
  summary: Text(),
  components: Type.Array(Type.Object({
    name: Text(200),
    description: Text(),
    files: Type.Optional(Type.Array(Text(1000), { maxItems: 1000 })),
  }, { additionalProperties: false }), { minItems: 1, maxItems: 200 }),
  decisions: Type.Optional(Type.Array(Text(), { maxItems: 200 })),
}, { additionalProperties: false });

/** A task of the TASKS artifact: a ticket task, plus the requirement ids it serves. */
export const PlannedTask = Type.Composite([
  Type.Omit(TaskSpec, []),
  Type.Object({ requirements: Type.Array(RequirementId, { minItems: 1, maxItems: 100 }) }),
], { additionalProperties: false });

/** TASKS: the DAG the work ticket is made of (SYNC), and its ticket-level options. */
export const Tasks = Type.Object({
  tasks: Type.Array(PlannedTask, { minItems: 1, maxItems: 5000 }),
  ownership: Type.Optional(Type.Union([Type.Literal('strict'), Type.Literal('lenient')])),
  resolver_command: Type.Optional(Type.String({ maxLength: 10_000 })),
  check_command: Type.Optional(Type.String({ maxLength: 10_000 })),
}, { additionalProperties: false });

export type FindingsArtifact = Static<typeof Findings>;
export type RequirementsArtifact = Static<typeof Requirements>;
export type DesignArtifact = Static<typeof Design>;
export type TasksArtifact = Static<typeof Tasks>;

export const ARTIFACT_SCHEMAS: Record<PlanningPhase, TSchema> = {
  EXPLORE: Findings,
  REQUIREMENTS: Requirements,
  DESIGN: Design,
  TASKS: Tasks,
};
