/**
 * `npm run bench [-- --quick]`: the messaging benchmark of one node with embedded nats-server
 * (file storage) and embedded PostgreSQL (durable: fsync on, not ephemeral).
 *
 *   (a) raw JetStream floor: pipelined publish+ack, then durable pull consume+ack;
 *   (b) end-to-end: `agent.heartbeat` → AgentActor → commit → ack, through `node.submit`.
 *   Then what signed remote-agent messages cost: sign and verify one (µs), and signed heartbeats
 *   through the ingress router against unsigned commands of the same size (`agent-signature.ts`).
 *
 * Then the DAG benchmarks: merge of 8 branches, Omoi vs the git CLI (`merge-compare.ts`); the
 * cost of a task command under bubblewrap against the unsandboxed path (`sandbox-cost.ts`); the
 * per-task cost of saving a commit to the object store and fetching it elsewhere
 * (`git-transfer.ts`); on a
 * restarted node, fan-out/fan-in 1 → N → 1 with `true` tasks on the local agent
 * (`dag-fanout.ts`), then many tickets A → B ∥ C → D on one repository, published at once
 * (`dag-many-tickets.ts`), then API reads and event-push delay with 200 SSE clients open while a
 * 1 → 200 → 1 ticket runs (`sse.ts`); on a node restarted with the sandbox pool off, the fan-out's big
 * shape again; heap per idle actor (`heap-idle-actors.ts`). With the node stopped, the soak: an
 * hour's traffic replayed fast on a node of its own with scaled-down retention windows, storage
 * sampled over time (`soak.ts`). Last, the multi-node benchmarks: fan-out throughput with 1, 2
 * and 3 nodes in their own processes (`cluster-scaling.ts`) and failover time after `kill -9`
 * (`failover-time.ts`). Targets are in the table.
 *
 * Prints progress lines, a table, then one JSON line with every number. The ratio (b)/(a
 * publish) has a target of ≥ 30%. Every temp dir and child server is removed at the end and
 * on Ctrl-C (SIGINT/SIGTERM).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startNode, type OmoiNode } from '../src/bootstrap.ts';
import { loadConfig } from '../src/config/index.ts';
import { findNatsServer } from '../src/embedded/index.ts';
import { AckClock } from './ack-clock.ts';
import { agentSignatureBench } from './agent-signature.ts';
import { endToEnd } from './end-to-end.ts';
import { rawJetStream } from './raw-jetstream.ts';
import { percentile as percentileOf, round } from './stats.ts';
import { bigFanOut, fanOutBench, retireOtherAgents } from './dag-fanout.ts';
import { makeRepo } from './dag-shared.ts';
import { mergeCompareBench } from './merge-compare.ts';
import { heapBench } from './heap-idle-actors.ts';
import { manyTicketsBench } from './dag-many-tickets.ts';
import { sandboxCostBench } from './sandbox-cost.ts';
import { gitTransferBench } from './git-transfer.ts';
import { stopBenchClusters } from './cluster-nodes.ts';
import { clusterScalingBench, clusterScalingSizes } from './cluster-scaling.ts';
import { failoverSizes, failoverTimeBench } from './failover-time.ts';
import { soakBench, soakRows, soakSettings } from './soak.ts';
import { sseBench, sseBenchRows, sseBenchSizes } from './sse.ts';

const TARGET_RATIO = 0.3;
const quick = process.argv.includes('--quick');
const settings = {
  rawMessages: quick ? 5_000 : 20_000,
  e2eMessages: quick ? 1_000 : 5_000,
  signatureMessages: quick ? 1_000 : 5_000,
  signatureAgents: quick ? 16 : 64,
  agents: quick ? 64 : 256,
  window: 256,
  payloadBytes: 200,
  sample: 500,
  partitions: 64,
  fetchBatch: 128,
  // DAG benchmarks (bench/dag-*.ts, merge-*.ts, heap-*.ts).
  dag: {
    // Tasks in flight at once. A no-op task's round trip (agent.assign → task.started →
    // task.complete: three partition hops plus the sandbox) takes 0.3–0.8 s under this load, and
    // throughput ≤ capacity / round trip (Little's law): 16 capped the fan-out near 40 tasks/s
    // with the node's CPU half idle. 64 lets the node's CPU be the limit.
    localAgentCapacity: 64,
    fanOutBig: quick ? 200 : 1000,
    fanOutBigRepeat: quick ? 1 : 5,
    fanOutSmall: quick ? 20 : 50,
    fanOutRepeat: quick ? 3 : 10,
    bigContinuationWaitMs: quick ? 3_000 : 10_000,
    mergeRepetitions: quick ? 2 : 5,
    sandboxCommands: quick ? 50 : 300,
    gitTransferCommits: quick ? 30 : 200,
    heapTickets: quick ? 1_000 : 10_000,
    heapAgents: quick ? 1_000 : 10_000,
    // 7(d): tickets A → B ∥ C → D on one repository, published at once; a small run, then the big one.
    manyTickets: quick ? [10, 50] : [20, 200],
    manyTicketsRepoFiles: 256, // × 16 KiB incompressible: a 4 MiB repository
  },
  // Issue 7, item 7: nodes in their own processes on one nats-server and one PostgreSQL.
  cluster: { scaling: clusterScalingSizes(quick), failover: failoverSizes(quick) },
  // Issue 9, item 6: bounded storage.
  soak: soakSettings(quick),
  // Issue 10: SSE clients open on the node while a 1 → N → 1 ticket runs (bench/sse.ts).
  sse: sseBenchSizes(quick),
};
/** Issue 13: twice the last median before it (71.4 tasks/s), and a CPU budget per task summed over every process. */
const TARGET_COMPLETIONS = 150;
const TARGET_CPU_MS_PER_TASK = 10;
const TARGET_JOIN_P99_MS = 500;
const TARGET_MERGE_RATIO = 1.5;
const TARGET_HEAP_BYTES = 10 * 1024;
/** 7(d): tasks/s of many tickets on one repository, as a share of the big fan-out's. */
const TARGET_MANY_TICKETS_RATIO = 0.8;

