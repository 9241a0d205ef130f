// The dashboard's DAG model (src/http/dashboard/lib/dag-graph.js, a browser module without DOM):
// which nodes and edges are drawn, when siblings become a group, and the critical path's rule.
import t from 'tap';

// Imported by URL: the module is plain JavaScript for the browser, outside the TypeScript build.
const model = await import(new URL('../../src/http/dashboard/lib/dag-graph.js', import.meta.url).href);
const { GROUP_THRESHOLD, UNIT_MS, graphModel, durationMs } = model;

const T0 = Date.parse('2026-01-01T10:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const task = (id: string, depends_on: string[] = [], status = 'pending', ready?: number, updated?: number) => ({
  id, depends_on, status, spec: { title: id }, attempt: 1, created_at: at(0), ready_since: ready === undefined ? null : at(ready), updated_at: at(updated ?? 0),
});
const join = (continuation: string, sources: string[], completed: string[] = [], status = 'collecting') => ({
  id: `join-${continuation}`, continuation, sources, status, completed: Object.fromEntries(completed.map((s) => [s, {}])),
});
const detail = (tasks: object[], joins: object[] = []) => ({ ticket: { id: 'T' }, tasks, joins, merge_attempts: [] });

t.test('tasks, joins between their sources and the continuation, and plain dependencies as edges', async (t) => {
  const m = graphModel(detail([task('A'), task('B', ['A']), task('C', ['A']), task('D', ['B', 'C'])], [join('D', ['B', 'C'], ['B'])]));
  t.same(m.nodes.map((n: any) => n.key), ['task:A', 'task:B', 'task:C', 'task:D', 'join:join-D']);
  t.same(m.edges.map((e: any) => e.key), ['task:A->task:B', 'task:A->task:C', 'task:B->join:join-D', 'task:C->join:join-D', 'join:join-D->task:D']);
  t.match(m.nodes.find((n: any) => n.kind === 'join'), { collected: 1, of: 2 }, 'the join counts what it collected');
});

t.test(`more than ${GROUP_THRESHOLD} alike siblings are one group; as many are not`, async (t) => {
  const fan = (n: number) => Array.from({ length: n }, (_, i) => task(`F${i + 1}`, ['A'], i % 2 ? 'running' : 'completed', 1, 5));
  const ids = (n: number) => fan(n).map((f) => f.id);
  const few = graphModel(detail([task('A', [], 'completed', 0, 1), ...fan(GROUP_THRESHOLD), task('J', ids(GROUP_THRESHOLD))], [join('J', ids(GROUP_THRESHOLD))]));
  t.equal(few.nodes.filter((n: any) => n.kind === 'group').length, 0, `${GROUP_THRESHOLD} siblings drawn one by one`);

  const many = graphModel(detail([task('A', [], 'completed', 0, 1), ...fan(200), task('J', ids(200))], [join('J', ids(200))]));
  const groups = many.nodes.filter((n: any) => n.kind === 'group');
  t.equal(groups.length, 1, 'one group');
  t.equal(groups[0].members.length, 200);
  t.same(groups[0].counts, { running: 100, completed: 100 }, 'counted by status');
  t.same(many.edges.map((e: any) => e.key), ['task:A->group:A>join-J', 'group:A>join-J->join:join-J', 'join:join-J->task:J'], 'edges of the members go to the group, once');

  const statusesOnly = graphModel(detail([task('A', [], 'completed', 0, 1), ...fan(200).map((f) => ({ ...f, status: 'completed' })), task('J', ids(200), 'running', 9)], [join('J', ids(200), ids(200), 'merged')]));
  t.equal(statusesOnly.structureKey, many.structureKey, 'statuses alone keep the structure: no new layout');
  const opened = graphModel(detail([task('A'), ...fan(200), task('J', ids(200))], [join('J', ids(200))]), new Set([groups[0].id]));
  t.not(opened.structureKey, many.structureKey, 'opening the group changes it');
  t.ok(opened.nodes.find((n: any) => n.kind === 'group').expanded);
  const added = graphModel(detail([task('A'), ...fan(201), task('J', ids(201))], [join('J', ids(201))]));
  t.not(added.structureKey, many.structureKey, 'a new member changes it');
});

t.test('the critical path: real durations for what ran, elapsed for what runs, one unit for the rest', async (t) => {
  t.equal(durationMs(task('X', [], 'completed', 10, 70)), 60_000, 'completed: ready to done');
  t.equal(durationMs(task('X', [], 'running', 10), T0 + 40_000), 30_000, 'running: so far');
  t.equal(durationMs(task('X', [], 'pending')), UNIT_MS, 'pending: one unit');
  // A → (B: 50 s, C: 10 s) → D (pending): the path goes through B and the join.
  const d = detail([task('A', [], 'completed', 0, 5), task('B', ['A'], 'completed', 5, 55), task('C', ['A'], 'completed', 5, 15), task('D', ['B', 'C'])], [join('D', ['B', 'C'], ['B', 'C'])]);
  const m = graphModel(d);
  t.same([...m.critical.nodes].sort(), ['join:join-D', 'task:A', 'task:B', 'task:D']);
  t.same([...m.critical.edges].sort(), ['join:join-D->task:D', 'task:A->task:B', 'task:B->join:join-D']);
  t.equal(m.critical.ms, 5_000 + 50_000 + UNIT_MS);
});
