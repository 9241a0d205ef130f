import { bestReady } from './ready-order.ts';
import { TaskState } from './states.ts';
import type { TaskSpec } from './task-spec.ts';

/**
 * The scheduler of one ticket: rows and agents in, decisions out. No I/O, no clock (the
 * caller passes `now`), no mutation of its inputs; the TicketActor applies the decisions.
 *
 * It is called in two steps per message, because a claim needs an answer from the
 * OwnershipActor in between:
 *
 *     planClaims(tasks, touched)  → ClaimPlan[]      the actor asks for the globs → ready | waiting_for_files
 *     planAssignments(tasks, agents, now) → AssignmentPlan   the actor writes `assigned`, sends `agent.assign`
 *
 * Invariants (property-tested in test/dag/scheduler-property.test.ts):
 * 1. A task is schedulable once every dependency is `completed`; a join continuation (two or
 *    more distinct dependencies) only once its join merged, i.e. its `base_commit` is set.
 * 2. Only the tasks a message touched, and the pending dependents of those it completed, are
 *    examined (`touched`), unless the message may have changed any of them (`'all'`).
 * 3. A task is offered only to an agent of its phase, with every capability it requires,
 *    `healthy`, not draining, within its budget, below its capacity (counting this ticket's active attempts and other tickets'
 *    from the agent row). No task is assigned twice, no agent beyond its capacity.
 * 4. Ready tasks go in `orderReady` order (priority, then age, then fewer retries, then id),
 *    a task whose retry backoff has not elapsed (`ready_since` > now) not at all; only as many
 *    are ordered as there are free slots (`bestReady`).
 * 5. Work-conserving: a due ready task left unassigned has no matching agent below capacity.
 */

/** What the scheduler reads of a task row. */
export interface SchedTask {
  readonly id: string;
  readonly status: TaskState;
  readonly spec: Pick<TaskSpec, 'phase' | 'capabilities' | 'priority'>;
  readonly depends_on: readonly string[];
  readonly owns: readonly string[];
  readonly attempt: number;
  readonly base_commit: string | null;
  readonly commit: string | null;
  readonly result: unknown;
  readonly context: unknown;
  /** When it last became ready; in the future while a retry backs off. */
  readonly ready_since: Date | null;
  readonly agent_id: string | null;
  /** `agent.mismatch` was already reported for this ready state. */
  readonly unmatched: boolean;
}

/** What the scheduler reads of an agent row. */
export interface SchedAgent {
  readonly id: string;
  readonly phase: string;
  readonly capabilities: readonly string[];
  readonly status: string;
  readonly capacity: number;
  /** `<ticket>/<task>/<attempt>` keys of the attempts the agent runs, as its row knows them. */
  readonly running: readonly string[];
  /** Its budget is spent: it is offered nothing until `agent.set_budget` raises it. */
  readonly budget_exceeded?: boolean;
  /** Stops not acknowledged yet: their attempts ended, but still hold a slot (of any ticket). */
  readonly stopping?: ReadonlyArray<{ key: string }>;
  /** Draining (`agent.drain`): it finishes what it runs and is offered nothing new. */
  readonly draining?: boolean;
}

/** A task whose dependencies are done: the claims to ask for, and where it will start. */
export interface ClaimPlan {
  taskId: string;
  /** Empty: it claims nothing and is ready at once. */
  globs: readonly string[];
  base: string;
  context: unknown;
}

export interface Assignment { taskId: string; agentId: string }
export interface Mismatch { taskId: string; phase: string; required: string[]; candidates: Array<{ agent_id: string; missing: string[] }> }

export interface AssignmentPlan {
  /** In the order they were decided (best first). */
  assignments: Assignment[];
  /** Ready tasks no agent matches, reported once per ready state (`unmatched` was false). */
  mismatches: Mismatch[];
}

const ACTIVE: ReadonlySet<string> = new Set([TaskState.assigned, TaskState.running]);

