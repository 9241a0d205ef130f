import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import t from 'tap';
import { openDatabase } from '../../src/persistence/index.ts';
import { partitionOf, Streams } from '../../src/protocol/subjects.ts';
import { makeRepo, tempDir, waitFor, withPostgres } from '../harness/index.ts';
import { startChildNode } from '../harness/child-node.ts';
import { dagWorkload, verifyDag, verifyHeadsFromObjectStore } from '../harness/dag-workload.ts';
import { withNatsCluster, type ClusterServer } from '../harness/nats-cluster.ts';

// Issue 7, item 6 (d): three nodes in their own processes on one PostgreSQL and a NATS
// cluster of three servers (every stream at three replicas), and a DAG of 210 tasks with 10
// joins. While it runs, the nats-server leading the partition stream `OMOI_PART` (preferably
// one a node is connected to) is killed with SIGKILL, and later restarted on its store. Then:
// tasks completed again and no partition's message handling paused longer than the lease
// TTL + 5 s after the kill; every ticket completed, each join has exactly one merge commit and
// its continuation ran on it, every attempt's effect happened once, no partition was ever held
// by two nodes at once, no node died, no dead letters, and every ticket's head is whole when
// rebuilt from the (replicated) object store.

const TICKETS = 10;
const FAN = 19; // A → F1..F19 → J: 21 tasks a ticket
const PARTITIONS = 4;
const NODES = ['node1', 'node2', 'node3']; // the servers are n1, n2, n3
// A lease lasts three heartbeats. Omoi's default (2 s), not the child nodes' 300 ms: a
// nats-server that lost a raft leader waits 4–9 s (its election timeout) before it campaigns,
// so no stream or consumer of the dead server has a new leader within a 900 ms TTL + 5 s.
const HEARTBEAT_MS = 2_000;
const LEASE_TTL_MS = 3 * HEARTBEAT_MS;
const WINDOW_MS = 40_000; // after the kill, where pauses are measured

// Longer than the suite's 180 s a file: three nats-servers, three node processes and 210
// sandboxed tasks on two cores (about 3 minutes when the machine is otherwise idle).
t.setTimeout(900_000); // about 410 s in CI beside the other files: room for a slower machine

