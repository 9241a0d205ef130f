/**
 * One 1 → N → 1 fan-out on a fresh node, for profiling (not part of `npm run bench`):
 *
 *   node --import tsx [--cpu-prof --cpu-prof-dir=/tmp/prof] bench/profile-fan-out.ts [N=1000] [capacity=64] [runs=1] [sandbox pool=64]
 *
 * Prints the run's numbers, the CPU seconds each process (and each thread of this one: `main`
 * is the event loop, `node` the libuv pool doing file and git work) used during it, and where
 * the tasks' time went between their `task.status` events, and the cost per task in messages
 * and transactions: commands handled by type, events by type, JetStream messages stored per
 * stream, deliveries to the node's consumers (each one acked), bytes added to the git object
 * store, and PostgreSQL transactions committed (these include the bench's own polling, about
 * 50 selects a second), rows inserted, updated and deleted, and WAL bytes written.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNode, type OmoiNode } from '../src/bootstrap.ts';
import { Streams } from '../src/protocol/index.ts';
import { GIT_BUCKET } from '../src/messaging/git-bucket.ts';
import { loadConfig } from '../src/config/index.ts';
import { runFanOut, retireOtherAgents } from './dag-fanout.ts';
import { makeRepo, sql } from './dag-shared.ts';
import { cpuOfTree } from './process-cpu.ts';

if (process.argv.includes('--help')) {
  console.log('usage: node --import tsx bench/profile-fan-out.ts [N=1000] [local agent capacity=64] [runs=1] [sandbox pool size=64, 0 = off] [idle sandboxes per repository=32]');
  process.exit(0);
}
const n = Number(process.argv[2] ?? 1000);
const cap = Number(process.argv[3] ?? 64);
const runs = Number(process.argv[4] ?? 1);
const sandboxPool = Number(process.argv[5] ?? 64);
const sandboxPoolPerRepository = Number(process.argv[6] ?? 32);
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'omoi-fan-'));
const config = loadConfig({}, { dataDir, httpPort: 0, logLevel: 'warn', nodeId: 'bench', apiToken: 'bench', partitions: 64, fetchBatch: 128, localAgentCapacity: cap, sandboxPool, sandboxPoolPerRepository });
const node = await startNode(config);
try {
  await retireOtherAgents(node, 60_000);
  const repo = await makeRepo(dataDir, { 'README.md': 'x\n' });
  // What the node writes and sends doing nothing (heartbeats renew every lease, supervisors,
  // the bench's own polling excluded): a rate per second, subtracted below from the run's counts.
  const idle0 = await counts(node, '-');
  const idleT0 = performance.now();
  await new Promise((r) => setTimeout(r, 10_000));
  const idle1 = await counts(node, '-');
  const idleSeconds = (performance.now() - idleT0) / 1000;
  const idleRate = (k: string) => ((idle1[k] ?? 0) - (idle0[k] ?? 0)) / idleSeconds;
  console.log(`idle for ${idleSeconds.toFixed(1)} s, per second:`);
  for (const k of Object.keys(idle1)) if (idleRate(k)) console.log(`  ${k.padEnd(48)} ${idleRate(k).toFixed(2)}`);
  for (let run = 0; run < runs; run++) {
    const ticket = runs === 1 ? 'fan' : `fan-${run}`;
    const count0 = await counts(node, ticket);
    const countT0 = performance.now();
    const cpu0 = cpuByProcess();
    const t = performance.now();
    const r = await runFanOut(node, { ticket, n, repoDir: repo, timeoutMs: 600_000, stallMs: 120_000, progress: console.log });
    console.log(JSON.stringify(r), ((performance.now() - t) / 1000).toFixed(1), 's');
    const cpu1 = cpuByProcess();
    console.log('CPU seconds during the run:', Object.entries(cpu1).map(([k, v]) => `${k} ${(v - (cpu0[k] ?? 0)).toFixed(2)}`).join(', '));
    const count1 = await counts(node, ticket);
    const countSeconds = (performance.now() - countT0) / 1000;
    console.log(`per task (${n + 2} tasks), as counted and net of the idle rate over the run's ${countSeconds.toFixed(1)} s:`);
    for (const [k, v] of Object.entries(count1)) {
      const d = v - (count0[k] ?? 0);
      if (d) console.log(`  ${k.padEnd(48)} ${(d / (n + 2)).toFixed(2).padStart(10)} ${((d - idleRate(k) * countSeconds) / (n + 2)).toFixed(2).padStart(10)}`);
    }
    const ev = await sql(node, `select payload->>'task_id' as task, payload->>'status' as status, time from omoi_event where ticket_id = ? and type = 'task.status'`, [ticket]);
    const at = new Map<string, Record<string, number>>();
    for (const e of ev) { const m = at.get(e.task) ?? {}; m[e.status] = new Date(e.time).getTime(); at.set(e.task, m); }
    const gaps: Record<string, number[]> = { 'ready→assigned': [], 'assigned→running': [], 'running→completed': [], 'prev completed→assigned': [] };
    for (const [task, m] of at) {
      if (task === 'S' || task === 'J') continue;
      gaps['ready→assigned']!.push(m.assigned! - m.ready!); gaps['assigned→running']!.push(m.running! - m.assigned!); gaps['running→completed']!.push(m.completed! - m.running!);
    }
    const med = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return `p50 ${s[Math.floor(s.length / 2)]} p90 ${s[Math.floor(s.length * 0.9)]} max ${s[s.length - 1]}`; };
    for (const [k, xs] of Object.entries(gaps)) if (xs.length) console.log(k.padEnd(22), med(xs));
  }
} finally {
  await node.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

/** Counters to difference around a run: commands handled, events, stream sequences, transactions. */
async function counts(node: OmoiNode, ticket: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await node.metrics.handled.get()).values) {
    if (m.labels.outcome === 'ok') out[`command ${m.labels.type}`] = (out[`command ${m.labels.type}`] ?? 0) + m.value;
  }
  for (const e of await sql(node, 'select type, count(*)::int as n from omoi_event where ticket_id = ? group by type', [ticket])) out[`event ${e.type}`] = e.n;
  const jsm = await jetstreamManager(node.nc);
  for (const stream of Object.values(Streams)) out[`jetstream ${stream} messages`] = (await jsm.streams.info(stream)).state.last_seq;
  out[`jetstream ${GIT_BUCKET} object store bytes`] = (await jsm.streams.info(`OBJ_${GIT_BUCKET}`)).state.bytes;
  // Messages handed to a consumer (each is acked once unless redelivered): the router's and the partitions'.
  let delivered = 0;
  for (const stream of [Streams.ingress, Streams.partitions]) {
    for await (const c of jsm.consumers.list(stream)) delivered += c.delivered.consumer_seq;
  }
  out['jetstream deliveries to consumers (acks)'] = delivered;
  // Statistics are flushed by each backend at most once a second: wait them in.
  await new Promise((r) => setTimeout(r, 1_500));
  const [tx] = await sql(node, `select xact_commit::int as n, tup_inserted::int as ins, tup_updated::int as upd, tup_deleted::int as del,
    pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint as wal from pg_stat_database where datname = current_database()`);
  out['postgres transactions committed'] = tx!.n;
  out['postgres rows inserted'] = tx!.ins;
  out['postgres rows updated'] = tx!.upd;
  out['postgres rows deleted'] = tx!.del;
  out['postgres WAL bytes'] = Number(tx!.wal);
  for (const t of await sql(node, `select relname, (n_tup_ins + n_tup_upd + n_tup_del)::int as n from pg_stat_user_tables where relname like 'omoi%'`)) {
    out[`postgres rows written: ${t.relname}`] = t.n;
  }
  return out;
}

/** CPU seconds by process (see `cpuOfTree`) and by thread of this process (`thread:main` is the event loop). */
function cpuByProcess(): Record<string, number> {
  const out = cpuOfTree();
  for (const tid of readdirSync(`/proc/${process.pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8');
      const name = `thread:${Number(tid) === process.pid ? 'main' : st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'))}`;
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out[name] = (out[name] ?? 0) + (Number(f[11]) + Number(f[12])) / 100;
    } catch { /* gone */ }
  }
  return out;
}
