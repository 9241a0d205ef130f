/**
 * The per-task cost of making git state durable off the node (issue 7, item 1): `n` task-like
 * commits (one file changed each, on a repository of `files` files) are saved as bundles in the
 * `OMOI_GIT` object store one after another, as each task's executor does before reporting;
 * then a node that never saw the ticket fetches each of them (`CommitStore.ensure`), as a task
 * or merge elsewhere would. Per commit: wall ms of a save and of a fetch (median, p99) and
 * bytes stored.
 *
 * Standalone: `node --import tsx bench/git-transfer.ts [n]`; `npm run bench` runs it too.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { startEmbeddedNats } from '../src/embedded/index.ts';
import { CommitStore, prepareTicketClone, ticketRepoDir } from '../src/git/index.ts';
import { openGitBucket } from '../src/messaging/git-bucket.ts';
import { percentile, round } from './stats.ts';

export interface GitTransferCost {
  n: number; repoFiles: number;
  saveMsP50: number; saveMsP99: number; bytesPerTask: number;
  fetchMsP50: number; fetchMsP99: number;
}

const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', ...args], { cwd, encoding: 'utf8' }).trim();

export async function gitTransferBench(opts: { n: number; repoFiles: number; workDir: string; progress: (line: string) => void }): Promise<GitTransferCost> {
  const root = mkdtempSync(path.join(opts.workDir, 'git-transfer-'));
  const nats = await startEmbeddedNats({ storeDir: path.join(root, 'nats'), log: () => undefined });
  const nc = await connect({ servers: nats.url });
  try {
    const bucket = await openGitBucket(jetstream(nc));
    const source = path.join(root, 'source');
    mkdirSync(source);
    git(source, 'init', '-q', '-b', 'main');
    for (let i = 0; i < opts.repoFiles; i++) writeFileSync(path.join(source, `f${i}.txt`), `${'line\n'.repeat(200)}${i}\n`);
    git(source, 'add', '-A');
    git(source, 'commit', '-qm', 'base');
    const base = git(source, 'rev-parse', 'HEAD');

    const here = path.join(root, 'here');
    await prepareTicketClone(here, 'B1', source);
    const clone = ticketRepoDir(here, 'B1');
    // The tasks' commits, made up front (a task makes its commit in its sandbox; not timed here).
    const work = path.join(root, 'work');
    git(clone, 'worktree', 'add', '-q', '--detach', work, base);
    const commits: string[] = [];
    for (let i = 0; i < opts.n; i++) {
      git(work, 'checkout', '-q', '--detach', base);
      writeFileSync(path.join(work, `f${i % opts.repoFiles}.txt`), `changed by task ${i}\n`);
      git(work, 'commit', '-qam', `task ${i}`);
      commits.push(git(work, 'rev-parse', 'HEAD'));
    }
    const store = new CommitStore({ dataDir: here, bucket });
    const saves: number[] = [];
    let bytes = 0;
    for (const c of commits) {
      const saved = await store.save('B1', c, [base]);
      saves.push(saved.ms);
      bytes += saved.bytes;
    }
    opts.progress(`git transfer: saved ${opts.n} task commits, ${round(percentile(saves, 50), 2)} ms p50, ${Math.round(bytes / opts.n)} B each`);

    const elsewhere = new CommitStore({ dataDir: path.join(root, 'elsewhere'), bucket });
    await elsewhere.ensure('B1', source, [base]); // the clone of the repository itself: not a per-task cost
    const fetches: number[] = [];
    for (const c of commits) {
      const started = performance.now();
      await elsewhere.ensure('B1', source, [c]);
      fetches.push(performance.now() - started);
    }
    opts.progress(`git transfer: fetched them on a node that never saw the ticket, ${round(percentile(fetches, 50), 2)} ms p50`);
    return {
      n: opts.n, repoFiles: opts.repoFiles,
      saveMsP50: round(percentile(saves, 50), 2), saveMsP99: round(percentile(saves, 99), 2), bytesPerTask: Math.round(bytes / opts.n),
      fetchMsP50: round(percentile(fetches, 50), 2), fetchMsP99: round(percentile(fetches, 99), 2),
    };
  } finally {
    await nc.close();
    await nats.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? 100);
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'omoi-bench-'));
  gitTransferBench({ n, repoFiles: 256, workDir, progress: (l) => console.error(l) })
    .then((r) => { console.table([r]); console.log(JSON.stringify(r)); })
    .finally(() => rmSync(workDir, { recursive: true, force: true }));
}
