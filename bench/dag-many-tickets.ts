import { execFile } from 'node:child_process';
import { realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { OmoiNode } from '../src/bootstrap.ts';
import { sharedCloneDir } from '../src/git/index.ts';
import { git, makeRepo, sql, waitFor } from './dag-shared.ts';

const execFileAsync = promisify(execFile);

/** One run of `tickets` tickets of the shape A → (B ∥ C) → D on one repository, published at once. */
export interface ManyTicketsRun {
  tickets: number;
  tasks: number;
  /** First task `running` → last task `completed` (the node's event times), seconds. */
  seconds: number;
  /** tasks / seconds: comparable with the fan-out's completions per second. */
  tasksPerSec: number;
  /** First `ticket.create` published → every ticket completed, bench clock, seconds. */
  wallSeconds: number;
  /** `du` of the repository's one shared clone after the run (objects of the base and of every task and merge). */
  cloneBytes: number;
  /** `du` of `<dataDir>/repos` (one symbolic link per ticket of the whole bench). */
  linksBytes: number;
  /** `du` of the source repository's `.git`: what a full clone per ticket would have cost each ticket. */
  sourceGitBytes: number;
  /** Clone directories on the node for this repository (one). */
  clonesOfRepository: number;
}

export interface ManyTicketsResult {
  runs: ManyTicketsRun[];
  /** The largest run (the figure the issue asks for). */
  big: ManyTicketsRun;
  /** Disk the clone grew by per extra ticket between the smallest and largest run (their own commits), bytes. */
  bytesPerExtraTicket: number;
}

/**
 * 7(d): `tickets` tickets A → (B ∥ C) → D (no-op `true` tasks in real sandboxes, one real merge
 * per ticket) against ONE repository whose history holds `repoFiles` incompressible 16 KiB files
 * (its tip only a README, like the fan-out's), all published at once,
 * for each size in `sizes` (a fresh repository per size, so each run's clone holds only its own
 * work). Reports tasks/s and the disk of the repository's single clone.
 */
export async function manyTicketsBench(
  node: OmoiNode,
  opts: { sizes: number[]; repoFiles: number; workDir: string; timeoutMs: number; progress: (line: string) => void },
): Promise<ManyTicketsResult> {
  const runs: ManyTicketsRun[] = [];
  for (const n of opts.sizes) {
    const run = await runManyTickets(node, { ...opts, tickets: n });
    runs.push(run);
    opts.progress(`many tickets: ${n} × A→B∥C→D on one repository: ${run.tasksPerSec.toFixed(0)} tasks/s over ${run.seconds.toFixed(2)} s; clone ${kib(run.cloneBytes)} KiB (source .git ${kib(run.sourceGitBytes)} KiB)`);
  }
  const small = runs[0]!;
  const big = runs[runs.length - 1]!;
  const bytesPerExtraTicket = big.tickets > small.tickets ? Math.round((big.cloneBytes - small.cloneBytes) / (big.tickets - small.tickets)) : NaN;
  return { runs, big, bytesPerExtraTicket };
}

async function runManyTickets(
  node: OmoiNode,
  opts: { tickets: number; repoFiles: number; workDir: string; timeoutMs: number; progress: (line: string) => void },
): Promise<ManyTicketsRun> {
  const n = opts.tickets;
  const repoDir = await makeRepo(opts.workDir, { 'README.md': `many tickets bench (${n})\n` });
  // A repository worth sharing: incompressible files in its history (a clone per ticket would copy
  // them each time), deleted again at the tip, so a sandbox checks out what the fan-out's does
  // and the task rate stays comparable with it.
  for (let i = 0; i < opts.repoFiles; i++) await writeFile(path.join(repoDir, `blob-${i}.bin`), randomBytesOf(16 * 1024, i));
  await git(repoDir, 'add', '--all');
  await git(repoDir, 'commit', '--quiet', '-m', 'history worth sharing');
  await git(repoDir, 'rm', '--quiet', '-r', '--', ...Array.from({ length: opts.repoFiles }, (_, i) => `blob-${i}.bin`));
  await git(repoDir, 'commit', '--quiet', '-m', 'tip as small as the fan-out repository');
  const prefix = `bench-many-${n}-`;
  const ids = Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
  const t0 = performance.now();
  await Promise.all(ids.map((id) => node.submit('ticket.create', {
    ticket_id: id, title: `bench many tickets ${id}`, repository: repoDir, base_branch: 'main',
    tasks: [
      { id: 'A', run: 'true', depends_on: [], owns: [] },
      { id: 'B', run: 'true', depends_on: ['A'], owns: [] },
      { id: 'C', run: 'true', depends_on: ['A'], owns: [] },
      { id: 'D', run: 'true', depends_on: ['B', 'C'], owns: [] },
    ],
  })));
  let lastDone = -1;
  let progressAt = performance.now();
  let reported = 0;
  await waitFor(`${n} tickets completed`, async () => {
    const [row] = await sql(node, `select count(*) filter (where status = 'completed')::int as done, count(*) filter (where status in ('failed', 'cancelled'))::int as bad from omoi_ticket where id like ?`, [`${prefix}%`]);
    if (row!.bad) throw new Error(`${row!.bad} bench tickets failed or were cancelled`);
    if (row!.done !== lastDone) { lastDone = row!.done; progressAt = performance.now(); }
    if (row!.done - reported >= 50) { reported = row!.done; opts.progress(`many tickets: ${row!.done}/${n} completed`); }
    if (performance.now() - progressAt > 60_000) {
      const dead = await sql(node, `select type, reason from omoi_dead_letter where body like ? limit 3`, [`%${prefix}%`]).catch(() => []);
      throw new Error(`stalled at ${row!.done}/${n} tickets completed${dead.length ? `; dead letters: ${dead.map((d) => `${d.type}: ${String(d.reason).slice(0, 200)}`).join(' | ')}` : ''}`);
    }
    return row!.done === n;
  }, opts.timeoutMs, 50);
  const wallSeconds = (performance.now() - t0) / 1000;
  const [span] = await sql(node, `select min(time) filter (where payload->>'status' = 'running') as first, max(time) filter (where payload->>'status' = 'completed') as last,
    count(*) filter (where payload->>'status' = 'completed')::int as completed
    from omoi_event where type = 'task.status' and ticket_id like ?`, [`${prefix}%`]);
  const seconds = Math.max(1e-3, (new Date(span!.last).getTime() - new Date(span!.first).getTime()) / 1000);
  const clone = sharedCloneDir(node.config.dataDir, repoDir);
  return {
    tickets: n, tasks: span!.completed, seconds, tasksPerSec: span!.completed / seconds, wallSeconds,
    cloneBytes: await du(clone), linksBytes: await du(path.join(node.config.dataDir, 'repos')), sourceGitBytes: await du(path.join(repoDir, '.git')),
    clonesOfRepository: new Set(await Promise.all(ids.map((id) => realpath(path.join(node.config.dataDir, 'repos', id))))).size,
  };
}

/** Disk used by `dir` (`du -sk`, blocks actually allocated), bytes. */
async function du(dir: string): Promise<number> {
  const { stdout } = await execFileAsync('du', ['-sk', dir]);
  return Number(stdout.split(/\s+/)[0]) * 1024;
}

/** `size` bytes that do not compress, different per `seed` (xorshift; no crypto needed). */
function randomBytesOf(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out.writeUInt32LE(x, i);
  }
  return out;
}

const kib = (bytes: number) => Math.round(bytes / 1024);
