import t from 'tap';
import {
  AGE_STEP_MS, TaskState, agentLoad, continuationsOf, missingFor, planAssignments, planClaims, sinksIfDone, soleDependents, tasksToExamine,
  type SchedAgent, type SchedTask,
} from '../../src/dag/index.ts';

const NOW = 1_700_000_000_000;
const sha = (c: string) => c.repeat(40);

function task(id: string, patch: Partial<Omit<SchedTask, 'spec'>> & { spec?: Partial<SchedTask['spec']> } = {}): SchedTask {
  const { spec, ...rest } = patch;
  return {
    id, status: TaskState.pending, depends_on: [], owns: [], attempt: 0, base_commit: null, commit: null, result: null,
    context: null, ready_since: null, agent_id: null, unmatched: false, ...rest,
    spec: { phase: 'execute', capabilities: [], priority: 0, ...spec },
  };
}
function agent(id: string, patch: Partial<SchedAgent> = {}): SchedAgent {
  return { id, phase: 'execute', capabilities: [], status: 'healthy', capacity: 1, running: [], ...patch };
}
const map = (...tasks: SchedTask[]) => new Map(tasks.map((x) => [x.id, x]));
const ready = (id: string, waitedMs = 0, patch: Parameters<typeof task>[1] = {}) => task(id, { status: TaskState.ready, ready_since: new Date(NOW - waitedMs), ...patch });

t.test('planClaims: base and context by the number of dependencies', async (t) => {
  const tasks = map(
    task('A', { status: TaskState.completed, commit: sha('a'), result: { x: 1 } }),
    task('B', { status: TaskState.completed, commit: sha('b') }),
    task('root', { owns: ['src/**'] }),
    task('child', { depends_on: ['A'] }),
    task('twice', { depends_on: ['A', 'A'] }),
    task('join', { depends_on: ['A', 'B'] }),
    task('merged', { depends_on: ['A', 'B'], base_commit: sha('m'), context: { synthesis: true } }),
    task('waits', { depends_on: ['A', 'C'] }),
    task('C'),
  );
  t.same(planClaims(sha('0'), tasks, 'all'), [
    { taskId: 'C', globs: [], base: sha('0'), context: null },
    { taskId: 'child', globs: [], base: sha('a'), context: { sources: [{ task_id: 'A', commit: sha('a'), result: { x: 1 } }] } },
    { taskId: 'merged', globs: [], base: sha('m'), context: { synthesis: true } },
    { taskId: 'root', globs: ['src/**'], base: sha('0'), context: null },
    { taskId: 'twice', globs: [], base: sha('a'), context: { sources: [{ task_id: 'A', commit: sha('a'), result: { x: 1 } }] } },
  ], 'a join continuation waits for its merge commit; a dependency named twice is one parent');
});

t.test('tasksToExamine: only what a message touched, and dependents of what it completed', async (t) => {
  const tasks = map(
    task('A', { status: TaskState.completed }),
    task('B', { status: TaskState.running }),
    task('C', { depends_on: ['A'] }),
    task('D', { depends_on: ['B'] }),
    task('E', { depends_on: ['A'], status: TaskState.ready }),
    task('F'),
  );
  const ids = (xs: SchedTask[]) => xs.map((x) => x.id);
  t.same(ids(tasksToExamine(tasks, ['A'])), ['C'], 'the pending dependents of a completed task');
  t.same(ids(tasksToExamine(tasks, ['F', 'B'])), ['F'], 'a touched pending task; a running one has no dependents to look at');
  t.same(ids(tasksToExamine(tasks, [])), []);
  t.same(ids(tasksToExamine(tasks, 'all')), ['C', 'D', 'F']);
});

t.test('missingFor: phase, each capability, health, budget', async (t) => {
  const spec = { phase: 'review', capabilities: ['rust', 'gpu'], priority: 0 };
  t.same(missingFor(spec, agent('a', { phase: 'review', capabilities: ['gpu', 'rust', 'go'] })), []);
  t.same(missingFor(spec, agent('a', { capabilities: ['rust'], status: 'degraded' })), ['phase:review', 'capability:gpu', 'status:healthy (is degraded)']);
  t.same(missingFor(spec, agent('a', { phase: 'review', capabilities: ['gpu', 'rust'], budget_exceeded: true })), ['budget (exceeded)'], 'an agent over budget');
  t.same(missingFor(spec, agent('a', { phase: 'review', capabilities: ['gpu', 'rust'], draining: true })), ['draining'], 'a draining agent');
});

t.test('agentLoad: this ticket counted from its tasks, other tickets from the agent row', async (t) => {
  const tasks = [
    task('A', { status: TaskState.running, agent_id: 'a1' }),
    task('B', { status: TaskState.assigned, agent_id: 'a1' }),
    task('C', { status: TaskState.completed, agent_id: 'a2' }),
    task('D', { status: TaskState.running, agent_id: 'gone' }),
  ];
  const load = agentLoad('T1', tasks, [agent('a1', { running: ['T1/A/1', 'T2/X/1'] }), agent('a2', { running: ['T3/Y/2'] })]);
  t.same([...load], [['a1', 3], ['a2', 1]]);
});

