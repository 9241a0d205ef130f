// The API behind the cluster, supervision and agent views, against real nodes (NATS,
// PostgreSQL, git): partitions split between two nodes and a failover when one stops
// heartbeating; an actor crashing until it escalates; an agent with a running attempt, its
// history, and a task that needs a capability no agent has.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { agentOfNode } from '../../src/actors/local-agent.ts';
import type { OmoiNode } from '../../src/bootstrap.ts';
import { armCrash } from '../../src/failpoints.ts';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';
import { task, waitTask, waitTicket } from '../flow/helpers.ts';

const cluster = await withCluster(t);
const first = await withNode(t, cluster, {
  nodeId: `views-a-${Math.random().toString(36).slice(2, 6)}`,
  restartMax: 1, restartBackoffMs: 50, restartBackoffMaxMs: 100, restartWindowMs: 60_000,
});

async function get(node: OmoiNode, url: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${node.httpUrl}${url}`, { headers: { authorization: `Bearer ${node.apiToken}` } });
  return { status: res.status, json: await res.json() };
}

t.test('cluster: two nodes split the partitions; one that stops heartbeating shows as a failover', async (t) => {
  const client = await withClient(t, cluster);
  const statuses: Array<{ node_id: string; status: string; partitions: number[] }> = [];
  const sub = client.subscribe('omoi.evt.node.status', { callback: (_err, m) => { statuses.push(JSON.parse(m.string()).payload); } });
  t.teardown(() => sub.unsubscribe());
  const secondId = `views-b-${Math.random().toString(36).slice(2, 6)}`;
  const second = await withNode(t, cluster, { nodeId: secondId });
  const split = await waitFor('the partitions split two and two', async () => {
    const { json } = await get(first, '/api/cluster');
    const mine = json.nodes.find((n: any) => n.id === first.config.nodeId);
    const theirs = json.nodes.find((n: any) => n.id === secondId);
    return mine?.partitions.length === 2 && theirs?.partitions.length === 2 ? json : undefined;
  }, { timeoutMs: 30_000 });
  t.equal(split.node_id, first.config.nodeId);
  t.same(split.nodes.filter((n: any) => [first.config.nodeId, secondId].includes(n.id)).map((n: any) => n.live), [true, true], 'both nodes live');
  const theirs: number[] = split.nodes.find((n: any) => n.id === secondId).partitions;
  t.same(theirs, second.leases.owned(), "the second node's partitions are those it holds");
  for (const lease of split.leases) {
    t.equal(lease.held, true, `partition ${lease.partition} is held`);
    t.equal(lease.epoch, lease.node_id === secondId ? second.leases.epoch(lease.partition) : first.leases.epoch(lease.partition), `partition ${lease.partition}: its holder's epoch`);
    t.match(lease.lag, { pending: Number, ack_pending: Number }, `partition ${lease.partition}: its consumer's lag`);
  }
  t.type(split.lag?.total, 'number', 'the lag totals are still there');
  const given = await waitFor('the first node announces what it holds after giving two back', () =>
    statuses.find((s) => s.node_id === first.config.nodeId && s.status === 'partitions' && s.partitions.length === 2));
  t.same(given.partitions, split.nodes.find((n: any) => n.id === first.config.nodeId).partitions, 'node.status partitions: what it holds now');

  second.leases.stop(); // silent from now on: its leases expire and the first node takes them over
  const after = await waitFor('the failovers of the second node', async () => {
    const { json } = await get(first, '/api/cluster');
    return json.failovers.filter((f: any) => f.from === secondId).length === theirs.length ? json : undefined;
  }, { timeoutMs: 30_000 });
  const failovers = after.failovers.filter((f: any) => f.from === secondId);
  t.same(failovers.map((f: any) => f.partition).sort(), [...theirs].sort(), 'each of its partitions failed over');
  for (const f of failovers) {
    t.equal(f.to, first.config.nodeId, `partition ${f.partition} went to the first node`);
    t.equal(f.epoch, first.leases.epoch(f.partition), `partition ${f.partition}: at the epoch the first node holds`);
    t.ok(Date.parse(f.at) <= Date.now(), 'with its time');
  }
  t.same(after.nodes.find((n: any) => n.id === first.config.nodeId).partitions, [0, 1, 2, 3], 'the first node holds all four');
  t.equal(after.nodes.find((n: any) => n.id === secondId).live, false, 'the silent node is not live');
  t.equal((await get(first, '/api/cluster?failovers=1')).json.failovers.length, 1, 'failovers=1: only the newest');
  t.equal((await get(first, '/api/cluster?failovers=0')).json.error.code, 'invalid_query');
  await second.stop();
});

