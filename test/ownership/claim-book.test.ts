import t from 'tap';
import { ClaimBook, type ClaimBookState } from '../../src/ownership/index.ts';

const ids = (claims: Array<{ taskId: string }>) => claims.map((c) => c.taskId);

t.test('non-conflicting claims are granted together; a conflicting one waits for its holder', async (t) => {
  const book = new ClaimBook();
  t.same(book.request('B', ['src/x/**']), { granted: true });
  t.same(book.request('C', ['src/y/**']), { granted: true });
  t.same(book.request('D', ['src/x/deep/file.ts']), { granted: false, blockedBy: ['B'] });
  t.same(ids(book.holders()), ['B', 'C']);
  t.same(ids(book.waiters()), ['D']);
  t.same(book.release('B'), ['D'], 'releasing the holder grants the waiter');
  t.same(ids(book.holders()), ['C', 'D']);
  t.same(book.waiters(), []);
});

t.test('a task with no globs is always granted', async (t) => {
  const book = new ClaimBook();
  book.request('A', ['**']);
  t.same(book.request('E', []), { granted: true });
  t.same(book.release('E'), []);
});

t.test('all-or-nothing: a claim is granted whole or not at all', async (t) => {
  const book = new ClaimBook();
  book.request('A', ['src/auth/**']);
  // Only one of B's three globs conflicts, yet B gets none of them.
  t.same(book.request('B', ['docs/**', 'src/auth/session.ts', 'README.md']), { granted: false, blockedBy: ['A'] });
  t.same(book.holders(), [{ taskId: 'A', globs: ['src/auth/**'] }], 'B holds nothing while it waits');
  t.same(book.request('C', ['README.md']), { granted: false, blockedBy: ['B'] }, 'README.md is free, but C queues behind B, which wants it too');
  t.same(book.request('D', ['CHANGELOG.md']), { granted: true }, 'a claim overlapping nobody is granted at once');
  t.same(book.release('A'), ['B'], 'B then gets all three globs at once');
  t.same(book.holders()[1], { taskId: 'B', globs: ['docs/**', 'src/auth/session.ts', 'README.md'] });
});

t.test('FIFO: waiters are granted in arrival order', async (t) => {
  const book = new ClaimBook();
  book.request('holder', ['shared/**']);
  for (const id of ['w1', 'w2', 'w3']) {
    t.equal(book.request(id, ['shared/file.ts']).granted, false);
  }
  t.same(book.request('w2', ['shared/file.ts']), { granted: false, blockedBy: ['holder', 'w1'] }, 'w2 waits for the holder and w1');
  t.same(book.release('holder'), ['w1']);
  t.same(book.release('w1'), ['w2']);
  t.same(book.release('w2'), ['w3']);
  t.same(book.release('w3'), []);
  t.same(book.toJSON(), { holders: [], waiters: [] });
});

t.test('release grants every waiter that became free, in FIFO order, in one go', async (t) => {
  const book = new ClaimBook();
  book.request('A', ['a/**', 'b/**']);
  book.request('B', ['b/1']);
  book.request('C', ['a/1']);
  book.request('D', ['a/2', 'b/2']);
  book.request('E', ['a/1']); // behind C
  t.same(book.release('A'), ['B', 'C', 'D']);
  t.same(ids(book.waiters()), ['E']);
  t.same(book.release('C'), ['E']);
});

t.test('no starvation: later requests that overlap a waiter cannot overtake it', async (t) => {
  const book = new ClaimBook();
  book.request('H', ['src/a/**']);
  // W needs src/a and src/b; it waits for H.
  t.same(book.request('W', ['src/a/x.ts', 'src/b/**']), { granted: false, blockedBy: ['H'] });
  // A stream of requests for src/b: none conflicts with the holder H, all conflict with W.
  for (let i = 0; i < 50; i++) {
    t.same(book.request(`late${i}`, [`src/b/file${i}.ts`]), { granted: false, blockedBy: ['W'] });
  }
  t.same(ids(book.holders()), ['H'], 'none of them overtook W');
  const granted = book.release('H');
  t.same(granted, ['W'], 'W is served first; the late ones still wait, for W');
  t.same(book.release('W'), Array.from({ length: 50 }, (_, i) => `late${i}`), 'then all fifty, which do not conflict with each other');
});

