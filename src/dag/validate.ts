import { TerminalError } from '../errors.ts';
import { isSafeId, MAX_ID_LENGTH, SAFE_ID_PATTERN } from '../ids.ts';
import type { TaskSpec } from './task-spec.ts';

/** Task ids become git branch names (and parts of join ids): the safe ids of src/ids.ts. */
export const TASK_ID_PATTERN = SAFE_ID_PATTERN;

/** The part of a task the graph checks need. */
export type TaskNode = Pick<TaskSpec, 'id' | 'depends_on'>;

/**
 * Checks that `tasks` form a valid DAG, alone or added to `existing` (a split or an
 * addition to a running ticket; `existing` is trusted as already validated).
 *
 * Checks, in this order, stopping at the first problem (tasks in the order given):
 * - `empty_ticket`: no tasks given;
 * - `invalid_task_id`: an id does not match `TASK_ID_PATTERN` (or a dependency is not a string);
 * - `duplicate_task`: an id appears twice among the new tasks, or also among `existing`;
 * - `self_dependency`: a task depends on itself;
 * - `duplicate_dependency`: a task lists the same dependency twice;
 * - `unknown_dependency`: a dependency is neither a new nor an existing task;
 * - `cycle`: the combined graph has a cycle; `details.cycle` is the path
 *   (`['A', 'B', 'C', 'A']`: A depends on B, B on C, C on A) and the message shows `A → B → C → A`.
 *
 * @throws TerminalError (HTTP 400) with one of the codes above and the offending ids in `details`.
 */
export function validateTasks(tasks: readonly TaskNode[], existing: readonly TaskNode[] = []): void {
  if (tasks.length === 0) {
    throw new TerminalError(
      'empty_ticket',
      existing.length === 0 ? 'a ticket needs at least one task' : 'no new tasks were given',
    );
  }

  for (const task of tasks) {
    if (!isSafeId(task.id)) {
      throw new TerminalError(
        'invalid_task_id',
        `task id ${JSON.stringify(task.id)} is invalid: at most ${MAX_ID_LENGTH} characters matching ${TASK_ID_PATTERN.source} (it becomes a branch name)`,
        { task: task.id, pattern: TASK_ID_PATTERN.source },
      );
    }
  }

  const known = new Set(existing.map((t) => t.id));
  for (const task of tasks) {
    if (known.has(task.id)) {
      const where = existing.some((t) => t.id === task.id) ? 'already exists in the ticket' : 'is given twice';
      throw new TerminalError('duplicate_task', `task ${JSON.stringify(task.id)} ${where}`, { task: task.id });
    }
    known.add(task.id);
  }

  for (const task of tasks) {
    const seen = new Set<string>();
    for (const dep of task.depends_on) {
      if (typeof dep !== 'string') {
        throw new TerminalError(
          'invalid_task_id',
          `task ${JSON.stringify(task.id)} has a dependency that is not a task id: ${JSON.stringify(dep)}`,
          { task: task.id, dependency: dep },
        );
      }
      if (dep === task.id) {
        throw new TerminalError('self_dependency', `task ${JSON.stringify(task.id)} depends on itself`, {
          task: task.id,
          cycle: [task.id, task.id],
        });
      }
      if (seen.has(dep)) {
        throw new TerminalError(
          'duplicate_dependency',
          `task ${JSON.stringify(task.id)} lists dependency ${JSON.stringify(dep)} more than once`,
          { task: task.id, dependency: dep },
        );
      }
      seen.add(dep);
      if (!known.has(dep)) {
        throw new TerminalError(
          'unknown_dependency',
          `task ${JSON.stringify(task.id)} depends on ${JSON.stringify(dep)}, which is not a task of this ticket`,
          { task: task.id, dependency: dep },
        );
      }
    }
  }

  const cycle = findCycle(dependencyGraph([...existing, ...tasks]));
  if (cycle) {
    throw new TerminalError('cycle', `the tasks form a cycle: ${formatCycle(cycle)}`, { cycle });
  }
}

/** Renders a cycle path for messages: `A → B → C → A`. */
export function formatCycle(cycle: readonly string[]): string {
  return cycle.join(' → ');
}

/** Task id → its dependencies, in the order given. */
export function dependencyGraph(tasks: readonly TaskNode[]): Map<string, string[]> {
  return new Map(tasks.map((t) => [t.id, [...t.depends_on]]));
}

/**
 * Finds one cycle in `graph` (node → the nodes it depends on), or returns null.
 *
 * The cycle is returned as a closed path following the edges: `['A', 'B', 'C', 'A']` means
 * A → B → C → A; a self-loop is `['A', 'A']`. The path is rotated to start at its smallest
 * id (code-unit order), so the same graph always reports the same path whatever the
 * insertion order. Edges to nodes absent from the map are ignored. Iterative: deep chains
 * cannot overflow the stack.
 */
export function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | null {
  const done = new Set<string>();
  const onPath = new Map<string, number>(); // node → its index in `path`
  const path: string[] = [];

  for (const start of graph.keys()) {
    if (done.has(start)) continue;
    // Each frame: a node and the index of the next dependency to visit.
    const stack: Array<{ node: string; next: number }> = [{ node: start, next: 0 }];
    onPath.set(start, 0);
    path.push(start);

    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const deps = graph.get(frame.node) ?? [];
      if (frame.next < deps.length) {
        const dep = deps[frame.next++]!;
        if (!graph.has(dep) || done.has(dep)) continue;
        const at = onPath.get(dep);
        if (at !== undefined) return canonicalRotation(path.slice(at));
        onPath.set(dep, path.length);
        path.push(dep);
        stack.push({ node: dep, next: 0 });
      } else {
        stack.pop();
        path.pop();
        onPath.delete(frame.node);
        done.add(frame.node);
      }
    }
  }
  return null;
}

/** `[B, C, A]` (open loop) → `[A, B, C, A]` (closed, starting at the smallest id). */
function canonicalRotation(loop: string[]): string[] {
  let min = 0;
  for (let i = 1; i < loop.length; i++) if (loop[i]! < loop[min]!) min = i;
  const rotated = [...loop.slice(min), ...loop.slice(0, min)];
  return [...rotated, rotated[0]!];
}

/**
 * Orders tasks so that every task comes after all of its dependencies. Deterministic: a
 * depth-first post-order over the tasks in the order given, dependencies in the order
 * listed. Dependencies that are not among `tasks` are treated as already satisfied (so a
 * subset of a ticket can be ordered). Returns a new array; the input is not modified.
 *
 * @throws TerminalError `cycle` if the tasks are not a DAG.
 */
export function topologicalOrder<T extends TaskNode>(tasks: readonly T[]): T[] {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const cycle = findCycle(dependencyGraph(tasks));
  if (cycle) throw new TerminalError('cycle', `the tasks form a cycle: ${formatCycle(cycle)}`, { cycle });

  const emitted = new Set<string>();
  const order: T[] = [];
  for (const root of tasks) {
    if (emitted.has(root.id)) continue;
    const stack: Array<{ task: T; next: number }> = [{ task: root, next: 0 }];
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const deps = frame.task.depends_on;
      if (frame.next < deps.length) {
        const dep = byId.get(deps[frame.next++]!);
        if (dep && !emitted.has(dep.id)) stack.push({ task: dep, next: 0 });
      } else {
        stack.pop();
        // A task reachable twice on the stack (diamond) is emitted once, at its first finish.
        if (!emitted.has(frame.task.id)) {
          emitted.add(frame.task.id);
          order.push(frame.task);
        }
      }
    }
  }
  return order;
}
