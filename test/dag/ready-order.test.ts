import t from 'tap';
import { AGE_STEP_MS, RETRY_PENALTY, bestReady, orderReady, readyScore } from '../../src/dag/index.ts';
import { shuffled } from './helpers.ts';

const NOW = 1_700_000_000_000;

function ready(id: string, priority: number, waitedMs: number, retries = 0) {
  return { id, priority, readySince: NOW - waitedMs, retries };
}
const ids = (tasks: Array<{ id: string }>) => tasks.map((x) => x.id);

t.test('the score follows the documented formula', async (t) => {
  t.equal(readyScore(ready('a', 3, 0), NOW), 3);
  t.equal(readyScore(ready('a', 3, 2 * AGE_STEP_MS), NOW), 5, 'one point per age step');
  t.equal(readyScore(ready('a', 3, 0, 2), NOW), 3 - 2 * RETRY_PENALTY);
  t.equal(readyScore(ready('a', 3, -10 * AGE_STEP_MS), NOW), 3, 'a future readySince counts as age 0');
});

t.test('higher priority first among tasks ready at the same time', async (t) => {
  const tasks = [ready('low', 1, 1000), ready('high', 5, 1000), ready('mid', 3, 1000)];
  t.same(ids(orderReady(tasks, NOW)), ['high', 'mid', 'low']);
});

t.test('equal priority: older first', async (t) => {
  const tasks = [ready('new', 2, 1_000), ready('old', 2, 30_000), ready('older', 2, 50_000)];
  t.same(ids(orderReady(tasks, NOW)), ['older', 'old', 'new']);
});

t.test('age lets a low-priority task overtake: nothing starves', async (t) => {
  const starving = ready('starving', 0, 0);
  const fresh = (at: number) => ({ id: `fresh-${at}`, priority: 3, readySince: at, retries: 0 });
  // Just ready: the high-priority newcomer wins.
  t.equal(orderReady([starving, fresh(NOW)], NOW)[0]!.id, `fresh-${NOW}`);
  // After a bit more than three age steps, a freshly ready priority-3 task no longer beats it.
  const later = NOW + 3 * AGE_STEP_MS + 1;
  t.equal(orderReady([starving, fresh(later)], later)[0]!.id, 'starving');
});

t.test('retries lower the score slightly', async (t) => {
  const tasks = [ready('flaky', 2, 1000, 1), ready('steady', 2, 1000, 0)];
  t.same(ids(orderReady(tasks, NOW)), ['steady', 'flaky']);
  // Only slightly: one retry does not drop a task below a lower priority.
  t.same(ids(orderReady([ready('flaky', 2, 1000, 1), ready('lower', 1, 1000)], NOW)), ['flaky', 'lower']);
});

t.test('full ties are broken by id (code-unit order), whatever the input order', async (t) => {
  const tasks = [ready('b', 1, 500), ready('B', 1, 500), ready('a', 1, 500), ready('a-2', 1, 500), ready('A', 1, 500)];
  const expected = ['A', 'B', 'a', 'a-2', 'b'];
  for (let seed = 1; seed <= 20; seed++) {
    t.same(ids(orderReady(shuffled(tasks, seed), NOW)), expected, `seed ${seed}`);
  }
});

t.test('equal scores from different mixes: older first, then id', async (t) => {
  // priority 2 waited one step == priority 3 just ready (score 3): the older goes first.
  const tasks = [ready('fresh', 3, 0), ready('waited', 2, AGE_STEP_MS)];
  t.equal(readyScore(tasks[0]!, NOW), readyScore(tasks[1]!, NOW));
  t.same(ids(orderReady(tasks, NOW)), ['waited', 'fresh']);
});

t.test('orderReady does not modify its input', async (t) => {
  const tasks = [ready('low', 1, 0), ready('high', 9, 0)];
  const result = orderReady(tasks, NOW);
  t.same(ids(tasks), ['low', 'high']);
  t.not(result, tasks);
  t.same(orderReady([], NOW), []);
});

t.test('bestReady gives the first k of orderReady, without sorting everything', async (t) => {
  // Deterministic pseudo-random tasks: priorities, ages and retries that tie often.
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const tasks = Array.from({ length: 300 }, (_, i) => ({ id: `t${String(rnd(1000)).padStart(3, '0')}-${i}`, priority: rnd(3), readySince: NOW - rnd(4) * 30_000, retries: rnd(3) }));
  const full = orderReady(tasks, NOW).map((x) => x.id);
  for (const k of [0, 1, 2, 5, 37, 300, 400]) t.same(bestReady(tasks, NOW, k).map((x) => x.id), full.slice(0, k), `k = ${k}`);
});
