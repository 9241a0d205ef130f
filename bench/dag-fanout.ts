import type { OmoiNode } from '../src/bootstrap.ts';
import { makeRepo, sql, waitFor, type Row } from './dag-shared.ts';
import { cpuBetween, cpuOfTree } from './process-cpu.ts';
import { percentile } from './stats.ts';

/** The timings of one 1 → N → 1 ticket, from the node's own event log (`omoi_event.time`). */
export interface FanOutRun {
  ticket: string;
  sources: number;
  /** First source `running` → last source `completed`, seconds. */
  fanOutSeconds: number;
  /** sources / fanOutSeconds. */
  completionsPerSec: number;
  /** Last source `completed` → continuation `ready` (its join merged), ms. */
  lastSourceToReadyMs: number;
  /** Last source `completed` → continuation `running` (`task.started`), ms. */
  lastSourceToStartMs: number;
  /** The join's merge as `mergeSources` timed it (`omoi_merge_attempt.duration_ms`). */
  mergeMs: number;
  /** Ticket submitted → ticket completed (or → give-up, see `continuationStarted`), bench clock, seconds. */
  wallSeconds: number;
  /** False when J had not started `continuationWaitMs` after the last source completed (its merge still ran). */
  continuationStarted: boolean;
  /** CPU ms per task (n + 2 tasks) of the node and every process under it, ticket submitted → completed. */
  cpuMsPerTask: number;
  /** The same, by process name (`node(main)` is the node; `postgres`, `nats-server`, `node` the process host). */
  cpuMsPerTaskByProcess: Record<string, number>;
}

export interface FanOutResult extends BigFanOut {
  repeated: { shape: string; runs: FanOutRun[]; lastSourceToStartMs: { p50: number; p99: number; max: number }; lastSourceToReadyMs: { p50: number; p99: number }; mergeMs: { p50: number; p99: number } };
}

const id = (i: number) => `T${String(i).padStart(4, '0')}`;

/**
 * Fan-out/fan-in through a real node: one ticket with task S, `n` tasks depending on S (run
 * `true`, no `owns`), and one continuation J depending on all of them; every task runs in its
 * own sandbox (worktree) on the node's local agent, J after the real merge of its `n` sources.
 * Resolves when the ticket is completed (fails after `timeoutMs` or if it fails).
 * Times come from `omoi_event` (`task.status` events; their time is the handling
 * transaction's clock), so polling granularity does not enter them.
 */
