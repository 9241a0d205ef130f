import t from 'tap';
import { BoundedCache } from '../../src/ownership/bounded-cache.ts';

t.test('keeps at most `capacity` entries, forgetting the least recently used', async (t) => {
  const cache = new BoundedCache<string, number>(2);
  cache.set('a', 1);
  cache.set('b', 2);
  t.equal(cache.get('a'), 1, 'reading "a" makes "b" the least recently used');
  cache.set('c', 3);
  t.equal(cache.size, 2);
  t.equal(cache.get('b'), undefined, '"b" was evicted');
  t.equal(cache.get('a'), 1);
  t.equal(cache.get('c'), 3);
});

t.test('getOrCompute computes once, and stores nothing when computing throws', async (t) => {
  const cache = new BoundedCache<string, boolean>(4);
  let calls = 0;
  const compute = () => {
    calls++;
    return false; // a falsy value must still count as cached
  };
  t.equal(cache.getOrCompute('k', compute), false);
  t.equal(cache.getOrCompute('k', compute), false);
  t.equal(calls, 1);
  t.throws(() => cache.getOrCompute('bad', () => { throw new Error('boom'); }), /boom/);
  t.equal(cache.size, 1);
});

t.test('refuses a capacity that is not a positive integer', async (t) => {
  t.throws(() => new BoundedCache(0), RangeError);
  t.throws(() => new BoundedCache(1.5), RangeError);
});
