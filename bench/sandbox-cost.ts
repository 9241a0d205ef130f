/**
 * The cost of running a task command under bubblewrap, side by side with the unsandboxed path:
 * `true` run `n` times through the node's process host (`runProcess`), one at a time, first
 * unsandboxed, then under the isolation a node uses (`decideIsolation`: data dir and home
 * hidden, the sandbox writable). Wall time per command (median, p99) and CPU per command summed
 * over every process (the process host, the shells and bwrap it reaped). Last, under bubblewrap
 * with no network (a ticket's `network: false`: a network namespace per command).
 *
 * Standalone: `node --import tsx bench/sandbox-cost.ts [n]`; `npm run bench` runs it too.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decideIsolation, isolationPrefix, runProcess } from '../src/sandbox/index.ts';
import { cpuBetween, cpuOfTree } from './process-cpu.ts';
import { percentile, round } from './stats.ts';

export interface SandboxCostRow { wallMsP50: number; wallMsP99: number; cpuMsPerCommand: number }
export interface SandboxCost { n: number; unsandboxed: SandboxCostRow; bubblewrap: SandboxCostRow; noNetwork: SandboxCostRow; ratioWall: number; ratioCpu: number }

export async function sandboxCostBench(opts: { n: number; workDir: string; progress: (line: string) => void }): Promise<SandboxCost> {
  const root = mkdtempSync(path.join(opts.workDir, 'sandbox-cost-'));
  const dataDir = path.join(root, 'data');
  const sandbox = path.join(dataDir, 'sandboxes', 'one');
  const logDir = path.join(dataDir, 'logs');
  mkdirSync(sandbox, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  const isolation = await decideIsolation('bwrap', [dataDir, os.homedir()]);
  const wrap = isolationPrefix(isolation, { writable: [sandbox, logDir], cwd: sandbox });
  const wrapNoNetwork = isolationPrefix(isolation, { writable: [sandbox, logDir], cwd: sandbox, network: false });
  const measure = async (label: string, prefix: string[]): Promise<SandboxCostRow> => {
    await runProcess({ command: 'true', cwd: sandbox, timeoutMs: 30_000, logFile: path.join(logDir, 'warm.log'), wrap: prefix }); // the host is up
    const walls: number[] = [];
    const before = cpuOfTree();
    for (let i = 0; i < opts.n; i++) {
      const started = performance.now();
      const run = await runProcess({ command: 'true', cwd: sandbox, timeoutMs: 30_000, logFile: path.join(logDir, `${label}.log`), wrap: prefix });
      if (run.exitCode !== 0) throw new Error(`${label}: \`true\` exited with ${run.exitCode ?? run.signal}: ${run.tail}`);
      walls.push(performance.now() - started);
    }
    const cpu = Object.values(cpuBetween(before, cpuOfTree())).reduce((a, b) => a + b, 0);
    const row = { wallMsP50: round(percentile(walls, 50), 2), wallMsP99: round(percentile(walls, 99), 2), cpuMsPerCommand: round((cpu * 1000) / opts.n, 2) };
    opts.progress(`sandbox cost, ${label}: ${row.wallMsP50} ms wall p50, ${row.cpuMsPerCommand} ms CPU per command`);
    return row;
  };
  try {
    const unsandboxed = await measure('unsandboxed', []);
    const bubblewrap = await measure('bubblewrap', wrap);
    const noNetwork = await measure('bubblewrap, no network', wrapNoNetwork);
    return {
      n: opts.n, unsandboxed, bubblewrap, noNetwork,
      ratioWall: round(bubblewrap.wallMsP50 / unsandboxed.wallMsP50, 2), ratioCpu: round(bubblewrap.cpuMsPerCommand / unsandboxed.cpuMsPerCommand, 2),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? 200);
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'omoi-bench-'));
  sandboxCostBench({ n, workDir, progress: (l) => console.error(l) })
    .then((r) => { console.table([{ path: 'unsandboxed', ...r.unsandboxed }, { path: 'bubblewrap', ...r.bubblewrap }, { path: 'bubblewrap, no network', ...r.noNetwork }]); console.log(JSON.stringify(r)); })
    .finally(() => rmSync(workDir, { recursive: true, force: true }))
    .then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
}
