import type { TaskSpec } from './task-spec.ts';

/** A join: the continuation waits for every source, then runs on their merge. */
export interface JoinSpec {
  /** `join-<continuation>`: one join per continuation, stable across restarts and nodes. */
  joinId: string;
  continuation: string;
  /** Distinct dependency ids, sorted (code-unit order). */
  sources: string[];
}

/** Where a task's branch starts. */
export type TaskBase =
  | { kind: 'ticket_base' }
  | { kind: 'parent'; task: string }
  | { kind: 'join'; joinId: string };

/** The join id of a continuation. Deterministic, so redelivered creates land on one join. */
export function joinIdFor(continuation: string): string {
  return `join-${continuation}`;
}

/**
 * Every join the tasks imply: one per task with two or more (distinct) dependencies, however
 * the task was created (spec, split, direct addition). Sorted by join id; deterministic.
 */
export function joinsFor(tasks: readonly Pick<TaskSpec, 'id' | 'depends_on'>[]): JoinSpec[] {
  const joins: JoinSpec[] = [];
  for (const task of tasks) {
    const sources = distinctSorted(task.depends_on);
    if (sources.length >= 2) joins.push({ joinId: joinIdFor(task.id), continuation: task.id, sources });
  }
  return joins.sort((a, b) => (a.joinId < b.joinId ? -1 : a.joinId > b.joinId ? 1 : 0));
}

/**
 * The base of a task's branch: the ticket's base branch (no dependencies), the head of its
 * one parent's branch, or the merge commit of its join (several dependencies).
 */
export function taskBase(task: Pick<TaskSpec, 'id' | 'depends_on'>): TaskBase {
  const deps = distinctSorted(task.depends_on);
  if (deps.length === 0) return { kind: 'ticket_base' };
  if (deps.length === 1) return { kind: 'parent', task: deps[0]! };
  return { kind: 'join', joinId: joinIdFor(task.id) };
}

function distinctSorted(ids: readonly string[]): string[] {
  return [...new Set(ids)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
