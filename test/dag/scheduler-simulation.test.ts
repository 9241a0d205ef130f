import t from 'tap';
import { seededRandom as prng } from '../harness/seeded-random.ts';
import { TaskState, missingFor, planAssignments, planClaims, type SchedAgent, type SchedTask } from '../../src/dag/index.ts';

/**
 * Whole tickets run to the end against the pure scheduler, the way the TicketActor applies its
 * decisions (claims always granted; a join merges as soon as its sources completed; attempts
 * complete or fail at random). Checked at every step: the incremental examination misses no
 * schedulable task, no agent goes over capacity, no task is out twice; at the end every task
 * completed exactly once.
 */

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function run(seed: number): { steps: number; completions: number; failures: number; problems: string[] } {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const problems: string[] = [];
  const agents: SchedAgent[] = Array.from({ length: 1 + Math.floor(r() * 4) }, (_, i) => ({
    id: `a${i}`, phase: pick(['plan', 'execute']), capabilities: ['rust', 'go', 'gpu'].filter(() => r() < 0.5), status: 'healthy', capacity: 1 + Math.floor(r() * 3), running: [],
  }));
  const tasks = new Map<string, Mutable<SchedTask>>();
  const n = 2 + Math.floor(r() * 30);
  for (let i = 0; i < n; i++) {
    const id = `t${String(i).padStart(2, '0')}`;
    const earlier = [...tasks.keys()];
    const fit = pick(agents); // every task has at least one agent that can run it
    tasks.set(id, {
      id, status: TaskState.pending, depends_on: earlier.filter(() => r() < 1.5 / Math.max(1, earlier.length)), owns: [], attempt: 0,
      base_commit: null, commit: null, result: null, context: null, ready_since: null, agent_id: null, unmatched: false,
      spec: { phase: fit.phase, capabilities: fit.capabilities.filter(() => r() < 0.5), priority: Math.floor(r() * 3) },
    });
  }
  let now = 1_700_000_000_000;
  let touched: Set<string> | 'all' = 'all';
  let completions = 0;
  let failures = 0;
  let steps = 0;
  const completedOnce = new Set<string>();
  for (; steps < 2000 && [...tasks.values()].some((x) => x.status !== TaskState.completed); steps++) {
    const dirty = new Set<string>();
    const set = (id: string, patch: Partial<SchedTask>) => { Object.assign(tasks.get(id)!, patch); dirty.add(id); };
    // Joins merge once every source completed (the JoinActor's reply marks the continuation).
    for (const x of tasks.values()) {
      if (x.status === TaskState.pending && new Set(x.depends_on).size >= 2 && !x.base_commit && x.depends_on.every((d) => tasks.get(d)!.status === TaskState.completed)) {
        set(x.id, { base_commit: `merge-${x.id}` });
      }
    }
    const examined: Set<string> | 'all' = touched === 'all' ? 'all' : new Set([...touched, ...dirty]);
    const plans = planClaims('base', tasks, examined);
    const full = planClaims('base', tasks, 'all');
    if (plans.length !== full.length) problems.push(`step ${steps}: incremental found ${plans.map((p) => p.taskId)}, all found ${full.map((p) => p.taskId)}`);
    for (const p of plans) set(p.taskId, { status: TaskState.ready, base_commit: p.base, context: p.context, ready_since: new Date(now) });
    const plan = planAssignments('T1', tasks, agents, now);
    for (const { taskId, agentId } of plan.assignments) {
      const x = tasks.get(taskId)!;
      if (x.status !== TaskState.ready) problems.push(`step ${steps}: ${taskId} assigned while ${x.status}`);
      if (missingFor(x.spec, agents.find((a) => a.id === agentId)!).length) problems.push(`step ${steps}: ${taskId} to a non-matching agent`);
      set(taskId, { status: TaskState.assigned, attempt: x.attempt + 1, agent_id: agentId });
    }
    for (const m of plan.mismatches) problems.push(`step ${steps}: ${m.taskId} found no agent, yet one fits`);
    for (const a of agents) {
      const out = [...tasks.values()].filter((x) => x.agent_id === a.id && (x.status === TaskState.assigned || x.status === TaskState.running)).length;
      if (out > a.capacity) problems.push(`step ${steps}: ${a.id} runs ${out} > ${a.capacity}`);
    }
    // Some attempts end: most complete, a few fail and are retried after a backoff.
    for (const x of [...tasks.values()]) {
      if (x.status !== TaskState.assigned || r() < 0.4) continue;
      if (r() < 0.15) {
        failures++;
        set(x.id, { status: TaskState.ready, agent_id: null, ready_since: new Date(now + 500 * 2 ** (x.attempt - 1)) });
      } else {
        if (completedOnce.has(x.id)) problems.push(`${x.id} completed twice`);
        completedOnce.add(x.id);
        completions++;
        set(x.id, { status: TaskState.completed, commit: `c-${x.id}` });
      }
    }
    touched = dirty;
    now += Math.floor(r() * 400);
  }
  if (completions !== n) problems.push(`${completions} completions of ${n} tasks after ${steps} steps`);
  return { steps, completions, failures, problems };
}

t.test('random tickets run to completion under the scheduler, every invariant holding at every step', async (t) => {
  let steps = 0;
  let failures = 0;
  for (let i = 0; i < 200; i++) {
    const seed = 0xc0ffee + i * 104729;
    const out = run(seed);
    steps += out.steps;
    failures += out.failures;
    if (out.problems.length) t.fail(`seed ${seed}: ${out.problems.slice(0, 3).join('; ')}`);
  }
  t.ok(failures > 0, `200 tickets, ${steps} scheduling steps, ${failures} failed attempts retried after their backoff`);
});