export async function runFanOut(
  node: OmoiNode,
  opts: { ticket: string; n: number; repoDir: string; timeoutMs: number; continuationWaitMs?: number; stallMs?: number; progress?: (line: string) => void },
): Promise<FanOutRun> {
  const { ticket, n } = opts;
  const sources = Array.from({ length: n }, (_, i) => id(i));
  const cpu0 = cpuOfTree();
  const t0 = performance.now();
  await node.submit('ticket.create', {
    ticket_id: ticket, title: `bench fan-out 1→${n}→1`, repository: opts.repoDir, base_branch: 'main',
    tasks: [
      { id: 'S', run: 'true', depends_on: [], owns: [] },
      ...sources.map((s) => ({ id: s, run: 'true', depends_on: ['S'], owns: [] })),
      { id: 'J', run: 'true', depends_on: sources, owns: [] },
    ],
  });
  let lastReport = 0;
  let sourcesDoneAt = 0;
  // A ticket whose tasks stop progressing (e.g. a handler that times out and is dead-lettered)
  // fails the run instead of hanging the benchmark until `timeoutMs`.
  let progressAt = performance.now();
  let lastDone = -1;
  let continuationStarted = true;
  await waitFor(`ticket ${ticket} completed`, async () => {
    const [row] = await sql(node, `select t.status, t.reason, (select count(*)::int from omoi_task k where k.ticket_id = t.id and k.status = 'completed') as done from omoi_ticket t where t.id = ?`, [ticket]);
    if (row && ['failed', 'cancelled'].includes(row.status)) throw new Error(`bench ticket ${ticket} ended ${row.status}: ${row.reason}`);
    if (opts.progress && row && row.done - lastReport >= 250) { lastReport = row.done; opts.progress(`fan-out ${ticket}: ${row.done}/${n + 2} tasks completed`); }
    if (row?.status === 'completed') return true;
    if (row && row.done !== lastDone) { lastDone = row.done; progressAt = performance.now(); }
    const stallMs = opts.stallMs ?? 30_000;
    if (row && row.done < n + 1 && performance.now() - progressAt > stallMs) {
      const dead = await sql(node, `select type, reason from omoi_dead_letter where body like ? limit 3`, [`%"ticket_id":"${ticket}"%`]).catch(() => []);
      throw new Error(`stalled: no task of ${ticket} completed for ${stallMs} ms (${row.done}/${n + 2} completed)${dead.length ? `; dead letters: ${dead.map((d) => `${d.type}: ${String(d.reason).slice(0, 200)}`).join(' | ')}` : ''}`);
    }
    if (opts.continuationWaitMs !== undefined && row && row.done >= n + 1) {
      sourcesDoneAt ||= performance.now();
      if (performance.now() - sourcesDoneAt > opts.continuationWaitMs) {
        const [j] = await sql(node, `select status from omoi_task where ticket_id = ? and id = 'J'`, [ticket]);
        if (!['running', 'completed'].includes(j?.status)) { continuationStarted = false; return true; }
      }
    }
    return false;
  }, opts.timeoutMs, 25);
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpu = cpuBetween(cpu0, cpuOfTree());
  const perTask = (seconds: number) => (seconds * 1000) / (n + 2);
  const cpuMsPerTaskByProcess = Object.fromEntries(Object.entries(cpu).map(([name, s]) => [name, Math.round(perTask(s) * 100) / 100]));
  const cpuMsPerTask = perTask(Object.values(cpu).reduce((a, b) => a + b, 0));

  const events = await sql(node, `select payload->>'task_id' as task, payload->>'status' as status, time from omoi_event where ticket_id = ? and type = 'task.status'`, [ticket]);
  const at = (pred: (e: Row) => boolean, pick: 'min' | 'max') => {
    const times = events.filter(pred).map((e) => new Date(e.time).getTime());
    if (!times.length) throw new Error(`bench ticket ${ticket}: no matching task.status event`);
    return pick === 'min' ? Math.min(...times) : Math.max(...times);
  };
  const isSource = (e: Row) => e.task !== 'S' && e.task !== 'J';
  const firstSourceStart = at((e) => isSource(e) && e.status === 'running', 'min');
  const lastSourceDone = at((e) => isSource(e) && e.status === 'completed', 'max');
  const jReady = continuationStarted ? at((e) => e.task === 'J' && e.status === 'ready', 'min') : NaN;
  const jRunning = continuationStarted ? at((e) => e.task === 'J' && e.status === 'running', 'min') : NaN;
  const [merge] = await sql(node, `select duration_ms from omoi_merge_attempt where ticket_id = ? order by attempt`, [ticket]);
  const fanOutSeconds = Math.max(1e-3, (lastSourceDone - firstSourceStart) / 1000);
  return {
    ticket, sources: n, fanOutSeconds, completionsPerSec: n / fanOutSeconds,
    lastSourceToReadyMs: jReady - lastSourceDone, lastSourceToStartMs: jRunning - lastSourceDone,
    mergeMs: Number(merge?.duration_ms ?? NaN), wallSeconds, continuationStarted, cpuMsPerTask, cpuMsPerTaskByProcess,
  };
}

/** Local agents other than this node's are deregistered, so every task runs here (fair, known capacity). */
export async function retireOtherAgents(node: OmoiNode, timeoutMs: number): Promise<number> {
  const local = `local-${node.config.nodeId}`;
  const others = await sql(node, `select id from omoi_agent where id <> ? and status <> 'removed'`, [local]);
  for (const a of others) await node.submit('agent.deregister', { agent_id: a.id, reason: 'bench: DAG benchmarks use the local agent only' });
  await waitFor('other agents removed', async () => Number((await sql(node, `select count(*)::int as c from omoi_agent where id <> ? and status <> 'removed'`, [local]))[0]!.c) === 0, timeoutMs);
  return others.length;
}

/** The big shape's runs: the median run by completions per second, and join latency percentiles over the runs. */
export interface BigFanOut {
  capacity: number;
  /** Idle sandboxes the node's pool keeps (`OMOI_SANDBOX_POOL`); 0 = a worktree made and removed per attempt. */
  sandboxPool: number;
  /** The median run of the big shape (by completions per second). */
  big: FanOutRun;
  /** Every run of the big shape, and its latency percentiles over them. */
  bigRuns: FanOutRun[];
  bigLastSourceToStartMs: { p50: number; p99: number; max: number };
  /** Median over the big runs of CPU ms per task, all processes, and by process (of the median run). */
  bigCpuMsPerTask: number;
  bigCpuMsPerTaskByProcess: Record<string, number>;
  /** Set when a big run did not complete its fan-out (then `big` holds NaNs). */
  bigError?: string;
}

/**
 * `repeat` runs of 1 → `n` → 1 on `node` (tickets `bench-fan-<n>-<tag><r>`), for the completion
 * throughput (median run) and the join latency (last source completed → continuation running).
 * A run waits at most `continuationWaitMs` for J after its last source; a J that did not start
 * by then counts as infinitely late in the percentiles. A failed run ends the series (`bigError`).
 */