t.test('idempotent requests', async (t) => {
  const book = new ClaimBook();
  t.same(book.request('A', ['x/**']), { granted: true });
  t.same(book.request('A', ['x/**']), { granted: true }, 'a holder asking again is granted');
  book.request('B', ['x/1']);
  book.request('C', ['x/2']);
  t.same(book.request('B', ['x/1']), { granted: false, blockedBy: ['A'] }, 'a waiter asking again keeps its place');
  t.same(ids(book.waiters()), ['B', 'C']);
  t.same(book.holders(), [{ taskId: 'A', globs: ['x/**'] }], 'nothing was added twice');
  t.same(book.request('A', ['x/**', 'x/**']), { granted: true }, 'duplicate globs are the same claim');
  t.throws(() => book.request('A', ['y/**']), { code: 'claim_changed' }, 'the same task with other globs is refused');
  t.throws(() => book.request('B', ['x/1', 'y/**']), { code: 'claim_changed' });
  t.same(ids(book.waiters()), ['B', 'C'], 'refusals change nothing');
});

t.test('release of a waiter withdraws it and unblocks those behind it', async (t) => {
  const book = new ClaimBook();
  book.request('H', ['lib/**']);
  book.request('W1', ['lib/a.ts', 'docs/**']);
  book.request('W2', ['docs/guide.md']); // blocked by W1 only
  t.same(book.request('W2', ['docs/guide.md']), { granted: false, blockedBy: ['W1'] });
  t.same(book.release('W1'), ['W2'], 'W2 is granted as soon as W1 leaves the queue');
  t.same(ids(book.holders()), ['H', 'W2']);
  t.same(book.waiters(), []);
  t.same(book.release('nobody'), [], 'releasing an unknown task is a no-op');
  t.same(book.release('W1'), [], 'and so is releasing twice');
});

t.test('invalid input is refused before anything changes', async (t) => {
  const book = new ClaimBook();
  t.throws(() => book.request('A', ['src/**', '+(x)']), { code: 'invalid_glob' });
  t.throws(() => book.request('', ['src/**']), { code: 'invalid_task_id' });
  t.same(book.toJSON(), { holders: [], waiters: [] });
});

t.test('JSON round trip keeps holders, queue order and behaviour', async (t) => {
  const book = new ClaimBook();
  book.request('A', ['src/**']);
  book.request('B', ['src/a.ts']);
  book.request('C', ['docs/**']);
  book.request('D', ['src/b.ts', 'docs/x.md']);
  const state = book.toJSON();
  const copy = ClaimBook.fromJSON(JSON.parse(JSON.stringify(state)) as ClaimBookState);
  t.same(copy.toJSON(), state);
  t.same(copy.toJSON(), {
    holders: [
      { taskId: 'A', globs: ['src/**'] },
      { taskId: 'C', globs: ['docs/**'] },
    ],
    waiters: [
      { taskId: 'B', globs: ['src/a.ts'] },
      { taskId: 'D', globs: ['src/b.ts', 'docs/x.md'] },
    ],
  });
  t.same(copy.release('A'), ['B'], 'D still waits for C');
  t.same(copy.release('C'), ['D']);
  t.same(ids(book.waiters()), ['B', 'D'], 'the original is independent of the copy');
  state.holders.push({ taskId: 'Z', globs: [] });
  t.same(ids(book.holders()), ['A', 'C'], 'toJSON returns a copy');
});

t.test('fromJSON refuses malformed state', async (t) => {
  t.throws(() => ClaimBook.fromJSON({} as ClaimBookState), { code: 'invalid_claim_book' });
  t.throws(() => ClaimBook.fromJSON({ holders: [{ taskId: 'A' }], waiters: [] } as unknown as ClaimBookState), { code: 'invalid_claim_book' });
  t.throws(
    () => ClaimBook.fromJSON({ holders: [{ taskId: 'A', globs: [] }], waiters: [{ taskId: 'A', globs: [] }] }),
    { code: 'invalid_claim_book' },
    'a task listed twice',
  );
  t.throws(() => ClaimBook.fromJSON({ holders: [{ taskId: 'A', globs: ['/abs'] }], waiters: [] }), { code: 'invalid_glob' });
});
