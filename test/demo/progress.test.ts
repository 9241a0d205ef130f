import t from 'tap';
import { describeEvent, elapsed } from '../../src/demo/index.ts';

const ctx = { titles: { B: 'feature X' } };
const line = (type: string, payload: Record<string, unknown>) => describeEvent({ type, payload: { ticket_id: 'T', ...payload } }, ctx);

t.test('lines for the steps the demo narrates', async (t) => {
  t.equal(line('ticket.rejected', { command: 'ticket.create', code: 'cycle', reason: 'tasks form a cycle: A → B → A' }), 'ticket T REJECTED (cycle): tasks form a cycle: A → B → A');
  t.equal(line('ticket.ended', { status: 'failed', reason: 'task_failed:B' }), 'ticket FAILED: task_failed:B');
  t.equal(line('task.status', { task_id: 'B', status: 'ready', base: 'a'.repeat(40) }), 'task B (feature X) ready on aaaaaaa');
  t.equal(line('task.status', { task_id: 'B', status: 'ready', reason: 'retry after: exited with code 1\nboom\n' }), 'task B ready again (retry after: exited with code 1 boom)', 'a multi-line reason stays on one line');
  t.equal(line('task.status', { task_id: 'G', status: 'blocked', reason: 'merge_conflict', files: ['config.py'] }), 'task G BLOCKED: merge_conflict (files config.py)');
  t.equal(line('ownership.status', { task_id: 'H', status: 'waiting', globs: ['src/x/**'], blocked_by: ['B'] }), 'claim waiting: H wants src/x/**, held by B');
  t.equal(line('task.ownership_violation', { task_id: 'E', files: ['config.py'], mode: 'strict', attempt: 1 }), 'ownership violation: E changed config.py outside its claims (strict: the attempt fails)');
  t.equal(line('merge.attempted', { join_id: 'join-G', ok: false, order: ['E', 'F'], conflicts: { E: [], F: ['config.py'] }, files: ['config.py'] }), 'merge join-G: order E → F; conflicts F: config.py; FAILED, unresolved config.py');
  t.equal(line('join.status', { join_id: 'join-J', status: 'collecting', continuation: 'J', collected: 0, of: 3, sources: ['A', 'B', 'C'] }), 'join join-J registered: J will run on the merge of A, B, C');
  t.equal(line('join.status', { join_id: 'join-J', status: 'collecting', continuation: 'J', collected: 1, of: 3, sources: ['A', 'B', 'C'] }), 'join join-J registered: J will run on the merge of A, B, C (1/3 already done)');
  t.equal(line('join.status', { join_id: 'join-J', status: 'collecting', continuation: 'J', collected: 37, of: 1000, source: 'T0036' }), 'join join-J collecting: 37/1000 sources done (T0036) for J');
  t.equal(line('join.status', { join_id: 'join-J', status: 'merging', continuation: 'J', collected: 3, of: 3, sources: ['A', 'B', 'C'] }), 'join join-J merging A, B, C in a merge sandbox');
  t.equal(line('agent.mismatch', { task_id: 'B', phase: 'review', required: ['gpu'] }), 'task B: no agent matches (phase review, capabilities gpu)');
});

t.test('steps it leaves out, and the time prefix', async (t) => {
  t.equal(line('task.status', { task_id: 'B', status: 'assigned' }), undefined, 'assigned: the running line follows');
  t.equal(line('ownership.status', { task_id: 'B', status: 'released', globs: [] }), undefined);
  t.equal(line('node.status', { node_id: 'n' }), undefined, 'events of other kinds');
  t.equal(elapsed(1234), '[  1.2s]');
  t.equal(elapsed(123_456), '[123.5s]');
});