t.test('three nodes on three nats-servers, 210 tasks with joins: the partition stream\'s leader is SIGKILLed', async (t) => {
  const nats = await withNatsCluster(t, 3);
  const pg = await withPostgres(t);
  const db = await openDatabase(pg.url, pino({ level: 'silent' }));
  t.teardown(() => db.close());
  const sql = async <T = any>(q: string, params: unknown[] = []) => (await db.em().getConnection().execute(q, params)) as T[];
  const root = await tempDir(t, 'nats-loss');
  const repo = await makeRepo(t, { 'README.md': 'nats-server loss\n' });
  const dag = dagWorkload({ tickets: TICKETS, fan: FAN, partitions: PARTITIONS, repository: repo.dir, effects: path.join(root, 'effects.log') });

  const completedTasks = async () => Number((await sql(`select count(*)::int as n from omoi_task where status = 'completed'`))[0].n);
  const began = Date.now();
  const progress = async (what: string) => t.comment(`${((Date.now() - began) / 1000).toFixed(1)} s: ${what} (${await completedTasks()} tasks completed)`);

  // Each node lists all three servers, each a different one first (the client may shuffle them).
  const urls = nats.servers.map((s) => s.url);
  const nodes = new Map<string, ChildProcess>();
  const start = async (id: string, i: number) => {
    const natsUrl = [...urls.slice(i), ...urls.slice(0, i)].join(',');
    nodes.set(id, await startChildNode(t, { nats, databaseUrl: pg.url }, path.join(root, id), id, { config: { partitions: PARTITIONS, heartbeatMs: HEARTBEAT_MS, streamReplicas: 3, natsUrl } }));
  };
  await start(NODES[0], 0); // creates the streams
  await Promise.all(NODES.slice(1).map((id, i) => start(id, i + 1)));
  await progress('three nodes started');
  await waitFor('three nodes up and every partition leased', async () => {
    const [{ up }] = await sql(`select count(*)::int as up from omoi_node where status = 'up' and heartbeat_at > now() - interval '3 seconds'`);
    const [{ leased }] = await sql(`select count(*)::int as leased from omoi_partition_lease where node_id is not null and expires_at > now()`);
    return up === NODES.length && leased === PARTITIONS;
  }, { timeoutMs: 60_000 });

  const client = await connect({ servers: urls, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
  t.teardown(() => client.close());
  const jsm = await jetstreamManager(client);
  const info = await jsm.streams.info(Streams.partitions);
  t.equal(info.config.num_replicas, 3, `${Streams.partitions} has three replicas`);

  // The victim: the partition stream's leader, and a server some node is connected to. If no
  // node is on the leader, ask it to step down (before any work) until one is.
  const nodesOn = async (s: ClusterServer) => (await s.clientNames()).filter((n) => NODES.some((id) => n === `omoi-${id}`));
  const leader = async () => (await jsm.streams.info(Streams.partitions)).cluster?.leader;
  let victim: ClusterServer | undefined;
  for (let tries = 0; ; tries++) {
    const name = await waitFor('a leader of the partition stream', leader, { timeoutMs: 30_000 });
    victim = nats.servers.find((s) => s.name === name);
    if (!victim || (await nodesOn(victim)).length > 0 || tries === 5) break;
    await client.request(`$JS.API.STREAM.LEADER.STEPDOWN.${Streams.partitions}`, '', { timeout: 5_000 }).catch(() => undefined);
    await waitFor('a new leader of the partition stream', async () => ((await leader()) ?? name) !== name, { timeoutMs: 30_000 });
  }

  // The work: stored by a majority of the servers before we go on.
  const js = jetstream(client);
  for (const ticket of dag.tickets()) await js.publish('omoi.in.ticket.create', JSON.stringify(ticket));
  await progress('tickets submitted');

  await waitFor('25 tasks completed', async () => (await completedTasks()) >= 25, { timeoutMs: 240_000 });
  // The leader now (a loaded machine may have moved it since).
  const leaderNow = await waitFor('a leader of the partition stream', leader, { timeoutMs: 30_000 });
  victim = nats.servers.find((s) => s.name === leaderNow);
  t.ok(victim, 'the partition stream\'s leader is one of our servers');
  t.comment(`victim ${victim!.name}; nodes on each server: ${(await Promise.all(nats.servers.map(async (s) => `${s.name}: ${(await nodesOn(s)).join(', ') || 'none'}`))).join('; ')}`);
  const killedAt = Date.now();
  victim!.kill9();
  await progress(`${victim!.name} killed (SIGKILL)`);

  // Recovery. Three measures, from the kill: a new leader of the partition stream; tasks
  // completing again (the first completion); and, in each partition, the longest pause in the
  // messages its worker handled (omoi_processed_message) over the WINDOW_MS after the kill
  // (the kill itself counts as the start of a pause, the end of the window as its end: a
  // partition that never resumes pauses for the whole window). A partition's window ends
  // sooner when its last fan-out task completed: after that its tickets only wait for their
  // joins' 19-way merges (seconds of CPU each, on two cores shared by three nodes) and their
  // continuations, and a partition with nothing to handle is idle, not stalled. With too few tasks a second
  // per partition the pause also holds the gaps between ordinary messages: a loaded machine
  // lengthens it, never hides a stall.
  const newLeader = await waitFor('a new leader of the partition stream', async () => {
    const name = await leader();
    return name && name !== victim!.name ? name : undefined;
  }, { timeoutMs: 60_000 });
  const leaderMs = Date.now() - killedAt;
  const completedAfterKill = async () => sql<{ ticket_id: string; agent_id: string; at: number }>(
    `select ticket_id, agent_id, extract(epoch from updated_at) * 1000 as at from omoi_task
      where status = 'completed' and updated_at > to_timestamp(? / 1000.0)`, [killedAt],
  );
  await sleep(Math.max(0, killedAt + WINDOW_MS - Date.now()));
  const firsts = new Map<string, number>(); // 'partition n' / agent → its first task completion after the kill
  for (const r of await completedAfterKill()) {
    for (const key of [`partition ${partitionOf('ticket', r.ticket_id, PARTITIONS)}`, r.agent_id]) firsts.set(key, Math.min(firsts.get(key) ?? Infinity, Number(r.at) - killedAt));
  }
  const handled = await sql<{ partition: number; at: number }>(
    `select partition, extract(epoch from processed_at) * 1000 as at from omoi_processed_message
      where processed_at > to_timestamp(? / 1000.0) and processed_at <= to_timestamp(? / 1000.0) order by 1, 2`, [killedAt, killedAt + WINDOW_MS],
  );
  const fanTasks = await sql<{ ticket_id: string; status: string; at: number }>(
    `select ticket_id, status, extract(epoch from updated_at) * 1000 as at from omoi_task where id like 'F%'`,
  );
  const workEnds = (p: number) => {
    const mine = fanTasks.filter((r) => partitionOf('ticket', r.ticket_id, PARTITIONS) === p);
    return mine.every((r) => r.status === 'completed') ? Math.max(killedAt, ...mine.map((r) => Number(r.at))) : Infinity;
  };
  const pauses = Array.from({ length: PARTITIONS }, (_, p) => {
    const end = Math.min(killedAt + WINDOW_MS, workEnds(p));
    const points = [killedAt, ...handled.filter((r) => r.partition === p && Number(r.at) <= end).map((r) => Number(r.at)), end];
    let longest = { ms: 0, from: 0 };
    for (let i = 1; i < points.length; i++) if (points[i]! - points[i - 1]! > longest.ms) longest = { ms: Math.round(points[i]! - points[i - 1]!), from: Math.round(points[i - 1]! - killedAt) };
    return longest;
  });
  const firstMs = Math.min(...firsts.values());
  t.comment(`recovery after the SIGKILL of ${victim!.name}: new partition stream leader ${newLeader} after ${leaderMs} ms; first task completed after ${firstMs} ms; `
    + `longest pause of each partition in the ${WINDOW_MS / 1000} s after the kill (ms, starting at ms after the kill): ${JSON.stringify(pauses)}; `
    + `first completion after the kill by partition and agent (ms): ${JSON.stringify(Object.fromEntries([...firsts].sort()))}; `
    + `the partition's last fan-out task completed (ms after the kill, null: not in the window): ${JSON.stringify(Array.from({ length: PARTITIONS }, (_, p) => (Number.isFinite(workEnds(p)) ? Math.round(workEnds(p) - killedAt) : null)))}`);
  const budget = LEASE_TTL_MS + 5_000;
  t.ok(firstMs <= budget, `tasks completed again within the lease TTL + 5 s of the kill (${firstMs} ms, budget ${budget} ms)`);
  // Nothing of a partition whose stream lost its leader moves before NATS elects a new one (its
  // raft election timeout, 4–9 s, is not ours to tune): Omoi's part is what comes after.
  const longest = Math.max(...pauses.map((p) => p.ms));
  t.ok(longest <= leaderMs + budget, `no partition paused longer than NATS's election + the lease TTL + 5 s (${longest} ms, election ${leaderMs} ms)`);
  await progress('recovered');

  // The server comes back on its store while the work goes on, and catches up.
  await victim!.restart();
  await progress(`${victim!.name} restarted`);

  await waitFor('every ticket completed', async () => {
    const rows = await sql(`select status, count(*)::int as n from omoi_ticket group by 1`);
    const bad = rows.filter((r) => ['failed', 'cancelled'].includes(r.status));
    if (bad.length) throw new Error(`tickets ended ${JSON.stringify(bad)}`);
    return rows.find((r) => r.status === 'completed')?.n === TICKETS;
  }, { timeoutMs: 420_000 }).catch(async (err) => {
    throw new Error(`${(err as Error).message}: ${JSON.stringify(await sql(`select ticket_id, id, status, attempt, agent_id, reason from omoi_task where status <> 'completed' order by 1, 2`))}; leases: ${JSON.stringify(await sql(`select partition, node_id, epoch, expires_at > now() as live from omoi_partition_lease order by 1`))}`);
  });
  await progress('every ticket completed');

  t.same(NODES.filter((id) => nodes.get(id)!.exitCode !== null || nodes.get(id)!.signalCode !== null), [], 'every node lived through the loss of a nats-server');
  const retried = await sql(`select ticket_id, id, attempt from omoi_task where attempt > 1`);
  t.comment(`attempts run again: ${retried.length ? JSON.stringify(retried) : 'none'}; lease changes after the kill: ${JSON.stringify(await sql(`select partition, node_id, epoch from omoi_lease_history where held_from > to_timestamp(? / 1000.0) order by held_from`, [killedAt]))}`);
  t.same(await sql(`select code from omoi_dead_letter`), [], 'no dead letters');

  // One merge commit per join, the continuation on it, every effect once, leases never held twice.
  await verifyDag(t, dag, sql, db, { minAgents: NODES.length });
  // Every head is whole from the replicated object store alone, on a node that never saw the tickets.
  await verifyHeadsFromObjectStore(t, dag, sql, client, path.join(root, 'stranger'), repo.dir);
});
