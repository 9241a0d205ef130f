/**
 * Failover time after `kill -9` (issue 7, item 7): two nodes in their own processes run tickets
 * 1 → `fanOut` → 1 whose tasks take a moment (`sleep`), half of the tickets in partitions the
 * victim holds. Mid-run the victim gets SIGKILL. Measured, all on the database's clock (one
 * machine, one clock):
 *
 *   last heartbeat of the victim (`omoi_node.heartbeat_at`)
 *     → a survivor takes the first of its partitions (`omoi_lease_history.held_from`)
 *     → the first task of a ticket in a moved partition runs again (`task.status` running
 *       event recorded after the kill: only the partition's new holder can record it).
 *
 * The lease lives 3 heartbeats (`heartbeatMs`), so most of the time is waiting for it to expire.
 * After each kill every ticket must still complete (the victim's lost attempts are retried);
 * then a fresh node joins as the next victim and the partitions spread again.
 *
 * Standalone: `node --import tsx bench/failover-time.ts [--quick]`; `npm run bench` runs it too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { partitionOf } from '../src/protocol/index.ts';
import { BenchCluster, BenchPostgres, runStandalone } from './cluster-nodes.ts';
import { fanOutTicket, waitForBalance, waitForTickets } from './cluster-scaling.ts';
import { makeRepo, waitFor } from './dag-shared.ts';
import { percentile } from './stats.ts';

export interface FailoverRun {
  victim: string; movedPartitions: number; movedTickets: number;
  /** Victim's last heartbeat → SIGKILL sent (how stale its heartbeat already was), ms. */
  heartbeatToKillMs: number;
  /** Last heartbeat → first moved partition taken by the survivor, ms. */
  heartbeatToTakeoverMs: number;
  /** Last heartbeat → the first `task.status` event of a moved partition's ticket after the kill (its new holder at work), ms. */
  heartbeatToFirstEventMs: number;
  /** Last heartbeat → first task of a moved partition's ticket running, ms: the failover time. */
  heartbeatToFirstTaskMs: number;
  /** Attempts of the moved tickets assigned after the kill to the dead node's agent (lost until it is judged gone). */
  assignedToDeadAgent: number;
  /** Every ticket of the run completed after the failover. */
  allCompleted: boolean;
}

export interface FailoverTime {
  heartbeatMs: number; leaseTtlMs: number; partitions: number; localAgentCapacity: number;
  ticketsPerRun: number; fanOut: number; taskCommand: string;
  runs: FailoverRun[];
  /** Over the runs: last heartbeat → first task of a moved partition running. */
  failoverMs: { median: number; max: number };
  takeoverMs: { median: number; max: number };
}

const ms = (a: Date | string, b: Date | string) => new Date(b).getTime() - new Date(a).getTime();

