/**
 * 7(d) of `npm run bench` on its own, on a fresh node (not part of `npm run bench`):
 *
 *   node --import tsx bench/many-tickets.ts [sizes=20,200] [fan-out N=1000] [capacity=64]
 *
 * One 1 → N → 1 fan-out for the reference rate, then, for each size, that many tickets
 * A → (B ∥ C) → D on one repository published at once (`dag-many-tickets.ts`). Prints each
 * run and one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startNode } from '../src/bootstrap.ts';
import { loadConfig } from '../src/config/index.ts';
import { runFanOut } from './dag-fanout.ts';
import { manyTicketsBench } from './dag-many-tickets.ts';
import { makeRepo } from './dag-shared.ts';

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
  console.log(JSON.stringify({ fanOut: fan, manyTickets: many, ratio, capacity: cap }));
} finally {
  await node.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
