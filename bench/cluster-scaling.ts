/**
 * Fan-out throughput with 1, 2 and 3 nodes (issue 7, item 7): for each node count, a fresh
 * cluster (its own nats-server and database; one durable PostgreSQL server for all) and that many
 * nodes in their own processes, all on this machine. The same work each time: `tickets` tickets,
 * each 1 → `fanOut` → 1 with `true` tasks, on one repository, published at once. Tasks per second
 * from the nodes' own event log: first task `running` → last task `completed`.
 *
 * Every node is one more process on the same cores: on a machine with few cores, more nodes add
 * coordination (leases, three partition hops a task between processes) without adding CPU, so
 * the ratio to one node measures the cost of spreading out, not the gain of more machines.
 *
 * Standalone: `node --import tsx bench/cluster-scaling.ts [--quick]`; `npm run bench` runs it too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { OmoiConfig } from '../src/config/index.ts';
import { BenchCluster, BenchPostgres, runStandalone } from './cluster-nodes.ts';
import { makeRepo, sleep, waitFor } from './dag-shared.ts';
import { cpuBetween, cpuOfTree } from './process-cpu.ts';
import { percentile, round } from './stats.ts';

export interface ScalingRun {
  nodes: number; tasks: number;
  /** First task running → last task completed (the nodes' event times), seconds. */
  seconds: number; tasksPerSec: number;
  /** Publish → every ticket completed, bench clock, seconds. */
  wallSeconds: number;
  /** CPU ms per task of every process of the bench (nodes, their task commands, nats-server, PostgreSQL). */
  cpuMsPerTask: number;
  /** Tasks completed by each node's local agent. */
  tasksByAgent: Record<string, number>;
}

export interface ClusterScaling {
  tickets: number; fanOut: number; tasksPerRun: number; repeat: number;
  settings: { partitions: number; localAgentCapacity: number; heartbeatMs: number; fetchBatch: number };
  byNodes: Array<{
    nodes: number; tasksPerSec: number; ratioToOneNode: number; cpuMsPerTask: number; runs: ScalingRun[];
    /** Set when a run failed (stalled, a ticket failed): the series stopped there. */
    error?: string;
    /** CPU ms per second of the whole cluster (nodes and servers) with no work: leases, supervisors, partition consumers polling. */
    idleCpuMsPerSec: number;
  }>;
  cores: number;
}

/** One ticket 1 → `fanOut` → 1: task S, F0..F(n-1) after it, J after all of them; each runs `run`. */
export function fanOutTicket(id: string, repository: string, fanOut: number, run = 'true') {
  const sources = Array.from({ length: fanOut }, (_, i) => `F${i}`);
  return {
    ticket_id: id, title: `bench ${id}: 1→${fanOut}→1`, repository, base_branch: 'main',
    tasks: [
      { id: 'S', run, depends_on: [], owns: [] },
      ...sources.map((s) => ({ id: s, run, depends_on: ['S'], owns: [] })),
      { id: 'J', run, depends_on: sources, owns: [] },
    ],
  };
}

/** Waits until every ticket of `ids` completed; throws if one failed or no task completed for `stallMs`. */
export async function waitForTickets(cluster: BenchCluster, ids: string[], timeoutMs: number, stallMs = 60_000): Promise<void> {
  let done = -1;
  let progressAt = Date.now();
  await waitFor(`${ids.length} tickets completed`, async () => {
    const [row] = await cluster.sql(
      `select (select count(*)::int from omoi_ticket where id = any($1) and status = 'completed') as completed,
              (select string_agg(id || ' ' || status || ': ' || coalesce(reason, ''), '; ') from omoi_ticket where id = any($1) and status in ('failed', 'cancelled')) as failed,
              (select count(*)::int from omoi_task where ticket_id = any($1) and status = 'completed') as tasks`, [ids]);
    if (row!.failed) {
      const tasks = await cluster.sql(`select ticket_id || '/' || id || ' attempt ' || attempt || ' on ' || coalesce(agent_id, '-') || ': ' || coalesce(reason, '') as t from omoi_task where ticket_id = any($1) and status = 'failed' limit 5`, [ids]);
      throw new Error(`bench tickets ended badly: ${row!.failed}; failed tasks: ${tasks.map((x) => x.t).join('; ')}`);
    }
    if (row!.tasks !== done) { done = row!.tasks; progressAt = Date.now(); }
    if (Date.now() - progressAt > stallMs) throw new Error(`stalled: no task completed for ${stallMs} ms (${done} completed, ${row!.completed}/${ids.length} tickets); ${await clusterState(cluster, ids)}`);
    return row!.completed === ids.length;
  }, timeoutMs, 100);
}

