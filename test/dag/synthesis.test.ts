import t from 'tap';
import { canonicalJson, synthesize, type SourceResult, type SynthesisStrategy } from '../../src/dag/index.ts';
import { shuffled, thrown } from './helpers.ts';

const src = (taskId: string, result: unknown): SourceResult => ({ taskId, commit: `c0ffee-${taskId}`, result });

t.test('combine maps each task id to its result, and lists every source with its commit', async (t) => {
  const s = synthesize('combine', [src('C', { ok: true }), src('B', [1, 2]), src('D', undefined)]);
  t.equal(s.strategy, 'combine');
  t.same(s.sources, [
    { task_id: 'B', commit: 'c0ffee-B', result: [1, 2] },
    { task_id: 'C', commit: 'c0ffee-C', result: { ok: true } },
    { task_id: 'D', commit: 'c0ffee-D', result: null },
  ]);
  t.same(s.merged, { B: [1, 2], C: { ok: true }, D: null });
  t.same(s.collisions, []);
});

t.test('union merges top-level keys and records collisions with the task ids', async (t) => {
  const s = synthesize('union', [
    src('B', { files: ['a.ts', 'b.ts'], lang: 'ts', tests: 10, only_b: 1 }),
    src('C', { files: ['b.ts', 'c.ts'], lang: 'ts', tests: 12, only_c: { deep: [1] } }),
    src('D', { tests: 10 }),
  ]);
  t.same(s.merged, {
    files: ['a.ts', 'b.ts', 'c.ts'], // concatenated in task-id order, de-duplicated
    lang: 'ts', // equal everywhere: not a collision
    only_b: 1,
    only_c: { deep: [1] },
    tests: [10, 12], // distinct values in task-id order
  });
  t.same(s.collisions, [{ key: 'tests', tasks: ['B', 'C', 'D'] }]);
  t.same(Object.keys(s.merged), ['files', 'lang', 'only_b', 'only_c', 'tests'], 'keys in order');
  t.same(s.sources.map((x) => x.task_id), ['B', 'C', 'D']);
});

t.test('union compares values by canonical JSON and de-duplicates arrays the same way', async (t) => {
  const s = synthesize('union', [
    src('B', { cfg: { a: 1, b: 2 }, items: [{ x: 1, y: 2 }] }),
    src('C', { cfg: { b: 2, a: 1 }, items: [{ y: 2, x: 1 }, { x: 3 }] }),
  ]);
  t.same(s.merged, { cfg: { a: 1, b: 2 }, items: [{ x: 1, y: 2 }, { x: 3 }] });
  t.same(s.collisions, []);
});

t.test('union: an array against a non-array is a collision', async (t) => {
  const s = synthesize('union', [src('B', { k: [1] }), src('C', { k: 1 })]);
  t.same(s.merged, { k: [[1], 1] });
  t.same(s.collisions, [{ key: 'k', tasks: ['B', 'C'] }]);
});

t.test('non-object results are treated as { value: result }', async (t) => {
  const u = synthesize('union', [src('B', 'done'), src('C', 'done'), src('D', { value: 'done', n: 1 })]);
  t.same(u.merged, { value: 'done', n: 1 });
  t.same(u.collisions, []);

  const v = synthesize('union', [src('B', 1), src('C', null), src('D', [1, 2]), src('E', [2, 3])]);
  t.same(v.merged, { value: [1, null, [1, 2], [2, 3]] });
  t.same(v.collisions, [{ key: 'value', tasks: ['B', 'C', 'D', 'E'] }]);

  const arrays = synthesize('union', [src('B', [1, 2]), src('C', [2, 3])]);
  t.same(arrays.merged, { value: [1, 2, 3] }, 'array results are { value: [...] } and concatenate');

  const i = synthesize('intersection', [src('B', 7), src('C', 7)]);
  t.same(i.merged, { value: 7 });
});

t.test('a missing result contributes no keys', async (t) => {
  const s = synthesize('union', [src('B', undefined), src('C', { a: 1, skipped: undefined })]);
  t.same(s.merged, { a: 1 });
  t.same(s.sources[0], { task_id: 'B', commit: 'c0ffee-B', result: null });
});

