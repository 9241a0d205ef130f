import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { agentOfNode } from '../../src/actors/local-agent.ts';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql, task, waitTask } from '../flow/helpers.ts';

// A node's own agent obeys a shutdown like a remote one: its node acknowledges the control, it
// finishes the attempt it runs and takes nothing new, then it is removed (reason shutdown).
// Restarting the node registers its agent anew: healthy, not draining, taking work again.

type Agent = { status: string; reason: string | null; draining: boolean; shutting_down: boolean; running: string[]; controls: Array<{ control_id: string; kind: string; status: string }> };

t.test('the node\'s own agent shut down: finishes its attempt, takes nothing new, is removed; the restarted node registers it anew', async (t) => {
  const cluster = await withCluster(t);
  const nodeId = 'node-shut';
  const first = await withNode(t, cluster, { nodeId });
  const local = agentOfNode(nodeId);
  const row = async () => (await sql<Agent>(first, 'select status, reason, draining, shutting_down, running, controls from omoi_agent where id = ?', [local]))[0]!;
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const flag = path.join(await tempDir(t, 'local-shutdown-'), 'go');
  await first.submit('ticket.create', { ticket_id: 'RUNNING', title: 'running', repository: repo.dir, tasks: [task('A', `while ! test -f ${flag}; do sleep 0.1; done`)] });
  await waitTask(first, 'RUNNING', 'A', 'running');

  const res = await fetch(`${first.httpUrl}/api/agents/${local}/shutdown`, { method: 'POST', headers: { authorization: `Bearer ${first.apiToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'node retired' }) });
  t.equal(res.status, 202);
  const { message_id: controlId } = await res.json() as { message_id: string };
  await waitFor('the node to acknowledge the shutdown', async () => (await row()).controls.find((c) => c.control_id === controlId && c.status === 'acknowledged'));
  t.match(await row(), { status: 'healthy', draining: true, shutting_down: true, running: [/^RUNNING\/A\//] }, 'it keeps its attempt while shutting down');

  await first.submit('ticket.create', { ticket_id: 'WAITING', title: 'waiting', repository: repo.dir, tasks: [task('B', 'true')] });
  await waitTask(first, 'WAITING', 'B', 'ready');
  await writeFile(flag, '');
  await waitTask(first, 'RUNNING', 'A', 'completed');
  await waitFor('the agent removed', async () => (await row()).status === 'removed' || undefined);
  t.match(await row(), { reason: 'shutdown', running: [] }, 'removed once its attempt ended');
  await new Promise((r) => setTimeout(r, 1_500));
  t.equal((await sql<{ status: string }>(first, `select status from omoi_task where ticket_id = 'WAITING'`))[0]!.status, 'ready', 'nothing new was taken');

  await first.stop();
  const second = await withNode(t, cluster, { nodeId });
  await waitTask(second, 'WAITING', 'B', 'completed');
  t.match((await sql<Agent>(second, 'select status, draining, shutting_down from omoi_agent where id = ?', [local]))[0], { status: 'healthy', draining: false, shutting_down: false }, 'the restarted node registered its agent anew, and it took the waiting task');
});
