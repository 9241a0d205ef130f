// Alerts raised end-to-end by what really happens on nodes (real NATS, PostgreSQL, git): a merge
// left unresolved, an escalated actor, a dead letter (resolved when it is discarded), a failed
// ticket, an agent that failed (resolved when it is healthy again), a lost node (resolved when
// it starts again).
import t from 'tap';
import { armCrash } from '../../src/failpoints.ts';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';
import { gitIn, sql, task, waitTicket } from '../flow/helpers.ts';

const cluster = await withCluster(t);
const node = await withNode(t, cluster, {
  restartMax: 2, restartBackoffMs: 50, restartBackoffMaxMs: 200, restartWindowMs: 60_000,
  agentDegradedAfterMs: 700, agentFailedAfterMs: 1_500, agentRestartCooldownMs: 100,
});

const alertOf = (fingerprint: string, status = 'open') => waitFor(`alert ${fingerprint} ${status}`, async () => {
  const rows = await sql<any>(node, `select * from omoi_alert where fingerprint = ? order by first_raised_at desc limit 1`, [fingerprint]);
  const row = rows[0];
  if (!row) return undefined;
  return (status === 'open' ? row.status !== 'resolved' : row.status === status) ? row : undefined;
}, { timeoutMs: 60_000 });

const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
const edit = (v: string) => `sed -i 's/^line 5$/TIMEOUT = ${v}/' config.py`;
/** A → C ← B where A and B change the same line: their merge conflicts. */
const conflicting = (id: string, more: Record<string, unknown> = {}) => ({
  ticket_id: id, title: 'conflict', base_branch: 'main', ...more,
  tasks: [task('A', edit('10'), { owns: ['config.py'] }), task('B', edit('20'), { owns: ['config.py'] }), task('C', 'true', { depends_on: ['A', 'B'], owns: [] })],
});

t.test('a merge left with conflicts raises merge_unresolved (and task_blocked for its continuation)', async (t) => {
  const repo = await makeRepo(t, { 'config.py': lines(10) });
  await node.submit('ticket.create', { ...conflicting('AL-M'), repository: repo.dir });
  const alert = await alertOf('merge_unresolved:AL-M/join-C');
  t.match(alert, { kind: 'merge_unresolved', severity: 'critical', status: 'raised', count: 1 });
  t.match(alert.fields, { ticket_id: 'AL-M', join_id: 'join-C', files: 'config.py' });
  t.match(alert.title, /AL-M: merge of join-C left 1 conflicted file unresolved/);
  const blocked = await alertOf('task_blocked:AL-M/C');
  t.match(blocked, { kind: 'task_blocked', fields: { ticket_id: 'AL-M', task_id: 'C' } });

  // A person supplies a resolution: the join merges, the continuation runs, both alerts resolve.
  const head = await gitIn(node, 'AL-M', 'rev-parse', 'omoi-task/AL-M/A');
  await node.submit('merge.resolve', { ticket_id: 'AL-M', join_id: 'join-C', commit: head });
  t.match(await alertOf('merge_unresolved:AL-M/join-C', 'resolved'), { id: alert.id, resolved_by: 'auto', resolved_reason: 'join AL-M/join-C merged' });
  t.match(await alertOf('task_blocked:AL-M/C', 'resolved'), { id: blocked.id, resolved_by: 'auto' });
  await waitTicket(node, 'AL-M', 'completed');
});

t.test('an actor that exhausts its restarts raises actor_escalated', async (t) => {
  const repo = await makeRepo(t, { 'a.txt': 'a\n' });
  const disarm = armCrash('merge.start', Infinity);
  t.teardown(disarm);
  await node.submit('ticket.create', {
    ticket_id: 'AL-E', title: 'escalate', repository: repo.dir, base_branch: 'main',
    tasks: [task('A', 'echo a > x.txt', { owns: ['x.txt'] }), task('B', 'echo b > y.txt', { owns: ['y.txt'] }), task('C', 'true', { depends_on: ['A', 'B'], owns: [] })],
  });
  const alert = await alertOf('actor_escalated:MergeActor/AL-E/join-C/1') // a merge's entity names its attempt;
  t.match(alert, { kind: 'actor_escalated', severity: 'critical' });
  t.match(alert.fields, { actor: 'MergeActor', ticket_id: 'AL-E', join_id: 'join-C', error: /failpoint merge.start crashed/ });
  disarm();
});

