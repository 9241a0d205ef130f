/** The pure DAG logic of a ticket: validation, states, ready ordering, scheduling, joins, synthesis. No I/O. */
export type { TaskKind, TaskSpec } from './task-spec.ts';
export {
  TASK_ID_PATTERN,
  dependencyGraph,
  findCycle,
  formatCycle,
  topologicalOrder,
  validateTasks,
  type TaskNode,
} from './validate.ts';
export {
  TASK_TRANSITIONS,
  TICKET_TRANSITIONS,
  TaskState,
  TicketState,
  assertTicketTransition,
  assertTransition,
  canTicketTransition,
  canTransition,
  isTaskState,
  isTerminal,
  isTicketState,
} from './states.ts';
export { AGE_STEP_MS, RETRY_PENALTY, bestReady, orderReady, readyScore, type ReadyCandidate } from './ready-order.ts';
export {
  SYNTHESIS_STRATEGIES,
  synthesize,
  type SourceResult,
  type Synthesis,
  type SynthesisStrategy,
} from './synthesis.ts';
export { joinIdFor, joinsFor, taskBase, type JoinSpec, type TaskBase } from './joins.ts';
export { canonicalJson } from './canonical-json.ts';
export {
  agentLoad,
  continuationsOf,
  dueReady,
  isActive,
  missingFor,
  planAssignments,
  planClaims,
  sinksIfDone,
  soleDependents,
  tasksToExamine,
  type Assignment,
  type AssignmentPlan,
  type ClaimPlan,
  type Mismatch,
  type SchedAgent,
  type SchedTask,
} from './scheduler.ts';
