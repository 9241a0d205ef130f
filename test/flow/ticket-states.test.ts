import t from 'tap';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { events, task, taskRows, ticketRow, waitTask, waitTicket } from './helpers.ts';

const cluster = await withCluster(t);
const node = await withNode(t, cluster);

t.test('a ticket cancel stops its running task and cancels every task not ended, through the transition table', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const flags = await tempDir(t, 'flags-');
  await node.submit('ticket.create', {
    ticket_id: 'TC1', title: 'cancel', repository: repo.dir, base_branch: 'main',
    tasks: [
      task('A', 'true'),
      task('B', `while [ ! -f ${flags}/never ]; do sleep 0.05; done`, { depends_on: ['A'] }),
      task('C', 'true', { depends_on: ['B'] }),
    ],
  });
  await waitTask(node, 'TC1', 'B', 'running');
  await node.submit('ticket.cancel', { ticket_id: 'TC1', reason: 'superseded' });
  const ticket = await waitTicket(node, 'TC1', 'cancelled');
  t.equal(ticket.reason, 'superseded');
  const tasks = await taskRows(node, 'TC1');
  t.same(Object.values(tasks).map((x) => [x.id, x.status, x.reason]), [
    ['A', 'completed', null], ['B', 'cancelled', 'ticket cancelled: superseded'], ['C', 'cancelled', 'ticket cancelled: superseded'],
  ]);
  const cancelled = (await events(node, 'TC1', 'task.status')).filter((e) => e.payload.status === 'cancelled');
  t.same(cancelled.map((e) => [e.payload.task_id, e.payload.reason]), [['B', 'superseded'], ['C', 'superseded']], 'one task.status per cancelled task');
  t.same((await events(node, 'TC1', 'ticket.ended')).map((e) => e.payload), [{ ticket_id: 'TC1', status: 'cancelled', reason: 'superseded' }]);
  // The agent was told: its slot is free again.
  await waitFor('the agent slot freed', async () => ((await node.db.em().getConnection().execute(`select running from omoi_agent`)) as Array<{ running: string[] }>)
    .every((a) => !a.running.some((k) => k.startsWith('TC1/'))) || undefined);
});

t.test('a ready task no agent matches is flagged unmatched (reported once), and its reason stays free', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', {
    ticket_id: 'TC2', title: 'unmatched', repository: repo.dir, base_branch: 'main',
    tasks: [task('R', 'true', { capabilities: ['fortran'] }), task('S', 'true')],
  });
  await waitTask(node, 'TC2', 'S', 'completed');
  const r = await waitFor('R flagged', async () => ((await taskRows(node, 'TC2')).R?.unmatched ? (await taskRows(node, 'TC2')).R : undefined));
  t.equal(r.status, 'ready');
  t.equal(r.reason, null, 'no state hidden in reason');
  t.equal((await events(node, 'TC2', 'agent.mismatch')).length, 1, 'reported once although S completed since');
  t.equal((await ticketRow(node, 'TC2'))!.finalizing, false);
  await node.submit('ticket.cancel', { ticket_id: 'TC2' });
  const cancelled = await waitTask(node, 'TC2', 'R', 'cancelled');
  t.equal(cancelled.unmatched, false, 'a change of state clears the flag');
});

t.test('a strict ownership violation fails the task from the structured violations field, with its event', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', {
    ticket_id: 'TC3', title: 'strict', repository: repo.dir, base_branch: 'main', ownership: 'strict',
    tasks: [task('A', 'echo a > a.txt && echo b > b.txt', { owns: ['a.txt'], max_retries: 2 }), task('B', 'true', { depends_on: ['A'] })],
  });
  const ticket = await waitTicket(node, 'TC3', 'failed');
  t.equal(ticket.reason, 'task_failed:A');
  const tasks = await taskRows(node, 'TC3');
  t.equal(tasks.A.status, 'failed');
  t.equal(tasks.A.attempt, 1, 'not retried: a violation is not retryable');
  t.match(tasks.A.reason, /^task_failed: ownership_violation/);
  t.same([tasks.B.status, tasks.B.reason], ['blocked', 'source_failed:A']);
  const violations = await events(node, 'TC3', 'task.ownership_violation');
  t.same(violations.map((e) => e.payload), [{ ticket_id: 'TC3', task_id: 'A', attempt: 1, files: ['b.txt'], mode: 'strict' }]);
});