t.test('planAssignments: decision table', async (t) => {
  const cases: Array<{ name: string; tasks: SchedTask[]; agents: SchedAgent[]; want: Array<[string, string]>; mismatched?: string[] }> = [
    { name: 'nothing ready, nothing decided', tasks: [task('A')], agents: [agent('a')], want: [] },
    { name: 'higher priority first when slots are scarce', tasks: [ready('low', 1000, { spec: { priority: 1 } }), ready('high', 0, { spec: { priority: 5 } })], agents: [agent('a')], want: [['high', 'a']] },
    { name: 'equal priority: older first', tasks: [ready('new', 1_000), ready('old', 30_000)], agents: [agent('a')], want: [['old', 'a']] },
    { name: 'age overtakes priority', tasks: [ready('starving', 4 * AGE_STEP_MS), ready('fresh', 0, { spec: { priority: 3 } })], agents: [agent('a')], want: [['starving', 'a']] },
    { name: 'retry backoff not elapsed: not offered', tasks: [ready('later', -5_000), ready('now', 0)], agents: [agent('a', { capacity: 2 })], want: [['now', 'a']] },
    { name: 'fewest running wins, then id', tasks: [ready('A'), ready('B'), ready('C')], agents: [agent('b', { capacity: 2 }), agent('a', { capacity: 2, running: ['T9/x/1'] }), agent('c', { capacity: 2 })], want: [['A', 'b'], ['B', 'c'], ['C', 'a']] },
    { name: 'capacity counts this ticket\'s active attempts', tasks: [task('R', { status: TaskState.running, agent_id: 'a' }), ready('A')], agents: [agent('a')], want: [] },
    { name: 'capabilities must be a superset', tasks: [ready('A', 0, { spec: { capabilities: ['rust'] } })], agents: [agent('a'), agent('b', { capabilities: ['rust', 'go'] })], want: [['A', 'b']] },
    { name: 'phase must match', tasks: [ready('A', 0, { spec: { phase: 'review' } })], agents: [agent('a'), agent('b', { phase: 'review' })], want: [['A', 'b']] },
    { name: 'unhealthy agents take nothing', tasks: [ready('A')], agents: [agent('a', { status: 'degraded' })], want: [], mismatched: ['A'] },
    { name: 'an agent over budget takes nothing', tasks: [ready('A'), ready('B')], agents: [agent('a', { budget_exceeded: true, capacity: 2 }), agent('b')], want: [['A', 'b']] },
    { name: 'only agents over budget: a mismatch', tasks: [ready('A')], agents: [agent('a', { budget_exceeded: true })], want: [], mismatched: ['A'] },
    { name: 'a draining agent takes nothing (its running attempts are its own)', tasks: [ready('A'), ready('B')], agents: [agent('a', { draining: true, capacity: 2 }), agent('b')], want: [['A', 'b']] },
    { name: 'only draining agents: a mismatch', tasks: [ready('A')], agents: [agent('a', { draining: true })], want: [], mismatched: ['A'] },
    { name: 'a mismatch is reported once per ready state', tasks: [ready('A', 0, { unmatched: true, spec: { capabilities: ['gpu'] } })], agents: [agent('a')], want: [] },
    {
      name: 'a task whose agents are busy leaves the slot to the next best',
      tasks: [ready('gpu-task', 5_000, { spec: { capabilities: ['gpu'], priority: 9 } }), ready('plain', 0)],
      agents: [agent('g', { capabilities: ['gpu'], running: ['T2/x/1'] }), agent('p')],
      want: [['plain', 'p']],
    },
  ];
  for (const c of cases) {
    const plan = planAssignments('T1', map(...c.tasks), c.agents, NOW);
    t.same(plan.assignments.map((a) => [a.taskId, a.agentId]), c.want, c.name);
    t.same(plan.mismatches.map((m) => m.taskId), c.mismatched ?? [], `${c.name}: mismatches`);
  }
});

t.test('planAssignments: a mismatch names what each agent lacks', async (t) => {
  const plan = planAssignments('T1', map(ready('A', 0, { spec: { capabilities: ['rust'] } })), [agent('a'), agent('b', { phase: 'review', capabilities: ['rust'] })], NOW);
  t.same(plan.mismatches, [{ taskId: 'A', phase: 'execute', required: ['rust'], candidates: [{ agent_id: 'a', missing: ['capability:rust'] }, { agent_id: 'b', missing: ['phase:execute'] }] }]);
});

t.test('sinksIfDone, continuationsOf, soleDependents', async (t) => {
  const done = (id: string, deps: string[] = []) => task(id, { status: TaskState.completed, depends_on: deps });
  t.equal(sinksIfDone(map(done('A'), task('B', { depends_on: ['A'] }))), undefined, 'not every task completed');
  t.same(sinksIfDone(map(done('A'), done('C', ['A']), done('B', ['A'])))?.map((x) => x.id), ['B', 'C']);
  const tasks = map(done('A'), task('B', { depends_on: ['A'] }), task('J', { depends_on: ['A', 'B'] }), task('K', { depends_on: ['A', 'A'] }), task('L', { depends_on: ['A'], status: TaskState.ready }));
  t.same(continuationsOf(tasks, 'A').map((x) => x.id), ['J']);
  t.same(soleDependents(tasks, 'A').map((x) => x.id).sort(), ['B', 'K']);
});
