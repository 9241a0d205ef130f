import type { SynthesisStrategy } from './synthesis.ts';

/** How a task is executed: a shell command, or an agent CLI given `run` as its prompt. */
export type TaskKind = 'command' | 'agent';

/**
 * One task of a ticket, as the DAG logic sees it. The wire schema (with field limits) lives
 * in `src/protocol/`; this is the plain shape after parsing.
 */
export interface TaskSpec {
  /** Unique within the ticket; becomes part of a git branch name (see `TASK_ID_PATTERN`). */
  id: string;
  title?: string;
  /** Ids of the tasks this one starts after. Two or more make it a join continuation. */
  depends_on: string[];
  /** Globs of the files this task may change (its ownership claims). */
  owns: string[];
  /** Capabilities an agent must have to be offered this task. */
  capabilities: string[];
  /** Phase an agent must be in to be offered this task. */
  phase: string;
  /** Higher runs first among ready tasks (see `readyScore`). */
  priority: number;
  kind: TaskKind;
  /** The command line (`command`) or the prompt (`agent`). */
  run: string;
  /** Attempts after the first one before the task fails for good. */
  max_retries: number;
  timeout_ms: number;
  /** For a join continuation: how its sources' results are merged. Default `combine`. */
  synthesis?: SynthesisStrategy;
  /** Run in the task's sandbox after it succeeded; failing it fails the attempt (`check_failed`). */
  check?: string;
  /** Ids of the spec's acceptance criteria this task's check verifies (stored and shown only, for now). */
  acceptance?: string[];
}