t.test('supervision: crashes, restarts and the escalation of an actor, per node and entity', async (t) => {
  const repo = await makeRepo(t, { 'a.txt': 'a\n' });
  const disarm = armCrash('merge.start', Infinity);
  t.teardown(disarm);
  await first.submit('ticket.create', {
    ticket_id: 'SV-E', title: 'escalate', repository: repo.dir, base_branch: 'main',
    tasks: [task('A', 'echo a > x.txt', { owns: ['x.txt'] }), task('B', 'echo b > y.txt', { owns: ['y.txt'] }), task('C', 'true', { depends_on: ['A', 'B'], owns: [] })],
  });
  const entity = 'SV-E/join-C/1';
  const answer = await waitFor('the escalation in /api/supervision', async () => {
    const { json } = await get(first, '/api/supervision');
    return json.groups.find((g: any) => g.entity === entity && g.escalated === 1) ? json : undefined;
  }, { timeoutMs: 60_000 });
  disarm();
  const group = answer.groups.find((g: any) => g.entity === entity);
  // restartMax 1: crash, restart, crash, escalate.
  t.match(group, { node_id: first.config.nodeId, actor: 'MergeActor', crashed: 2, restarted: 1, escalated: 1, last_error: /failpoint merge.start crashed/ });
  const mine = answer.nodes.find((n: any) => n.node_id === first.config.nodeId);
  t.ok(mine.crashed >= 2 && mine.escalated >= 1, 'counted for the node');
  const own = answer.events.filter((e: any) => e.entity === entity);
  t.same(own.map((e: any) => e.action), ['escalated', 'crashed', 'restarted', 'crashed'], 'the events, newest first');
  t.ok(own.every((e: any) => e.node_id === first.config.nodeId && typeof e.at === 'string'), 'each names its node and time');

  const page = (await get(first, `/api/supervision?limit=2`)).json;
  t.equal(page.events.length, 2);
  const next = (await get(first, `/api/supervision?limit=2&before=${page.next_before}`)).json;
  t.ok(next.events.every((e: any) => e.id < page.next_before), 'the next page is older');
  const future = (await get(first, `/api/supervision?since=${new Date(Date.now() + 60_000).toISOString()}`)).json;
  t.same([future.groups, future.events, future.nodes], [[], [], []], 'nothing after since');
  const bad = await get(first, '/api/supervision?since=yesterday');
  t.equal(bad.status, 400);
  t.equal(bad.json.error.code, 'invalid_query');
});

t.test('agent detail: last heartbeat, a running attempt, its history, a task no agent can take', async (t) => {
  const agentId = agentOfNode(first.config.nodeId);
  const repo = await makeRepo(t, { 'a.txt': 'a\n' });
  const flagDir = await fs.mkdtemp(path.join(os.tmpdir(), 'views-flag-'));
  t.teardown(() => fs.rm(flagDir, { recursive: true, force: true }));
  const flag = path.join(flagDir, 'go');
  await first.submit('ticket.create', { ticket_id: 'AG-1', title: 'done', repository: repo.dir, base_branch: 'main', tasks: [task('X', 'echo x > x.txt', { owns: ['x.txt'] })] });
  await waitTicket(first, 'AG-1', 'completed');
  await first.submit('ticket.create', {
    ticket_id: 'AG-2', title: 'waits', repository: repo.dir, base_branch: 'main',
    tasks: [task('R', `while [ ! -f ${flag} ]; do sleep 0.1; done`, { owns: ['r.txt'] }), task('N', 'true', { owns: ['n.txt'], capabilities: ['rust'] })],
  });
  await waitTask(first, 'AG-2', 'R', 'running');
  await waitFor('N unmatched', async () => (await waitTask(first, 'AG-2', 'N', 'ready')).unmatched === true);

  const { status, json } = await get(first, `/api/agents/${agentId}`);
  t.equal(status, 200);
  t.match(json.agent, { id: agentId, status: 'healthy', phase: 'execute', kind: 'local', capabilities: [], capacity: 2 });
  t.equal(json.heartbeat.history_stored, false, 'only the last heartbeat is stored, and it says so');
  t.ok(json.heartbeat.last_at === null || json.heartbeat.age_ms >= 0, 'the last heartbeat with its age');
  t.same(json.current.map((c: any) => [c.ticket_id, c.task_id, c.attempt, c.status]), [['AG-2', 'R', 1, 'running']], 'the running attempt');
  t.match(json.history.find((h: any) => h.ticket_id === 'AG-1'), { task_id: 'X', attempt: 1, outcome: 'completed' }, 'a finished attempt with its outcome');
  t.match(json.history.find((h: any) => h.ticket_id === 'AG-2'), { task_id: 'R', attempt: 1, outcome: 'running', ended_at: null }, 'the running one, not ended');
  t.same(json.mismatches.filter((m: any) => m.ticket_id === 'AG-2'), [{
    ticket_id: 'AG-2', task_id: 'N', phase: 'execute', required: ['rust'], missing: ['rust'], phase_differs: false, unmatched: true,
    ready_since: json.mismatches.find((m: any) => m.task_id === 'N').ready_since,
  }], 'the task that needs a capability it lacks (and no agent has)');

  t.equal((await get(first, '/api/agents/no-such-agent')).status, 404);
  t.equal((await get(first, '/api/agents/bad%20id')).json.error.code, 'invalid_path');
  t.equal((await get(first, `/api/agents/${agentId}?history=0`)).json.error.code, 'invalid_query');

  await fs.writeFile(flag, '');
  await waitTask(first, 'AG-2', 'R', 'completed');
  const later = (await get(first, `/api/agents/${agentId}?history=1`)).json;
  t.same(later.current, [], 'no attempt running any more');
  t.match(later.history, [{ ticket_id: 'AG-2', task_id: 'R', outcome: 'completed' }], 'history=1: the newest attempt, completed');
  await first.submit('ticket.cancel', { ticket_id: 'AG-2' });
});
