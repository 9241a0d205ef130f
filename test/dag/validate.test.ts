import t, { type Test } from 'tap';
import { findCycle, topologicalOrder, validateTasks } from '../../src/dag/index.ts';
import { task, thrown } from './helpers.ts';

/** Expects `fn` to throw a TerminalError with `code`; returns it for further checks. */
function rejection(t: Test, fn: () => unknown, code: string) {
  const err = thrown(fn);
  t.equal(err.code, code, `code is ${code}`);
  return err;
}

t.test('a diamond is valid', async (t) => {
  t.doesNotThrow(() => validateTasks([task('A'), task('B', ['A']), task('C', ['A']), task('D', ['B', 'C'])]));
});

t.test('a single task and independent tasks are valid', async (t) => {
  t.doesNotThrow(() => validateTasks([task('A')]));
  t.doesNotThrow(() => validateTasks([task('A'), task('B'), task('C')]));
});

t.test('no tasks is an empty ticket', async (t) => {
  const err = rejection(t, () => validateTasks([]), 'empty_ticket');
  t.equal(err.status, 400);
  rejection(t, () => validateTasks([], [task('A')]), 'empty_ticket');
});

t.test('a 3-cycle is reported as a path', async (t) => {
  const err = rejection(
    t,
    () => validateTasks([task('A', ['B']), task('B', ['C']), task('C', ['A']), task('D', ['A'])]),
    'cycle',
  );
  t.same(err.details.cycle, ['A', 'B', 'C', 'A']);
  t.match(err.message, 'A → B → C → A');
});

t.test('the reported cycle does not depend on the order of the tasks', async (t) => {
  const err = rejection(t, () => validateTasks([task('C', ['A']), task('B', ['C']), task('A', ['B'])]), 'cycle');
  t.same(err.details.cycle, ['A', 'B', 'C', 'A']);
});

t.test('a self-loop is a self dependency', async (t) => {
  const err = rejection(t, () => validateTasks([task('A'), task('B', ['A', 'B'])]), 'self_dependency');
  t.equal(err.details.task, 'B');
  t.match(err.message, '"B" depends on itself');
});

t.test('a duplicate id is named', async (t) => {
  const err = rejection(t, () => validateTasks([task('A'), task('B'), task('A')]), 'duplicate_task');
  t.equal(err.details.task, 'A');
  t.match(err.message, '"A"');
});

t.test('an unknown dependency names the task and the missing dependency', async (t) => {
  const err = rejection(t, () => validateTasks([task('A'), task('B', ['A', 'Z'])]), 'unknown_dependency');
  t.same(err.details, { task: 'B', dependency: 'Z' });
  t.match(err.message, '"B"');
  t.match(err.message, '"Z"');
});

t.test('a dependency listed twice is rejected', async (t) => {
  const err = rejection(t, () => validateTasks([task('A'), task('B', ['A', 'A'])]), 'duplicate_dependency');
  t.same(err.details, { task: 'B', dependency: 'A' });
});

t.test('task ids must be safe branch names', async (t) => {
  for (const bad of ['', '-a', '.a', '_a', 'a b', 'a/b', 'a~1', 'a:b', 'é', 'x'.repeat(65), 'a..b\n', 'a..b', 'a.', 'x.lock', 'a\tb', 'a\u0000', 'a*', 'a>']) {
    const err = rejection(t, () => validateTasks([task(bad)]), 'invalid_task_id');
    t.equal(err.details.task, bad);
  }
  for (const good of ['a', 'A', '0', 'a-b', 'a_b', 'a.b', 'a.b.c', 'v1.2-rc_3', 'lock', 'a.locked', 'Z9', 'x'.repeat(64)]) {
    t.doesNotThrow(() => validateTasks([task(good)]), `${good} is accepted`);
  }
});

t.test('new tasks are validated against existing ones', async (t) => {
  const existing = [task('A'), task('B', ['A'])];
  t.doesNotThrow(() => validateTasks([task('C', ['B']), task('D', ['B']), task('E', ['C', 'D'])], existing));

  const dup = rejection(t, () => validateTasks([task('B')], existing), 'duplicate_task');
  t.match(dup.message, 'already exists');
  rejection(t, () => validateTasks([task('C', ['X'])], existing), 'unknown_dependency');
  // An existing task depending on a new one cannot happen, but a cycle through existing
  // tasks is still found when the existing graph is handed in broken.
  const cyc = rejection(t, () => validateTasks([task('C', ['B'])], [task('A', ['C']), task('B', ['A'])]), 'cycle');
  t.same(cyc.details.cycle, ['A', 'C', 'B', 'A']);
});

t.test('findCycle', async (t) => {
  t.equal(findCycle(new Map()), null);
  t.equal(findCycle(new Map([['A', []], ['B', ['A']], ['C', ['A', 'B']]])), null);
  t.same(findCycle(new Map([['A', ['A']]])), ['A', 'A']);
  t.same(findCycle(new Map([['X', ['Y']], ['Y', ['X']]])), ['X', 'Y', 'X']);
  // Edges to nodes outside the map are ignored.
  t.equal(findCycle(new Map([['A', ['ghost']]])), null);
  // The cycle is found behind an acyclic prefix and reported without the prefix.
  t.same(findCycle(new Map([['S', ['P']], ['P', ['Q']], ['Q', ['R']], ['R', ['P']]])), ['P', 'Q', 'R', 'P']);
});

t.test('findCycle handles long chains without overflowing the stack', async (t) => {
  const n = 100_000;
  const graph = new Map<string, string[]>();
  for (let i = 0; i < n; i++) graph.set(`t${i}`, i === 0 ? [] : [`t${i - 1}`]);
  t.equal(findCycle(graph), null);
  graph.set('t0', [`t${n - 1}`]);
  const cycle = findCycle(graph)!;
  t.equal(cycle.length, n + 1);
  t.equal(cycle[0], cycle[cycle.length - 1]);
});

t.test('topologicalOrder puts every task after its dependencies', async (t) => {
  const tasks = [task('D', ['B', 'C']), task('C', ['A']), task('B', ['A']), task('A'), task('E')];
  const order = topologicalOrder(tasks).map((x) => x.id);
  t.same(order, ['A', 'B', 'C', 'D', 'E']);
  t.same(topologicalOrder(tasks).map((x) => x.id), order, 'deterministic');
  t.equal(tasks[0]!.id, 'D', 'input not modified');

  // Dependencies outside the list count as satisfied.
  t.same(topologicalOrder([task('C', ['B']), task('B', ['outside'])]).map((x) => x.id), ['B', 'C']);

  const err = rejection(t, () => topologicalOrder([task('A', ['B']), task('B', ['A'])]), 'cycle');
  t.same(err.details.cycle, ['A', 'B', 'A']);
});