t.test('intersection keeps only keys present everywhere with equal values', async (t) => {
  const s = synthesize('intersection', [
    src('B', { shared: { v: 1 }, differs: 'x', only_b: true, also: [1, 2] }),
    src('C', { shared: { v: 1 }, differs: 'y', also: [1, 2], partly: 1 }),
    src('D', { shared: { v: 1 }, differs: 'x', also: [1, 2], partly: 1 }),
  ]);
  t.same(s.merged, { also: [1, 2], shared: { v: 1 } });
  t.notOk('only_b' in s.merged, 'a key missing from some source is dropped');
  t.notOk('partly' in s.merged, 'a key missing from one source is dropped, even if equal elsewhere');
  t.notOk('differs' in s.merged, 'a key with different values is not merged');
  t.same(s.collisions, [{ key: 'differs', tasks: ['B', 'C', 'D'] }]);
  t.same(s.sources.map((x) => x.task_id), ['B', 'C', 'D']);
});

t.test('intersection with a source lacking every key is empty', async (t) => {
  const s = synthesize('intersection', [src('B', { a: 1 }), src('C', undefined)]);
  t.same(s.merged, {});
  t.same(s.collisions, []);
  t.same(synthesize('intersection', []).merged, {});
});

t.test('every strategy is deterministic under shuffled input', async (t) => {
  const results = [
    src('alpha', { files: ['x'], n: 1, common: 'c' }),
    src('beta', { files: ['y', 'x'], n: 2, common: 'c' }),
    src('gamma', { files: ['z'], n: 1, common: 'c', extra: { b: 1, a: 2 } }),
    src('delta', 'plain'),
    src('Epsilon', { n: 3, common: 'c' }),
  ];
  for (const strategy of ['combine', 'union', 'intersection'] as SynthesisStrategy[]) {
    const referenceText = JSON.stringify(synthesize(strategy, results));
    for (let seed = 1; seed <= 25; seed++) {
      const s = synthesize(strategy, shuffled(results, seed));
      t.equal(JSON.stringify(s), referenceText, `${strategy}, seed ${seed}: same text, same key order`);
    }
  }
  // Spot-check that the order is by task id (code units: uppercase first).
  t.same(
    synthesize('union', shuffled(results, 7)).sources.map((x) => x.task_id),
    ['Epsilon', 'alpha', 'beta', 'delta', 'gamma'],
  );
  t.same(synthesize('union', shuffled(results, 3)).merged.files, ['x', 'y', 'z'], 'alpha, beta, gamma order; beta\'s x deduped');
});

t.test('the output is a copy: mutating it never touches the input', async (t) => {
  const input = { list: [1], nested: { a: 1 } };
  const s = synthesize('union', [src('B', input), src('C', { other: 1 })]);
  (s.merged.list as number[]).push(2);
  (s.merged.nested as Record<string, number>).a = 99;
  (s.sources[0]!.result as { list: number[] }).list.push(3);
  t.same(input, { list: [1], nested: { a: 1 } });
});

t.test('bad input is rejected', async (t) => {
  const dup = thrown(() => synthesize('union', [src('B', 1), src('B', 2)]));
  t.equal(dup.code, 'duplicate_source');
  t.equal(dup.details.task, 'B');
  const unknown = thrown(() => synthesize('average' as SynthesisStrategy, [src('B', 1)]));
  t.equal(unknown.code, 'unknown_strategy');
  t.match(unknown.message, '"average"');
});

t.test('canonicalJson ignores key order at every level', async (t) => {
  t.equal(canonicalJson({ b: 1, a: { d: [{ f: 1, e: 2 }], c: 3 } }), '{"a":{"c":3,"d":[{"e":2,"f":1}]},"b":1}');
  t.equal(canonicalJson(undefined), 'null');
  t.not(canonicalJson([1, 2]), canonicalJson([2, 1]), 'array order matters');
});