t.test('a task that fails for good fails its ticket: ticket_failed', async (t) => {
  const repo = await makeRepo(t, { 'a.txt': 'a\n' });
  await node.submit('ticket.create', { ticket_id: 'AL-F', title: 'fails', repository: repo.dir, base_branch: 'main', tasks: [task('A', 'exit 3', { max_retries: 0 })] });
  await waitTicket(node, 'AL-F', 'failed');
  const alert = await alertOf('ticket_failed:AL-F');
  t.match(alert, { kind: 'ticket_failed', severity: 'critical', fields: { ticket_id: 'AL-F', reason: 'task_failed:A' } });
});

t.test('a dead letter raises dead_letter; discarding the last one of its code resolves it', async (t) => {
  const client = await withClient(t, cluster);
  client.publish('omoi.in.ticket.create', '{"ticket_id": "AL-D",');
  const alert = await alertOf('dead_letter:malformed_json');
  t.match(alert, { kind: 'dead_letter', severity: 'warning', fields: { code: 'malformed_json', subject: 'omoi.in.ticket.create' } });
  const id = Number(alert.fields.dead_letter_id);
  const res = await fetch(`${node.httpUrl}/api/dlq/${id}/discard`, { method: 'POST', headers: { authorization: `Bearer ${node.apiToken}` } });
  t.equal(res.status, 200);
  const resolved = await alertOf('dead_letter:malformed_json', 'resolved');
  t.match(resolved, { id: alert.id, resolved_by: 'auto', resolved_reason: /every dead letter with code malformed_json was retried or discarded/ });
});

t.test('a remote agent that stops heartbeating: agent_degraded then agent_failed; healthy again resolves both', async (t) => {
  await node.submit('agent.register', { agent_id: 'al-agent', name: 'remote', phase: 'execute', capabilities: [], version: '1.0.0', kind: 'remote', capacity: 1 });
  await node.submit('agent.heartbeat', { agent_id: 'al-agent' });
  const failed = await alertOf('agent_failed:al-agent');
  t.match(failed, { kind: 'agent_failed', severity: 'critical', fields: { agent_id: 'al-agent', status: 'failed' } });
  // The two alerts are separate actors: the failed one may be stored before the degraded one resolves.
  const degraded = await waitFor('the agent_degraded alert resolved', async () =>
    (await sql<any>(node, `select * from omoi_alert where fingerprint = 'agent_degraded:al-agent' and status = 'resolved'`))[0]);
  t.match(degraded, { status: 'resolved', resolved_by: 'auto' }, 'degraded was raised, then resolved when the agent failed');
  await new Promise((r) => setTimeout(r, 300)); // past its restart cooldown (100 ms)
  await node.submit('agent.heartbeat', { agent_id: 'al-agent' });
  // (Silent again, the agent soon fails anew, and that opens a new alert: read this one by id.)
  const back = await waitFor('the agent_failed alert resolved', async () => (await sql<any>(node, `select * from omoi_alert where id = ? and status = 'resolved'`, [failed.id]))[0]);
  t.match(back, { resolved_by: 'auto', resolved_reason: 'agent al-agent is healthy again' });
  await node.submit('agent.deregister', { agent_id: 'al-agent' });
});

t.test('a node that stops heartbeating without releasing its partitions: node_lost, resolved when it starts again', async (t) => {
  const nodeId = `al-lost-${Math.random().toString(36).slice(2, 6)}`;
  const other = await withNode(t, cluster, { nodeId });
  await waitFor('the other node holds partitions', () => other.leases.owned().length > 0);
  other.leases.stop(); // silent from now on: its leases expire, the first node takes them over
  const alert = await alertOf(`node_lost:${nodeId}`);
  t.match(alert, { kind: 'node_lost', severity: 'critical', fields: { node_id: nodeId, by: node.config.nodeId } });
  await other.stop();
  await withNode(t, cluster, { nodeId });
  const resolved = await alertOf(`node_lost:${nodeId}`, 'resolved');
  t.match(resolved, { id: alert.id, resolved_by: 'auto', resolved_reason: `node ${nodeId} started again` });
});