const started = Date.now();
const progress = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'omoi-bench-'));
let node: OmoiNode | undefined;
let cleaning: Promise<void> | undefined;
const clock = new AckClock();

function cleanup(): Promise<void> {
  return (cleaning ??= (async () => {
    clock.uninstall();
    await node?.stop().catch((e) => console.error(`bench: node did not stop cleanly: ${(e as Error).message}`));
    await stopBenchClusters();
    rmSync(dataDir, { recursive: true, force: true });
  })());
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\nbench: ${signal}, cleaning up ${dataDir}`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  progress(`data dir ${dataDir}; starting node (embedded nats-server + durable PostgreSQL)`);
  const config = loadConfig({}, {
    dataDir, httpPort: 0, logLevel: 'warn', nodeId: 'bench', apiToken: 'bench',
    partitions: settings.partitions, fetchBatch: settings.fetchBatch, localAgentCapacity: settings.dag.localAgentCapacity,
  });
  node = await startNode(config);
  if (!node.runtime.registeredTypes().includes('AgentActor')) throw new Error(`AgentActor is not registered (actors: ${node.runtime.registeredTypes().join(', ')})`);
  const pgSettings = await node.db.em().getConnection().execute(
    `select (select setting from pg_settings where name = 'fsync') as fsync, (select setting from pg_settings where name = 'synchronous_commit') as synchronous_commit, version() as version`,
  ) as Array<{ fsync: string; synchronous_commit: string; version: string }>;
  const pg = pgSettings[0];
  progress(`node up: ${node.nc.getServer()}; PostgreSQL fsync=${pg.fsync} synchronous_commit=${pg.synchronous_commit}`);

  const raw = await rawJetStream(node.nc, node.js, {
    n: settings.rawMessages, payloadBytes: settings.payloadBytes, window: settings.window, progress,
    onFirstMessage: (m) => clock.install(m),
  });
  progress(`raw: publish ${raw.publishPerSec.toFixed(0)} msg/s, consume ${raw.consumePerSec.toFixed(0)} msg/s`);
  if (!clock.installed) throw new Error('ack clock: no raw message was consumed');

  const e2e = await endToEnd(node, clock, {
    n: settings.e2eMessages, agents: settings.agents, window: settings.window, sample: settings.sample, timeoutMs: 300_000, progress,
  });
  progress(`e2e: ${e2e.perSec.toFixed(0)} msg/s`);
  const signatures = await agentSignatureBench(node, { n: settings.signatureMessages, agents: settings.signatureAgents, window: settings.window, timeoutMs: 300_000, progress });

  // ---- DAG benchmarks: merge (no node); fan-out/fan-in and many tickets on a fresh node, the
  // fan-out again on a fresh node with the sandbox pool off (the two compared on equal footing:
  // no actors left over from earlier steps); last, heap per idle actor (it leaves 20,000 live).
  const merge = await mergeCompareBench({ workDir: dataDir, repetitions: settings.dag.mergeRepetitions, progress });
  const sandboxCost = await sandboxCostBench({ n: settings.dag.sandboxCommands, workDir: dataDir, progress });
  const gitTransfer = await gitTransferBench({ n: settings.dag.gitTransferCommits, repoFiles: settings.dag.manyTicketsRepoFiles, workDir: dataDir, progress });
  progress('restarting the node for the DAG benchmarks (sandbox pool on)');
  await node.stop();
  node = await startNode(config);
  const fan = await fanOutBench(node, {
    bigN: settings.dag.fanOutBig, bigRepeat: settings.dag.fanOutBigRepeat, smallN: settings.dag.fanOutSmall, repeat: settings.dag.fanOutRepeat, workDir: dataDir,
    timeoutMs: 300_000, bigContinuationWaitMs: settings.dag.bigContinuationWaitMs, progress,
  });
  const many = await manyTicketsBench(node, { sizes: settings.dag.manyTickets, repoFiles: settings.dag.manyTicketsRepoFiles, workDir: dataDir, timeoutMs: 600_000, progress });
  const sse = await sseBench(node, { ...settings.sse, workDir: dataDir, timeoutMs: 300_000, progress });
  // The same big shape with the sandbox pool off (a worktree made and removed per attempt), to
  // show what pooling buys: this node is stopped and one started on the same data dir with
  // OMOI_SANDBOX_POOL=0 (a node's pool size is fixed at start-up).
  progress('restarting the node with the sandbox pool off (OMOI_SANDBOX_POOL=0)');
  await node.stop();
  node = await startNode({ ...config, sandboxPool: 0 });
  await retireOtherAgents(node, 300_000);
  const fanNoPool = await bigFanOut(node, {
    n: settings.dag.fanOutBig, repeat: settings.dag.fanOutBigRepeat, repoDir: await makeRepo(dataDir, { 'README.md': 'fan-out bench\n' }), tag: 'nopool-',
    timeoutMs: 300_000, continuationWaitMs: settings.dag.bigContinuationWaitMs, progress,
  });
  const poolGain = fan.big.completionsPerSec / fanNoPool.big.completionsPerSec;
  const heap = await heapBench(node, { tickets: settings.dag.heapTickets, agents: settings.dag.heapAgents, window: settings.window, timeoutMs: 300_000, progress });
  progress(`heap: ${(heap.bytesPerActor / 1024).toFixed(2)} KiB per idle actor over ${heap.liveAfter - heap.liveBefore} actors`);
  // The multi-node benchmarks bring their own servers and node processes: this node would only compete for the cores.
  progress('stopping the node for the multi-node benchmarks');
  await node.stop();
  node = undefined;
  const soak = await soakBench({ ...settings.soak, workDir: dataDir, progress });
  const scaling = await clusterScalingBench({ ...settings.cluster.scaling, workDir: dataDir, progress });
  const failover = await failoverTimeBench({ ...settings.cluster.failover, workDir: dataDir, progress });

  const ratio = e2e.perSec / raw.publishPerSec;
  const ms = (x: number) => round(x, 2);
  const met = (ok: boolean) => (ok ? 'MET' : 'NOT MET');
  // The join-latency target is read on the big shape (1 → 1000 → 1), over its repeated runs.
  const fanP99 = fan.bigLastSourceToStartMs.p99;
  const heapOk = heap.bytesPerActor <= TARGET_HEAP_BYTES;
  const manyRatio = many.big.tasksPerSec / fan.big.completionsPerSec;
  const mib = (bytes: number) => round(bytes / 2 ** 20, 2);
  console.log('');
  console.table([
    { measure: '(a) raw JetStream publish+ack', value: round(raw.publishPerSec, 0), unit: 'msg/s', detail: `${raw.messages} × ${raw.payloadBytes} B, window ${raw.window}, ${raw.publishSeconds.toFixed(2)} s` },
    { measure: '(a) raw JetStream consume+ack', value: round(raw.consumePerSec, 0), unit: 'msg/s', detail: `durable pull consume(), ${raw.consumeSeconds.toFixed(2)} s` },
    { measure: '(b) end-to-end msg→actor→commit→ack', value: round(e2e.perSec, 0), unit: 'msg/s', detail: `${e2e.messages} ${e2e.command} over ${e2e.agents} agents, ${e2e.seconds.toFixed(2)} s` },
    { measure: '(b) publish (submit) rate only', value: round(e2e.messages / e2e.publishSeconds, 0), unit: 'msg/s', detail: `${e2e.publishSeconds.toFixed(2)} s` },
    { measure: '(b) handler pull→ack p50', value: ms(e2e.handlerMs.p50), unit: 'ms', detail: 'omoi_handler_seconds (interpolated)' },
    { measure: '(b) handler pull→ack p99', value: ms(e2e.handlerMs.p99), unit: 'ms', detail: 'omoi_handler_seconds (interpolated)' },
    { measure: '(b) publish→ack p50', value: ms(e2e.publishToAckMs.p50), unit: 'ms', detail: `${e2e.publishToAckMs.samples} messages` },
    { measure: '(b) publish→ack p99', value: ms(e2e.publishToAckMs.p99), unit: 'ms', detail: `max ${ms(e2e.publishToAckMs.max)} ms` },
    { measure: '(b) publish→processed_at p50', value: ms(e2e.publishToProcessedAtMs.p50), unit: 'ms', detail: `${e2e.publishToProcessedAtMs.samples} sampled (tx start)` },
    { measure: '(b) publish→processed_at p99', value: ms(e2e.publishToProcessedAtMs.p99), unit: 'ms', detail: '' },
    { measure: 'signature: sign one agent message, median', value: signatures.micro.signUsP50, unit: 'µs', detail: `ed25519 over a ${signatures.micro.bodyBytes} B heartbeat and its headers; p99 ${signatures.micro.signUsP99} µs; ${signatures.micro.n} messages` },
    { measure: 'signature: verify one agent message, median', value: signatures.micro.verifyUsP50, unit: 'µs', detail: `signature and time, key parsed once; p99 ${signatures.micro.verifyUsP99} µs` },
    { measure: 'ingress: unsigned ticket.cancel routed', value: signatures.ingress.unsignedRoutedPerSec, unit: 'msg/s', detail: `${signatures.ingress.n} through one node's ingress router, window ${signatures.ingress.window}; end to end ${signatures.ingress.unsignedEndToEndPerSec} msg/s (a ticket row + an event each)` },
    { measure: 'ingress: signed agent.heartbeat routed', value: signatures.ingress.signedRoutedPerSec, unit: 'msg/s', detail: `same size, over ${signatures.ingress.agents} agents; key lookup + verify + replay row: ${signatures.ingress.extraUsPerMessage} µs more per message` },
    { measure: 'ingress: signed agent.heartbeat end to end', value: signatures.ingress.signedEndToEndPerSec, unit: 'msg/s', detail: `omoi.in → router → AgentActor commit (an agent row each); outcomes ${JSON.stringify(signatures.ingress.signedOutcomes)}` },
    { measure: 'ratio (b)/(a publish+ack)', value: round(ratio * 100, 1), unit: '%', detail: `target ≥ ${TARGET_RATIO * 100}% → ${ratio >= TARGET_RATIO ? 'MET' : 'NOT MET'}` },
    { measure: `DAG (a) fan-out 1→${fan.big.sources}→1 completions`, value: round(fan.big.completionsPerSec, 1), unit: 'tasks/s', detail: `${fan.bigError ? `FAILED: ${fan.bigError.slice(0, 60)}…` : `median of ${fan.bigRuns.length} runs (${fan.bigRuns.map((r) => r.completionsPerSec.toFixed(0)).join(', ')})`}, local agent capacity ${fan.capacity}; target ≥ ${TARGET_COMPLETIONS} → ${met(fan.big.completionsPerSec >= TARGET_COMPLETIONS)}` },
    { measure: `DAG (a) 1→${fan.big.sources}→1 CPU per task, all processes`, value: round(fan.bigCpuMsPerTask, 2), unit: 'ms', detail: `${cpuDetail(fan.bigCpuMsPerTaskByProcess)}; target ≤ ${TARGET_CPU_MS_PER_TASK} → ${met(fan.bigCpuMsPerTask <= TARGET_CPU_MS_PER_TASK)}` },
    { measure: `DAG (a) fan-out 1→${fanNoPool.big.sources}→1 completions, sandbox pool off`, value: round(fanNoPool.big.completionsPerSec, 1), unit: 'tasks/s', detail: `${fanNoPool.bigError ? `FAILED: ${fanNoPool.bigError.slice(0, 60)}…` : `median of ${fanNoPool.bigRuns.length} runs (${fanNoPool.bigRuns.map((r) => r.completionsPerSec.toFixed(0)).join(', ')})`}; pool on (${fan.sandboxPool}) ÷ off = ${round(poolGain, 2)}×; node restarted with OMOI_SANDBOX_POOL=0` },
    { measure: `DAG (a) 1→${fanNoPool.big.sources}→1 CPU per task, sandbox pool off`, value: round(fanNoPool.bigCpuMsPerTask, 2), unit: 'ms', detail: cpuDetail(fanNoPool.bigCpuMsPerTaskByProcess) },
    { measure: `DAG (a) 1→${fan.big.sources}→1 last source→J running p50`, value: fan.bigLastSourceToStartMs.p50, unit: 'ms', detail: fan.bigError ? 'not reached: the fan-out failed (see above)' : `merges ${fan.bigRuns.map((r) => r.mergeMs).join(', ')} ms` },
    { measure: `DAG (a) 1→${fan.big.sources}→1 last source→J running p99`, value: fanP99, unit: 'ms', detail: `over ${fan.bigRuns.length} runs, max ${fan.bigLastSourceToStartMs.max} ms; target ≤ ${TARGET_JOIN_P99_MS} → ${met(fanP99 <= TARGET_JOIN_P99_MS)}` },
    { measure: `DAG (a) ${fan.repeated.shape} last source→J running p50`, value: fan.repeated.lastSourceToStartMs.p50, unit: 'ms', detail: `of which merge p50 ${fan.repeated.mergeMs.p50} ms` },
    { measure: `DAG (a) ${fan.repeated.shape} last source→J running p99`, value: fan.repeated.lastSourceToStartMs.p99, unit: 'ms', detail: `merge p99 ${fan.repeated.mergeMs.p99} ms` },
    { measure: `DAG (a) ${fan.repeated.shape} completions (median run)`, value: round(percentileOf(fan.repeated.runs.map((r) => r.completionsPerSec), 50), 1), unit: 'tasks/s', detail: '' },
    { measure: 'DAG (b) merge clean: Omoi mergeSources', value: round(merge.clean.omoiMs, 0), unit: 'ms', detail: `median of ${merge.clean.repetitions}; 8 branches × 50 files, ${merge.files.base} files` },
    { measure: 'DAG (b) merge clean: git CLI', value: round(merge.clean.gitMs, 0), unit: 'ms', detail: `worktree add + 8 × merge --no-ff + remove (merges alone ${round(merge.clean.gitMergeOnlyMs, 0)} ms)` },
    { measure: 'DAG (b) merge clean ratio Omoi/git', value: round(merge.clean.ratio, 2), unit: '×', detail: `same tree: ${merge.clean.sameTree}; target ≤ ${TARGET_MERGE_RATIO} → ${met(merge.clean.ratio <= TARGET_MERGE_RATIO)}` },
    { measure: 'DAG (b) merge 8 conflicts: Omoi', value: round(merge.conflicts.omoiMs, 0), unit: 'ms', detail: `rules, then resolver \`git show <source>:<file>\`; ${merge.conflicts.conflictsResolved} files resolved` },
    { measure: 'DAG (b) merge 8 conflicts: git CLI', value: round(merge.conflicts.gitMs, 0), unit: 'ms', detail: `checkout --theirs per file, add, commit (merges alone ${round(merge.conflicts.gitMergeOnlyMs, 0)} ms)` },
    { measure: 'DAG (b) merge conflicts ratio Omoi/git', value: round(merge.conflicts.ratio, 2), unit: '×', detail: `same tree: ${merge.conflicts.sameTree}; target ≤ ${TARGET_MERGE_RATIO} → ${met(merge.conflicts.ratio <= TARGET_MERGE_RATIO)}` },
    { measure: 'sandbox: `true` unsandboxed, wall p50', value: sandboxCost.unsandboxed.wallMsP50, unit: 'ms', detail: `${sandboxCost.n} commands one at a time through the process host; p99 ${sandboxCost.unsandboxed.wallMsP99} ms; CPU ${sandboxCost.unsandboxed.cpuMsPerCommand} ms per command, all processes` },
    { measure: 'sandbox: `true` under bubblewrap, wall p50', value: sandboxCost.bubblewrap.wallMsP50, unit: 'ms', detail: `p99 ${sandboxCost.bubblewrap.wallMsP99} ms; CPU ${sandboxCost.bubblewrap.cpuMsPerCommand} ms per command; bubblewrap ÷ unsandboxed: wall ${sandboxCost.ratioWall}×, CPU ${sandboxCost.ratioCpu}×` },
    { measure: 'sandbox: `true` under bubblewrap, no network, wall p50', value: sandboxCost.noNetwork.wallMsP50, unit: 'ms', detail: `a ticket's network: false (a network namespace per command); p99 ${sandboxCost.noNetwork.wallMsP99} ms; CPU ${sandboxCost.noNetwork.cpuMsPerCommand} ms per command` },
    { measure: 'git transfer: save a task commit (bundle → object store), p50', value: gitTransfer.saveMsP50, unit: 'ms', detail: `${gitTransfer.n} commits one at a time, one file changed on ${gitTransfer.repoFiles} files; p99 ${gitTransfer.saveMsP99} ms; ${gitTransfer.bytesPerTask} B stored per task` },
    { measure: 'git transfer: fetch it on a node that never saw it, p50', value: gitTransfer.fetchMsP50, unit: 'ms', detail: `object store → bundle → clone; p99 ${gitTransfer.fetchMsP99} ms` },
    { measure: 'DAG (c) heap per idle actor', value: round(heap.bytesPerActor / 1024, 2), unit: 'KiB', detail: `${heap.tickets} tickets + ${heap.agents} agents, heapUsed after GC; target ≤ 10 KiB → ${met(heapOk)}` },
    ...many.runs.map((r) => ({ measure: `DAG (d) ${r.tickets} tickets A→B∥C→D, one repository`, value: round(r.tasksPerSec, 1), unit: 'tasks/s', detail: `${r.tasks} tasks in ${r.seconds.toFixed(2)} s, first task running → last completed; publish → all completed ${r.wallSeconds.toFixed(1)} s (${(r.tasks / r.wallSeconds).toFixed(1)} tasks/s)` })),
    { measure: `DAG (d) ${many.big.tickets} tickets vs (a) 1→${fan.big.sources}→1`, value: round(manyRatio * 100, 1), unit: '%', detail: `target ≥ ${TARGET_MANY_TICKETS_RATIO * 100}% → ${met(manyRatio >= TARGET_MANY_TICKETS_RATIO)}` },
    ...many.runs.map((r) => ({ measure: `DAG (d) clone disk, ${r.tickets} tickets`, value: mib(r.cloneBytes), unit: 'MiB', detail: `${r.clonesOfRepository} clone for ${r.tickets} tickets (du); source .git ${mib(r.sourceGitBytes)} MiB; per-ticket clones would be ≈ ${mib(r.tickets * r.sourceGitBytes)} MiB` })),
    { measure: 'DAG (d) clone disk per extra ticket', value: round(many.bytesPerExtraTicket / 1024, 1), unit: 'KiB', detail: `(${many.runs.map((r) => r.tickets).join(' → ')} tickets) the tickets' own commits, not a copy of the repository` },
    ...sseBenchRows(sse),
    ...scaling.byNodes.map((b) => ({ measure: `cluster: fan-out throughput, ${b.nodes} node${b.nodes > 1 ? 's' : ''}`, value: b.tasksPerSec, unit: 'tasks/s', detail: `${b.error ? `FAILED: ${b.error.slice(0, 100)}…; ` : ''}${b.ratioToOneNode}× 1 node; median of ${b.runs.length} (${b.runs.map((r) => r.tasksPerSec).join(', ')}); ${scaling.tickets} tickets 1→${scaling.fanOut}→1 at once; CPU ${b.cpuMsPerTask} ms per task, idle ${b.idleCpuMsPerSec} ms/s; ${scaling.cores} cores for every node` })),
    ...soakRows(soak),
    { measure: 'cluster: failover after kill -9, median', value: failover.failoverMs.median, unit: 'ms', detail: `last heartbeat → first task of a moved partition running; max ${failover.failoverMs.max} ms over ${failover.runs.length}; partition taken after ${failover.takeoverMs.median} ms (median); lease TTL ${failover.leaseTtlMs} ms (heartbeat ${failover.heartbeatMs} ms)` },
  ]);

  const machine = {
    cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: round(os.totalmem() / 2 ** 30, 1),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`, node: process.version,
    natsServer: natsVersion(await findNatsServer()), postgres: pg.version.split(',')[0], fsync: pg.fsync, synchronousCommit: pg.synchronous_commit,
  };
  const report = {
    bench: 'omoi-messaging', quick, settings, raw, endToEnd: e2e, signatures, sse, soak,
    ratio: round(ratio, 4), targetRatio: TARGET_RATIO, targetMet: ratio >= TARGET_RATIO,
    dag: {
      fanOut: fan, fanOutPoolOff: fanNoPool, poolGain: round(poolGain, 3), merge, heap, manyTickets: many, sandboxCost, gitTransfer, clusterScaling: scaling, failover,
      targets: {
        completionsPerSec: { target: TARGET_COMPLETIONS, value: round(fan.big.completionsPerSec, 1), met: fan.big.completionsPerSec >= TARGET_COMPLETIONS },
        cpuMsPerTask: { target: TARGET_CPU_MS_PER_TASK, value: round(fan.bigCpuMsPerTask, 2), met: fan.bigCpuMsPerTask <= TARGET_CPU_MS_PER_TASK },
        joinLatencyP99Ms: { target: TARGET_JOIN_P99_MS, value: fanP99, met: fanP99 <= TARGET_JOIN_P99_MS },
        mergeRatioClean: { target: TARGET_MERGE_RATIO, value: round(merge.clean.ratio, 3), met: merge.clean.ratio <= TARGET_MERGE_RATIO },
        mergeRatioConflicts: { target: TARGET_MERGE_RATIO, value: round(merge.conflicts.ratio, 3), met: merge.conflicts.ratio <= TARGET_MERGE_RATIO },
        heapBytesPerActor: { target: TARGET_HEAP_BYTES, value: round(heap.bytesPerActor, 0), met: heapOk },
        manyTicketsRatio: { target: TARGET_MANY_TICKETS_RATIO, value: round(manyRatio, 3), met: manyRatio >= TARGET_MANY_TICKETS_RATIO },
        manyTicketsClonesPerRepository: { target: 1, value: many.big.clonesOfRepository, met: many.big.clonesOfRepository === 1 },
      },
    },
    machine, totalSeconds: round((Date.now() - started) / 1000, 1),
  };
  console.log(JSON.stringify(report));
}

/** `node(main) 4.1, postgres 1.2, …` (ms per task by process, largest first). */
function cpuDetail(byProcess: Record<string, number>): string {
  return Object.entries(byProcess).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([name, ms]) => `${name} ${ms.toFixed(1)}`).join(', ');
}

function natsVersion(binary: string): string {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

main()
  .then(() => cleanup())
  .then(() => process.exit(0), async (err) => {
    console.error(`bench failed: ${String((err as Error).stack ?? err).slice(0, 2000)}`);
    await cleanup();
    process.exit(1);
  });
