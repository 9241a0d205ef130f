import { execFileSync } from 'node:child_process';
import t from 'tap';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql, task, taskRows, waitTask, waitTicket } from './helpers.ts';

// Cancelling stops the work: the running command's whole process tree is killed at once (not at
// its timeout), its agent slot is freed, and a queued attempt never starts.

const alive = (tag: string) => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').some((l) => l.trim() === tag);

t.test('cancelling a ticket kills its running commands and frees the agent', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, { localAgentCapacity: 1 });
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  // A sleep of a duration no other process has: its command line is the tag `ps` finds.
  const seconds = `${600 + (process.pid % 1000)}.${Date.now() % 1000}`;
  const tag = `sleep ${seconds}`;
  const queuedTag = `sleep ${seconds}1`;
  // A task that would run for ten minutes, with a child of its own; and one queued behind it (capacity 1).
  await node.submit('ticket.create', {
    ticket_id: 'T-runaway', title: 'runaway', repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', `sh -c '${tag}' & wait`, { timeout_ms: 600_000 }), task('B', queuedTag, { timeout_ms: 600_000 })],
  });
  await waitTask(node, 'T-runaway', 'A', 'running').catch(() => waitTask(node, 'T-runaway', 'B', 'running'));
  await waitFor('the runaway command runs', () => alive(tag) || undefined);

  const cancelled = Date.now();
  await node.submit('ticket.cancel', { ticket_id: 'T-runaway', reason: 'runaway' });
  await waitTicket(node, 'T-runaway', 'cancelled');
  await waitFor('its process tree is gone', () => !alive(tag) || undefined, { timeoutMs: 10_000 });
  t.ok(Date.now() - cancelled < 10_000, 'killed at once, not at its 10-minute timeout');
  const tasks = await taskRows(node, 'T-runaway');
  t.same([tasks.A.status, tasks.B.status], ['cancelled', 'cancelled']);
  const agent = await waitFor('the agent slot is free', async () => {
    const row = (await sql<any>(node, 'select running from omoi_agent where id = ?', [`local-${node.config.nodeId}`]))[0];
    return row?.running.length === 0 ? row : undefined;
  });
  t.same(agent.running, [], 'no attempt holds the local agent');
  await new Promise((r) => setTimeout(r, 500));
  t.notOk(alive(queuedTag), 'the queued attempt never started');
});