/** Tasks by state, node heartbeat ages, lease changes of the last minute, dead letters: what a stalled run looked like. */
async function clusterState(cluster: BenchCluster, ids: string[]): Promise<string> {
  const tasks = await cluster.sql(`select status || ' ' || count(*) as s from omoi_task where ticket_id = any($1) group by status`, [ids]);
  const nodes = await cluster.sql(`select id || ' ' || status || ' ' || round(extract(epoch from now() - heartbeat_at)::numeric, 1) || ' s ago' as s from omoi_node order by id`);
  const [leases] = await cluster.sql(`select count(*)::int as n from omoi_lease_history where held_from > now() - interval '1 minute'`);
  const dead = await cluster.sql(`select type || ': ' || left(reason, 200) as s from omoi_dead_letter order by created_at desc limit 3`);
  return `tasks: ${tasks.map((x) => x.s).join(', ')}; node heartbeats: ${nodes.map((x) => x.s).join(', ')}; lease changes in the last minute: ${leases!.n}; dead letters: ${dead.map((x) => x.s).join(' | ') || 'none'}`;
}

/** Every node of `cluster` holds partitions, every partition is held, and every local agent is healthy. */
export async function waitForBalance(cluster: BenchCluster, partitions: number, timeoutMs: number): Promise<void> {
  const n = cluster.nodes.size;
  await waitFor(`${n} nodes holding all ${partitions} partitions, ${n} local agents healthy`, async () => {
    const [row] = await cluster.sql(
      `select (select count(distinct node_id)::int from omoi_partition_lease where node_id is not null and expires_at > now()) as holders,
              (select count(*)::int from omoi_partition_lease where node_id is not null and expires_at > now()) as held,
              (select count(*)::int from omoi_agent where kind = 'local' and status = 'healthy' and substr(id, 7) = any($1)) as agents`, [[...cluster.nodes.keys()]]);
    return row!.holders === n && row!.held === partitions && row!.agents === n;
  }, timeoutMs, 200);
}

/** Publishes the tickets at once and measures them to completion. */
async function runOnce(cluster: BenchCluster, opts: { ids: string[]; repo: string; fanOut: number; timeoutMs: number }): Promise<ScalingRun> {
  const cpu0 = cpuOfTree();
  const t0 = performance.now();
  for (const id of opts.ids) await cluster.submit('ticket.create', fanOutTicket(id, opts.repo, opts.fanOut));
  await waitForTickets(cluster, opts.ids, opts.timeoutMs);
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpu = cpuBetween(cpu0, cpuOfTree());
  const [span] = await cluster.sql(
    `select extract(epoch from max(time) filter (where payload->>'status' = 'completed') - min(time) filter (where payload->>'status' = 'running'))::float8 as seconds
       from omoi_event where type = 'task.status' and ticket_id = any($1)`, [opts.ids]);
  const byAgent = await cluster.sql(`select agent_id, count(*)::int as n from omoi_task where ticket_id = any($1) group by agent_id order by agent_id`, [opts.ids]);
  const tasks = opts.ids.length * (opts.fanOut + 2);
  const seconds = Math.max(1e-3, Number(span!.seconds));
  return {
    nodes: cluster.nodes.size, tasks, seconds: round(seconds, 2), tasksPerSec: round(tasks / seconds, 1), wallSeconds: round(wallSeconds, 2),
    cpuMsPerTask: round((Object.values(cpu).reduce((a, b) => a + b, 0) * 1000) / tasks, 1),
    tasksByAgent: Object.fromEntries(byAgent.map((r) => [r.agent_id, r.n])),
  };
}

