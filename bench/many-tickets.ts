/**
 * 7(d) of `npm run bench` on its own, on a fresh node (not part of `npm run bench`):
 *
 *   node --import tsx bench/many-tickets.ts [sizes=20,200] [fan-out N=1000] [capacity=64]
 *
 * One 1 → N → 1 fan-out for the reference rate, then, for each size, that many tickets
 * A → (B ∥ C) → D on one repository published at once (`dag-many-tickets.ts`). Prints each
 * run, where the big run's tickets spent their time (medians of the phases between their
 * events), and one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startNode } from '../src/bootstrap.ts';
import { loadConfig } from '../src/config/index.ts';
import { runFanOut } from './dag-fanout.ts';
import { manyTicketsBench } from './dag-many-tickets.ts';
import { makeRepo, sql } from './dag-shared.ts';

const sizes = (process.argv[2] ?? '20,200').split(',').map(Number);
const fanN = Number(process.argv[3] ?? 1000);
const cap = Number(process.argv[4] ?? 64);
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'omoi-many-'));
const config = loadConfig({}, { dataDir, httpPort: 0, logLevel: 'warn', nodeId: 'bench', apiToken: 'bench', partitions: 64, fetchBatch: 128, localAgentCapacity: cap });
const node = await startNode(config);
const progress = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
try {
  const repo = await makeRepo(dataDir, { 'README.md': 'fan-out\n' });
  const fan = await runFanOut(node, { ticket: 'fan', n: fanN, repoDir: repo, timeoutMs: 600_000, progress });
  progress(`fan-out 1→${fanN}→1: ${fan.completionsPerSec.toFixed(1)} completions/s`);
  const many = await manyTicketsBench(node, { sizes, repoFiles: 256, workDir: dataDir, timeoutMs: 900_000, progress });
  const ratio = many.big.tasksPerSec / fan.completionsPerSec;
  progress(`${many.big.tickets} tickets: ${many.big.tasksPerSec.toFixed(1)} tasks/s = ${(ratio * 100).toFixed(0)}% of the fan-out's; clone ${(many.big.cloneBytes / 2 ** 20).toFixed(2)} MiB; ${Math.round(many.bytesPerExtraTicket / 1024)} KiB per extra ticket`);
  // Where a ticket's time went (medians over the big run's tickets), from the node's event times.
  const ev = await sql(node, `select ticket_id, type, payload->>'task_id' as task, payload->>'status' as status, time from omoi_event
    where ticket_id like ? and type in ('ticket.created', 'task.status', 'ticket.completed')`, [`bench-many-${many.big.tickets}-%`]);
  const at = new Map<string, Map<string, number>>();
  for (const e of ev) {
    const m = at.get(e.ticket_id) ?? new Map<string, number>();
    m.set(e.type === 'task.status' ? `${e.task}:${e.status}` : e.type, new Date(e.time).getTime());
    at.set(e.ticket_id, m);
  }
  const phases: Record<string, (m: Map<string, number>) => number> = {
    'created → A running': (m) => m.get('A:running')! - m.get('ticket.created')!,
    'A running → completed': (m) => m.get('A:completed')! - m.get('A:running')!,
    'A completed → B running': (m) => m.get('B:running')! - m.get('A:completed')!,
    'B∥C both completed → D ready (merge)': (m) => m.get('D:ready')! - Math.max(m.get('B:completed')!, m.get('C:completed')!),
    'D ready → D running': (m) => m.get('D:running')! - m.get('D:ready')!,
    'D completed → ticket completed': (m) => m.get('ticket.completed')! - m.get('D:completed')!,
  };
  const firstCreated = Math.min(...[...at.values()].map((m) => m.get('ticket.created')!));
  for (const [name, f] of Object.entries({ ...phases, 'first created → this created': (m: Map<string, number>) => m.get('ticket.created')! - firstCreated })) {
    const xs = [...at.values()].map(f).filter(Number.isFinite).sort((a, b) => a - b);
    progress(`${name.padEnd(40)} p50 ${xs[Math.floor(xs.length / 2)]} ms, p90 ${xs[Math.floor(xs.length * 0.9)]} ms, max ${xs[xs.length - 1]} ms`);
  }
  console.log(JSON.stringify({ fanOut: fan, manyTickets: many, ratio, capacity: cap }));
} finally {
  await node.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
