import t from 'tap';
import { seededRandom as prng } from '../harness/seeded-random.ts';
import { TaskState, missingFor, orderReady, planAssignments, planClaims, type SchedAgent, type SchedTask } from '../../src/dag/index.ts';


const NOW = 1_700_000_000_000;
const PHASES = ['plan', 'execute'];
const CAPS = ['rust', 'go', 'gpu'];
const STATES: TaskState[] = [TaskState.pending, TaskState.ready, TaskState.ready, TaskState.ready, TaskState.assigned, TaskState.running, TaskState.completed, TaskState.waiting_for_files];

/** A random DAG (edges only to earlier tasks) in random states, and random agents. */
function world(seed: number): { tasks: Map<string, SchedTask>; agents: SchedAgent[] } {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const some = <T>(xs: readonly T[], p: number) => xs.filter(() => r() < p);
  const agents: SchedAgent[] = Array.from({ length: 1 + Math.floor(r() * 6) }, (_, i) => ({
    id: `a${i}`, phase: pick(PHASES), capabilities: some(CAPS, 0.6), status: r() < 0.85 ? 'healthy' : pick(['degraded', 'failed']),
    capacity: 1 + Math.floor(r() * 3), running: some(['T2/x/1', 'T3/y/1', 'T1/stale/1'], 0.3),
  }));
  const tasks = new Map<string, SchedTask>();
  const n = 1 + Math.floor(r() * 40);
  for (let i = 0; i < n; i++) {
    const id = `t${String(i).padStart(2, '0')}`;
    const earlier = [...tasks.keys()];
    const status = pick(STATES);
    const active = status === TaskState.assigned || status === TaskState.running;
    tasks.set(id, {
      id, status, depends_on: earlier.length ? some(earlier, 2 / earlier.length) : [], owns: r() < 0.5 ? ['src/**'] : [],
      attempt: Math.floor(r() * 3), base_commit: r() < 0.5 ? 'b'.repeat(40) : null, commit: status === TaskState.completed ? 'c'.repeat(40) : null,
      result: null, context: null, unmatched: r() < 0.2,
      // Some ready tasks back off a retry (ready_since in the future).
      ready_since: new Date(NOW + Math.floor((r() - 0.8) * 10 * 60_000)),
      agent_id: active ? pick(agents).id : null,
      spec: { phase: pick(PHASES), capabilities: some(CAPS, 0.3), priority: Math.floor(r() * 5) - 2 },
    });
  }
  return { tasks, agents };
}

const SEEDS = Array.from({ length: 400 }, (_, i) => 0x5eed + i * 7919);

t.test('assignments respect every invariant on random DAGs and agents', async (t) => {
  let decided = 0;
  let mismatched = 0;
  for (const seed of SEEDS) {
    const { tasks, agents } = world(seed);
    const plan = planAssignments('T1', tasks, agents, NOW);
    decided += plan.assignments.length;
    mismatched += plan.mismatches.length;
    const byAgent = new Map<string, number>();
    const assigned = new Set<string>();
    for (const { taskId, agentId } of plan.assignments) {
      const task = tasks.get(taskId)!;
      const a = agents.find((x) => x.id === agentId)!;
      if (assigned.has(taskId)) t.fail(`seed ${seed}: ${taskId} assigned twice`);
      assigned.add(taskId);
      if (task.status !== TaskState.ready) t.fail(`seed ${seed}: ${taskId} is ${task.status}`);
      if (task.ready_since!.getTime() > NOW) t.fail(`seed ${seed}: ${taskId} assigned during its retry backoff`);
      if (missingFor(task.spec, a).length) t.fail(`seed ${seed}: ${taskId} went to ${agentId}, which lacks ${missingFor(task.spec, a)}`);
      byAgent.set(agentId, (byAgent.get(agentId) ?? 0) + 1);
    }
    for (const a of agents) {
      const other = a.running.filter((k) => !k.startsWith('T1/')).length;
      const mine = [...tasks.values()].filter((x) => x.agent_id === a.id && (x.status === TaskState.assigned || x.status === TaskState.running)).length;
      const total = other + mine + (byAgent.get(a.id) ?? 0);
      if ((byAgent.get(a.id) ?? 0) > 0 && total > a.capacity) t.fail(`seed ${seed}: ${a.id} over capacity (${total} > ${a.capacity})`);
      // Work-conserving: an agent below capacity leaves no matching due ready task behind.
      if (a.status === 'healthy' && total < a.capacity) {
        const left = [...tasks.values()].find((x) => x.status === TaskState.ready && x.ready_since!.getTime() <= NOW && !assigned.has(x.id) && !missingFor(x.spec, a).length);
        if (left) t.fail(`seed ${seed}: ${left.id} waits while ${a.id} has a free slot`);
      }
    }
    for (const m of plan.mismatches) {
      const task = tasks.get(m.taskId)!;
      if (task.unmatched || agents.some((a) => !missingFor(task.spec, a).length)) t.fail(`seed ${seed}: wrong mismatch for ${m.taskId}`);
    }
  }
  t.ok(decided > SEEDS.length && mismatched > 0, `${SEEDS.length} random worlds: ${decided} assignments, ${mismatched} mismatches checked`);
});

t.test('with interchangeable agents, the tasks offered are the best in orderReady order', async (t) => {
  for (const seed of SEEDS) {
    const { tasks } = world(seed);
    // Every task runs anywhere: the plan must take exactly the first free-slot-many in order.
    const uniform = new Map([...tasks].map(([id, x]) => [id, { ...x, agent_id: null, spec: { ...x.spec, phase: 'execute', capabilities: [] } }]));
    const r = prng(seed ^ 0xabc);
    const agents: SchedAgent[] = Array.from({ length: 1 + Math.floor(r() * 4) }, (_, i) => ({ id: `a${i}`, phase: 'execute', capabilities: [], status: 'healthy', capacity: 1 + Math.floor(r() * 3), running: [] }));
    const slots = agents.reduce((n, a) => n + a.capacity, 0);
    const due = [...uniform.values()].filter((x) => x.status === TaskState.ready && x.ready_since!.getTime() <= NOW);
    const expected = orderReady(due.map((x) => ({ id: x.id, priority: x.spec.priority, readySince: x.ready_since!.getTime(), retries: x.attempt })), NOW).slice(0, slots).map((x) => x.id);
    const got = planAssignments('T1', uniform, agents, NOW).assignments.map((a) => a.taskId);
    if (JSON.stringify(got) !== JSON.stringify(expected)) t.fail(`seed ${seed}: got ${got}, expected ${expected}`);
  }
  t.pass('priority, then age, then retries, then id');
});

t.test('claims are planned only for tasks whose dependencies all completed', async (t) => {
  let planned = 0;
  for (const seed of SEEDS) {
    const { tasks } = world(seed);
    for (const plan of planClaims('0'.repeat(40), tasks, 'all')) {
      planned++;
      const task = tasks.get(plan.taskId)!;
      const deps = new Set(task.depends_on);
      if (task.status !== TaskState.pending) t.fail(`seed ${seed}: ${task.id} is ${task.status}`);
      if (![...deps].every((d) => tasks.get(d)!.status === TaskState.completed)) t.fail(`seed ${seed}: ${task.id} has an unfinished dependency`);
      if (deps.size >= 2 && plan.base !== task.base_commit) t.fail(`seed ${seed}: join continuation ${task.id} planned before its merge`);
    }
  }
  t.ok(planned > 100, `${planned} claims planned`);
});