export async function clusterScalingBench(opts: {
  nodeCounts: number[]; tickets: number; fanOut: number; repeat: number; workDir: string; progress: (line: string) => void;
  config?: Partial<OmoiConfig>; timeoutMs?: number; idleMs?: number;
}): Promise<ClusterScaling> {
  const { progress } = opts;
  const settings = { partitions: 64, localAgentCapacity: 64, heartbeatMs: 2_000, fetchBatch: 128, ...opts.config };
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const root = mkdtempSync(path.join(opts.workDir, 'cluster-scaling-'));
  const pg = await BenchPostgres.start(path.join(root, 'postgres'));
  try {
    const repo = await makeRepo(root, { 'README.md': 'cluster scaling bench\n' });
    const byNodes: ClusterScaling['byNodes'] = [];
    for (const n of opts.nodeCounts) {
      const cluster = await BenchCluster.start(pg, path.join(root, `n${n}`), `scale_${n}_nodes`);
      // A failed run ends this node count's series (recorded), not the benchmark.
      let error: string | undefined;
      try {
        for (let i = 1; i <= n; i++) await cluster.startNode(`scale${n}-node${i}`, settings);
        await waitForBalance(cluster, settings.partitions, 120_000);
        // What the cluster costs doing nothing: a background that every task's CPU share includes.
        const idle0 = cpuOfTree();
        const idleT0 = performance.now();
        await sleep(opts.idleMs ?? 10_000);
        const idleCpuMsPerSec = round((Object.values(cpuBetween(idle0, cpuOfTree())).reduce((a, b) => a + b, 0) * 1e6) / (performance.now() - idleT0), 1);
        progress(`cluster scaling: ${n} node${n > 1 ? 's' : ''} up, partitions spread; idle CPU ${idleCpuMsPerSec} ms/s; warm-up (each node clones the repository)`);
        const warmUp = Array.from({ length: opts.tickets }, (_, t) => `warm${n}-${t}`);
        for (const id of warmUp) await cluster.submit('ticket.create', fanOutTicket(id, repo, 4));
        await waitForTickets(cluster, warmUp, timeoutMs).catch((err) => {
          error = `warm-up: ${(err as Error).message}`;
          progress(`cluster scaling: ${n} node(s) FAILED: ${error}`);
        });
        const runs: ScalingRun[] = [];
        for (let r = 0; r < opts.repeat && !error; r++) {
          await sleep(1_000); // let the pools refill and the warm-up's stragglers settle
          const ids = Array.from({ length: opts.tickets }, (_, t) => `scale${n}-r${r}-t${t}`);
          const run = await runOnce(cluster, { ids, repo, fanOut: opts.fanOut, timeoutMs }).catch((err) => {
            error = (err as Error).message;
            progress(`cluster scaling: ${n} node(s) run ${r + 1} FAILED: ${error}`);
          });
          if (!run) break;
          runs.push(run);
          progress(`cluster scaling: ${n} node(s) run ${r + 1}/${opts.repeat}: ${run.tasksPerSec} tasks/s (${run.tasks} tasks in ${run.seconds} s), ${run.cpuMsPerTask} ms CPU per task; tasks by agent ${JSON.stringify(run.tasksByAgent)}`);
        }
        const rate = percentile(runs.map((r) => r.tasksPerSec), 50);
        byNodes.push({ nodes: n, tasksPerSec: rate, ratioToOneNode: NaN, idleCpuMsPerSec, ...(error ? { error } : {}), cpuMsPerTask: percentile(runs.map((r) => r.cpuMsPerTask), 50), runs });
      } finally {
        await cluster.stop();
      }
    }
    const one = byNodes.find((b) => b.nodes === 1)?.tasksPerSec ?? NaN;
    for (const b of byNodes) b.ratioToOneNode = round(b.tasksPerSec / one, 2);
    return {
      tickets: opts.tickets, fanOut: opts.fanOut, tasksPerRun: opts.tickets * (opts.fanOut + 2), repeat: opts.repeat,
      settings: { partitions: settings.partitions, localAgentCapacity: settings.localAgentCapacity, heartbeatMs: settings.heartbeatMs, fetchBatch: settings.fetchBatch },
      byNodes, cores: os.cpus().length,
    };
  } finally {
    await pg.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

/** Sizes of `npm run bench` (and of the standalone run). */
export const clusterScalingSizes = (quick: boolean) => ({ nodeCounts: [1, 2, 3], tickets: quick ? 4 : 6, fanOut: quick ? 15 : 30, repeat: quick ? 1 : 2, idleMs: quick ? 5_000 : 10_000 });

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  runStandalone('cluster scaling bench', (workDir, progress) => clusterScalingBench({ ...clusterScalingSizes(quick), workDir, progress }), (r) => {
    console.table(r.byNodes.map((b) => ({ nodes: b.nodes, 'tasks/s (median)': b.tasksPerSec, 'ratio to 1 node': b.ratioToOneNode, 'CPU ms/task': b.cpuMsPerTask, 'idle CPU ms/s': b.idleCpuMsPerSec, runs: b.runs.map((x) => x.tasksPerSec).join(', '), error: b.error?.slice(0, 200) ?? '' })));
    console.log(JSON.stringify(r));
  });
}