/** True while an attempt of the task is out on an agent (`assigned` or `running`). */
export function isActive(task: Pick<SchedTask, 'status'>): boolean {
  return ACTIVE.has(task.status);
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The pending tasks to examine, by id: all of them (`'all'`), else those among `touched`
 * that are pending and the pending dependents of those among `touched` that completed. Keeps
 * a 1000-task ticket from rescanning every task on every completion.
 */
export function tasksToExamine(tasks: ReadonlyMap<string, SchedTask>, touched: Iterable<string> | 'all'): SchedTask[] {
  if (touched === 'all') return [...tasks.values()].filter((t) => t.status === TaskState.pending).sort(byId);
  const ids = new Set<string>();
  const completed = new Set<string>();
  for (const id of touched) {
    const t = tasks.get(id);
    if (t?.status === TaskState.pending) ids.add(id);
    else if (t?.status === TaskState.completed) completed.add(id);
  }
  if (completed.size) {
    for (const t of tasks.values()) if (t.status === TaskState.pending && t.depends_on.some((d) => completed.has(d))) ids.add(t.id);
  }
  return [...ids].map((id) => tasks.get(id)!).sort(byId);
}

/**
 * Step 1: which pending tasks become schedulable, with their base and context: the ticket's
 * base commit (no dependency), the parent's commit and result (one), or the merge commit and
 * synthesis the join set (several; not yet merged → not schedulable). In id order.
 */
export function planClaims(ticketBase: string, tasks: ReadonlyMap<string, SchedTask>, touched: Iterable<string> | 'all'): ClaimPlan[] {
  const plans: ClaimPlan[] = [];
  for (const t of tasksToExamine(tasks, touched)) {
    const deps = [...new Set(t.depends_on)];
    if (!deps.every((d) => tasks.get(d)?.status === TaskState.completed)) continue;
    let base: string;
    let context = t.context;
    if (deps.length === 0) base = ticketBase;
    else if (deps.length === 1) {
      const parent = tasks.get(deps[0]!)!;
      base = parent.commit!;
      context = { sources: [{ task_id: parent.id, commit: parent.commit, result: parent.result ?? null }] };
    } else if (t.base_commit) base = t.base_commit;
    else continue; // its join has not merged yet
    plans.push({ taskId: t.id, globs: t.owns, base, context });
  }
  return plans;
}

/** What `agent` lacks to run `spec` (empty: it matches): phase, capabilities, health, budget, not draining. */
export function missingFor(spec: SchedTask['spec'], agent: SchedAgent): string[] {
  const missing: string[] = [];
  if (agent.phase !== spec.phase) missing.push(`phase:${spec.phase}`);
  for (const c of spec.capabilities) if (!agent.capabilities.includes(c)) missing.push(`capability:${c}`);
  if (agent.status !== 'healthy') missing.push(`status:healthy (is ${agent.status})`);
  if (agent.budget_exceeded) missing.push('budget (exceeded)');
  if (agent.draining) missing.push('draining');
  return missing;
}

/**
 * Each agent's running attempts: this ticket's as the ticket knows them (the agent row lags
 * behind the ticket's sends), other tickets' from the agent row (keys `<ticket>/…`).
 */
export function agentLoad(ticketId: string, tasks: Iterable<SchedTask>, agents: readonly SchedAgent[]): Map<string, number> {
  const prefix = `${ticketId}/`;
  const load = new Map(agents.map((a) => {
    // This ticket's active attempts are counted from its tasks below; an attempt of it whose stop
    // the agent has not acknowledged is no task's any more, but still holds its slot.
    const stopping = new Set((a.stopping ?? []).map((s) => s.key));
    return [a.id, a.running.filter((k) => !k.startsWith(prefix) || stopping.has(k)).length];
  }));
  for (const t of tasks) {
    if (t.agent_id && isActive(t) && load.has(t.agent_id)) load.set(t.agent_id, load.get(t.agent_id)! + 1);
  }
  return load;
}

/** Ready tasks whose retry backoff has elapsed. When there are none, agents need not be read. */
export function dueReady(tasks: Iterable<SchedTask>, now: number): SchedTask[] {
  const due: SchedTask[] = [];
  for (const t of tasks) if (t.status === TaskState.ready && (t.ready_since?.getTime() ?? 0) <= now) due.push(t);
  return due;
}

/**
 * Step 2: which due ready task goes to which agent. Tasks go in `orderReady` order, in rounds
 * of as many as there are free slots (`bestReady`: most messages free one slot of a thousand
 * ready tasks); each takes the matching agent with the fewest running attempts, then the
 * lowest id. A task whose agents are all busy is dropped for this call and the next best gets
 * the slots left (they may belong to agents only others can use).
 */
export function planAssignments(ticketId: string, tasks: ReadonlyMap<string, SchedTask>, agents: readonly SchedAgent[], now: number): AssignmentPlan {
  const plan: AssignmentPlan = { assignments: [], mismatches: [] };
  const ready = dueReady(tasks.values(), now);
  if (!ready.length) return plan;
  const load = agentLoad(ticketId, tasks.values(), agents);
  // Tasks with the same requirements have the same candidates: worked out once per call.
  const eligibleFor = new Map<string, SchedAgent[]>();
  const candidates: Array<{ id: string; priority: number; readySince: number; retries: number; eligible: SchedAgent[] }> = [];
  for (const t of ready) {
    const needs = `${t.spec.phase}\u0000${t.spec.capabilities.join('\u0000')}`;
    let eligible = eligibleFor.get(needs);
    if (!eligible) eligibleFor.set(needs, (eligible = agents.filter((a) => missingFor(t.spec, a).length === 0)));
    if (eligible.length) {
      candidates.push({ id: t.id, priority: t.spec.priority ?? 0, readySince: t.ready_since?.getTime() ?? now, retries: t.attempt, eligible });
    } else if (!t.unmatched) {
      plan.mismatches.push({
        taskId: t.id, phase: t.spec.phase, required: [...t.spec.capabilities],
        candidates: agents.map((a) => ({ agent_id: a.id, missing: missingFor(t.spec, a) })),
      });
    }
  }
  const freeSlots = () => agents.reduce((n, a) => n + (a.status === 'healthy' && !a.budget_exceeded && !a.draining ? Math.max(0, a.capacity - load.get(a.id)!) : 0), 0);
  let remaining = candidates;
  for (let slots = freeSlots(); slots > 0 && remaining.length; slots = freeSlots()) {
    const round = bestReady(remaining, now, slots);
    for (const c of round) {
      let agent: SchedAgent | undefined;
      for (const a of c.eligible) {
        const l = load.get(a.id)!;
        if (l >= a.capacity) continue;
        if (!agent || l < load.get(agent.id)! || (l === load.get(agent.id)! && a.id < agent.id)) agent = a;
      }
      if (!agent) continue; // its agents are busy: a task ending (or the node's sweep) schedules again
      load.set(agent.id, load.get(agent.id)! + 1);
      plan.assignments.push({ taskId: c.id, agentId: agent.id });
    }
    const done = new Set(round.map((c) => c.id));
    remaining = remaining.filter((c) => !done.has(c.id));
  }
  return plan;
}

/**
 * Once every task completed: the sinks (tasks nothing depends on), by id. One sink → its
 * commit is the ticket's head; several → they are merged by the final merge. Undefined while
 * a task has not completed.
 */
export function sinksIfDone(tasks: ReadonlyMap<string, SchedTask>): SchedTask[] | undefined {
  const all = [...tasks.values()];
  if (!all.every((t) => t.status === TaskState.completed)) return undefined;
  const dependedOn = new Set(all.flatMap((t) => t.depends_on));
  return all.filter((t) => !dependedOn.has(t.id)).sort(byId);
}

/** Join continuations of `taskId` (tasks with two or more distinct dependencies including it), by id. */
export function continuationsOf(tasks: ReadonlyMap<string, SchedTask>, taskId: string): SchedTask[] {
  return [...tasks.values()].filter((t) => t.depends_on.includes(taskId) && new Set(t.depends_on).size >= 2).sort(byId);
}

/** Pending tasks whose only dependency is `taskId` (they are blocked when it fails for good). */
export function soleDependents(tasks: ReadonlyMap<string, SchedTask>, taskId: string): SchedTask[] {
  return [...tasks.values()].filter((t) => t.status === TaskState.pending && new Set(t.depends_on).size === 1 && t.depends_on.includes(taskId));
}