export async function bigFanOut(
  node: OmoiNode,
  opts: { n: number; repeat: number; repoDir: string; tag?: string; timeoutMs: number; continuationWaitMs: number; progress: (line: string) => void },
): Promise<BigFanOut> {
  const { progress, n } = opts;
  const capacity = node.config.localAgentCapacity;
  const pool = node.config.sandboxPool;
  const label = `fan-out 1→${n}→1${pool ? '' : ' (sandbox pool off)'}`;
  progress(`${label} × ${opts.repeat} (local agent capacity ${capacity}, sandbox pool ${pool})`);
  const bigRuns: FanOutRun[] = [];
  let bigError: string | undefined;
  for (let r = 0; r < opts.repeat && !bigError; r++) {
    try {
      const run = await runFanOut(node, { ticket: `bench-fan-${n}-${opts.tag ?? ''}${r}`, n, repoDir: opts.repoDir, timeoutMs: opts.timeoutMs, continuationWaitMs: opts.continuationWaitMs, progress });
      bigRuns.push(run);
      progress(`${label} run ${r + 1}/${opts.repeat}: ${run.completionsPerSec.toFixed(0)} completions/s over ${run.fanOutSeconds.toFixed(2)} s, ${run.cpuMsPerTask.toFixed(1)} ms CPU per task, ` + (run.continuationStarted
        ? `last source → J running ${run.lastSourceToStartMs} ms (merge ${run.mergeMs} ms)`
        : `J not started ${opts.continuationWaitMs} ms after the last source (not waited for)`));
    } catch (err) {
      bigError = (err as Error).message;
      progress(`${label} FAILED: ${bigError}`);
    }
  }
  const failed: FanOutRun = { ticket: `bench-fan-${n}`, sources: n, fanOutSeconds: NaN, completionsPerSec: NaN, lastSourceToReadyMs: NaN, lastSourceToStartMs: NaN, mergeMs: NaN, wallSeconds: NaN, continuationStarted: false, cpuMsPerTask: NaN, cpuMsPerTaskByProcess: {} };
  const byRate = [...bigRuns].sort((a, b) => a.completionsPerSec - b.completionsPerSec);
  const big = bigError || !byRate.length ? failed : byRate[Math.floor((byRate.length - 1) / 2)]!;
  const bigLat = bigRuns.map((r) => (r.continuationStarted ? r.lastSourceToStartMs : Infinity));
  const byCpu = [...bigRuns].sort((a, b) => a.cpuMsPerTask - b.cpuMsPerTask);
  const cpuMedian = bigError || !byCpu.length ? failed : byCpu[Math.floor((byCpu.length - 1) / 2)]!;
  return {
    capacity, sandboxPool: pool, big, bigRuns, ...(bigError ? { bigError } : {}),
    bigCpuMsPerTask: cpuMedian.cpuMsPerTask, bigCpuMsPerTaskByProcess: cpuMedian.cpuMsPerTaskByProcess,
    bigLastSourceToStartMs: { p50: percentile(bigLat, 50), p99: percentile(bigLat, 99), max: Math.max(...bigLat) },
  };
}

/**
 * (a) of the DAG bench: `repeat` runs of 1 → `smallN` → 1, then `bigRepeat` runs of
 * 1 → `bigN` → 1 (`bigFanOut`). Each run is its own ticket (own clone).
 */
export async function fanOutBench(
  node: OmoiNode,
  opts: { bigN: number; bigRepeat: number; smallN: number; repeat: number; workDir: string; timeoutMs: number; bigContinuationWaitMs: number; progress: (line: string) => void },
): Promise<FanOutResult> {
  const { progress } = opts;
  const retired = await retireOtherAgents(node, opts.timeoutMs);
  if (retired) progress(`fan-out: deregistered ${retired} agents left by earlier benchmarks`);
  const repoDir = await makeRepo(opts.workDir, { 'README.md': 'fan-out bench\n' });
  const runs: FanOutRun[] = [];
  for (let r = 0; r < opts.repeat; r++) {
    const run = await runFanOut(node, { ticket: `bench-fan-${opts.smallN}-${r}`, n: opts.smallN, repoDir, timeoutMs: opts.timeoutMs });
    runs.push(run);
    progress(`fan-out 1→${opts.smallN}→1 run ${r + 1}/${opts.repeat}: ${run.completionsPerSec.toFixed(0)} completions/s, last source → J running ${run.lastSourceToStartMs} ms (merge ${run.mergeMs} ms)`);
  }
  const big = await bigFanOut(node, { n: opts.bigN, repeat: opts.bigRepeat, repoDir, timeoutMs: opts.timeoutMs, continuationWaitMs: opts.bigContinuationWaitMs, progress });
  const lat = runs.map((r) => r.lastSourceToStartMs);
  return {
    ...big,
    repeated: {
      shape: `1→${opts.smallN}→1 × ${opts.repeat}`, runs,
      lastSourceToStartMs: { p50: percentile(lat, 50), p99: percentile(lat, 99), max: Math.max(...lat) },
      lastSourceToReadyMs: { p50: percentile(runs.map((r) => r.lastSourceToReadyMs), 50), p99: percentile(runs.map((r) => r.lastSourceToReadyMs), 99) },
      mergeMs: { p50: percentile(runs.map((r) => r.mergeMs), 50), p99: percentile(runs.map((r) => r.mergeMs), 99) },
    },
  };
}
