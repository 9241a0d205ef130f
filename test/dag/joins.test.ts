import t from 'tap';
import { joinIdFor, joinsFor, taskBase, validateTasks } from '../../src/dag/index.ts';
import { task } from './helpers.ts';

t.test('every task with two or more dependencies gets one join, sources sorted', async (t) => {
  const tasks = [
    task('A'),
    task('B', ['A']),
    task('C', ['A']),
    task('D', ['C', 'B']),
    task('E', ['D']),
    task('F', ['E', 'A', 'C']),
  ];
  validateTasks(tasks);
  t.same(joinsFor(tasks), [
    { joinId: 'join-D', continuation: 'D', sources: ['B', 'C'] },
    { joinId: 'join-F', continuation: 'F', sources: ['A', 'C', 'E'] },
  ]);
});

t.test('no joins without multi-dependency tasks; joins sorted by id whatever the task order', async (t) => {
  t.same(joinsFor([task('A'), task('B', ['A'])]), []);
  t.same(
    joinsFor([task('Z', ['A', 'B']), task('M', ['B', 'A']), task('A'), task('B')]).map((j) => j.joinId),
    ['join-M', 'join-Z'],
  );
});

t.test('repeated dependencies count once', async (t) => {
  t.same(joinsFor([task('C', ['A', 'A'])]), [], 'one distinct source is not a join');
  t.same(taskBase(task('C', ['A', 'A'])), { kind: 'parent', task: 'A' });
});

t.test('taskBase: ticket base, parent, or join', async (t) => {
  t.same(taskBase(task('A')), { kind: 'ticket_base' });
  t.same(taskBase(task('B', ['A'])), { kind: 'parent', task: 'A' });
  t.same(taskBase(task('D', ['C', 'B'])), { kind: 'join', joinId: 'join-D' });
  t.equal(joinIdFor('D'), 'join-D');
  // The join a task is based on is exactly the one joinsFor registers.
  const d = task('D', ['B', 'C']);
  const base = taskBase(d);
  t.equal(base.kind === 'join' && base.joinId, joinsFor([d])[0]!.joinId);
});
