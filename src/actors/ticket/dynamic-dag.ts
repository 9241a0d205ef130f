import { isActive, isTerminal, validateTasks, type TaskSpec } from '../../dag/index.ts';
import { ConflictError, NotFoundError } from '../../errors.ts';
import type { PayloadOf } from '../../protocol/index.ts';
import { insertTask, registerJoin } from './create.ts';
import { setTask, type Work } from './work.ts';

/** The DAG of a running ticket grows: a task is added, or a running task splits. */

function assertOpen(w: Work): void {
  if (isTerminal(w.s.ticket.status)) throw new ConflictError('ticket_ended', `ticket ${w.s.ticket.id} is ${w.s.ticket.status}`);
}

function specs(w: Work): TaskSpec[] {
  return [...w.s.tasks.values()].map((t) => ({ ...t.spec, depends_on: t.depends_on }));
}

/** `task.add`: validated against the tasks already there (ids, dependencies, cycles). */
export async function add(w: Work, p: PayloadOf<'task.add'>): Promise<void> {
  assertOpen(w);
  validateTasks([p.task], specs(w));
  insertTask(w, p.task);
  await registerJoin(w, p.task);
}

/**
 * `task.split`: a running task splits into new tasks (those listing no dependency depend on
 * the splitting task, so they start from its head once it completes) and a continuation
 * depending on all of them; tasks that depended on the splitting task now depend on the
 * continuation.
 */
export async function split(w: Work, p: PayloadOf<'task.split'>): Promise<void> {
  assertOpen(w);
  const parent = w.s.tasks.get(p.task_id);
  if (!parent) throw new NotFoundError('task', `${w.s.ticket.id}/${p.task_id}`);
  if (!isActive(parent)) throw new ConflictError('illegal_transition', `task ${JSON.stringify(parent.id)} is ${parent.status}; only a running task can split`);
  const tasks: TaskSpec[] = p.tasks.map((t) => ({ ...t, depends_on: t.depends_on.length ? t.depends_on : [parent.id] }));
  const continuation: TaskSpec = { ...p.continuation, depends_on: [...new Set([...p.continuation.depends_on, ...tasks.map((t) => t.id)])] };
  const dependents = [...w.s.tasks.values()].filter((t) => t.depends_on.includes(parent.id) && !isTerminal(t.status));
  const rewired = specs(w).map((s) => (dependents.some((d) => d.id === s.id) ? { ...s, depends_on: s.depends_on.map((d) => (d === parent.id ? continuation.id : d)) } : s));
  validateTasks([...tasks, continuation], rewired);
  for (const d of dependents) {
    const depends_on = [...new Set(d.depends_on.map((x) => (x === parent.id ? continuation.id : x)))];
    setTask(w, d.id, { depends_on, spec: { ...d.spec, depends_on } });
  }
  for (const spec of [...tasks, continuation]) insertTask(w, spec);
  for (const spec of [...tasks, continuation]) await registerJoin(w, spec);
}