export async function failoverTimeBench(opts: {
  repeat: number; ticketsPerNode: number; fanOut: number; workDir: string; progress: (line: string) => void;
  heartbeatMs?: number; partitions?: number; localAgentCapacity?: number; timeoutMs?: number;
}): Promise<FailoverTime> {
  const { progress, fanOut } = opts;
  const heartbeatMs = opts.heartbeatMs ?? 2_000; // the default of OMOI_HEARTBEAT_MS
  const partitions = opts.partitions ?? 64;
  // Small, so tasks queue: the moved partitions still have tasks to hand out when the victim dies.
  const localAgentCapacity = opts.localAgentCapacity ?? 8;
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const taskCommand = 'sleep 0.1';
  const config = { heartbeatMs, partitions, localAgentCapacity };
  const root = mkdtempSync(path.join(opts.workDir, 'failover-'));
  const pg = await BenchPostgres.start(path.join(root, 'postgres'));
  const cluster = await BenchCluster.start(pg, path.join(root, 'cluster'), 'failover');
  try {
    const repo = await makeRepo(root, { 'README.md': 'failover bench\n' });
    await cluster.startNode('survivor', config);
    let victim = 'victim1';
    await cluster.startNode(victim, config);
    const runs: FailoverRun[] = [];
    for (let r = 0; r < opts.repeat; r++) {
      await waitForBalance(cluster, partitions, 120_000);
      const held = new Set((await cluster.sql(`select partition from omoi_partition_lease where node_id = $1 and expires_at > now()`, [victim])).map((x) => x.partition as number));
      // As many tickets in the victim's partitions as in the survivor's.
      const onVictim: string[] = [];
      const onSurvivor: string[] = [];
      for (let i = 0; onVictim.length < opts.ticketsPerNode || onSurvivor.length < opts.ticketsPerNode; i++) {
        const id = `fo${r}-${i}`;
        const side = held.has(partitionOf('ticket', id, partitions)) ? onVictim : onSurvivor;
        if (side.length < opts.ticketsPerNode) side.push(id);
      }
      const ids = [...onVictim, ...onSurvivor];
      for (const id of ids) await cluster.submit('ticket.create', fanOutTicket(id, repo, fanOut, taskCommand));
      // Kill once the victim's tickets are under way, with most of their tasks still to run.
      await waitFor('the victim\'s tickets under way', async () => {
        const [row] = await cluster.sql(`select count(*)::int as n from omoi_task where ticket_id = any($1) and status = 'completed'`, [onVictim]);
        return row!.n >= Math.ceil((onVictim.length * fanOut) / 5);
      }, timeoutMs, 50);
      await cluster.kill9(victim);
      const [killed] = await cluster.sql(`select clock_timestamp() as at, (select heartbeat_at from omoi_node where id = $1) as heartbeat`, [victim]);
      const moved = (await cluster.sql(`select partition from omoi_partition_lease where node_id = $1`, [victim])).map((x) => x.partition as number);
      const movedTickets = ids.filter((id) => moved.includes(partitionOf('ticket', id, partitions)));
      progress(`failover ${r + 1}/${opts.repeat}: ${victim} killed holding ${moved.length} partitions (${movedTickets.length} of the ${ids.length} tickets), last heartbeat ${ms(killed!.heartbeat, killed!.at)} ms before`);

      let firstTask: Date | undefined;
      await waitFor('a task of a moved partition running', async () => {
        const [row] = await cluster.sql(
          `select min(time) as at from omoi_event where type = 'task.status' and payload->>'status' = 'running' and ticket_id = any($1) and time > $2`,
          [movedTickets, killed!.at]);
        firstTask = row!.at ?? undefined;
        return firstTask !== undefined;
      }, timeoutMs, 50);
      const [after] = await cluster.sql(
        `select min(time) as first_event, count(*) filter (where payload->>'status' = 'assigned' and payload->>'agent_id' = $3)::int as to_dead
           from omoi_event where type = 'task.status' and ticket_id = any($1) and time > $2`, [movedTickets, killed!.at, `local-${victim}`]);
      const [takeover] = await cluster.sql(
        `select min(held_from) as at from omoi_lease_history where partition = any($1) and node_id <> $2 and held_from > $3`, [moved, victim, killed!.at]);
      let allCompleted = true;
      await waitForTickets(cluster, ids, timeoutMs).catch((err) => {
        allCompleted = false;
        progress(`failover ${r + 1}: tickets did not all complete: ${(err as Error).message}`);
      });
      const run: FailoverRun = {
        victim, movedPartitions: moved.length, movedTickets: movedTickets.length,
        heartbeatToKillMs: ms(killed!.heartbeat, killed!.at), heartbeatToTakeoverMs: ms(killed!.heartbeat, takeover!.at),
        heartbeatToFirstEventMs: ms(killed!.heartbeat, after!.first_event), heartbeatToFirstTaskMs: ms(killed!.heartbeat, firstTask!),
        assignedToDeadAgent: after!.to_dead, allCompleted,
      };
      runs.push(run);
      progress(`failover ${r + 1}/${opts.repeat}: last heartbeat → partition taken ${run.heartbeatToTakeoverMs} ms → first event of a moved ticket ${run.heartbeatToFirstEventMs} ms → first moved task running ${run.heartbeatToFirstTaskMs} ms (${run.assignedToDeadAgent} attempts assigned to the dead node's agent meanwhile; lease TTL ${3 * heartbeatMs} ms); all tickets completed: ${allCompleted}`);
      if (r + 1 < opts.repeat) {
        victim = `victim${r + 2}`;
        await cluster.startNode(victim, config);
      }
    }
    const failover = runs.map((x) => x.heartbeatToFirstTaskMs);
    const takeover = runs.map((x) => x.heartbeatToTakeoverMs);
    return {
      heartbeatMs, leaseTtlMs: 3 * heartbeatMs, partitions, localAgentCapacity, ticketsPerRun: 2 * opts.ticketsPerNode, fanOut, taskCommand, runs,
      failoverMs: { median: percentile(failover, 50), max: Math.max(...failover) },
      takeoverMs: { median: percentile(takeover, 50), max: Math.max(...takeover) },
    };
  } finally {
    await cluster.stop();
    await pg.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

/** Sizes of `npm run bench` (and of the standalone run). */
export const failoverSizes = (quick: boolean) => ({ repeat: quick ? 1 : 3, ticketsPerNode: 3, fanOut: quick ? 20 : 30 });

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  runStandalone('failover bench', (workDir, progress) => failoverTimeBench({ ...failoverSizes(quick), workDir, progress }), (r) => {
    console.table(r.runs);
    console.log(`failover (last heartbeat → first moved task running): median ${r.failoverMs.median} ms, max ${r.failoverMs.max} ms; lease TTL ${r.leaseTtlMs} ms`);
    console.log(JSON.stringify(r));
  });
}
