import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestContext } from '../harness/index.ts';
import { waitFor } from '../harness/index.ts';

const execFileAsync = promisify(execFile);

/** The real executable, as a user runs it. */
export const OMOI_BIN = fileURLToPath(new URL('../../bin/omoi.mjs', import.meta.url));

/**
 * The test process's environment without any Omoi setting, plus `env`: a child must see only
 * what the test gives it (a developer's DATABASE_URL must not leak into a test).
 */
export function cleanEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OMOI_(?!TEST$)|DATABASE_URL$|NATS_(URL|USER|PASSWORD|TOKEN|NKEY|CREDS|CA|CERT|KEY|INBOX_PREFIX)$)/.test(k)));
  return { ...base, ...env };
}

export interface OmoiResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/**
 * `omoi <args>` in this process: the same program the executable runs (`runCli`), its output
 * captured. For checks of many commands' texts, where a spawn each would cost the suite seconds;
 * the executable itself is run by `runOmoi`.
 */
export async function runOmoiHere(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { runCli } = await import('../../src/cli/program.ts');
  let stdout = '';
  let stderr = '';
  // A command may set process.exitCode, as in its own process: it must not become the test's.
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    const code = await runCli(['node', 'omoi', ...args], { out: (text) => { stdout += text; }, err: (text) => { stderr += text; } });
    return { code, stdout, stderr };
  } finally {
    process.exitCode = before;
  }
}

/** Runs `omoi <args>` to completion and returns its exit code and output. */
export function runOmoi(args: string[], env: Record<string, string> = {}, opts: { input?: string } = {}): Promise<OmoiResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [OMOI_BIN, ...args], { env: cleanEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    const out = collect(child);
    child.stdin.end(opts.input ?? '');
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, ...out() }));
  });
}

/** A long-running `omoi` child (start, sub) whose output is collected as it comes. */
export interface OmoiProcess {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first output line (stdout or stderr) matching `pattern`. */
  line(pattern: RegExp, what: string): Promise<string>;
  /** Resolves with the exit code and signal once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `omoi <args>`; SIGKILLed in `t.teardown` if it is still running then. */
export function spawnOmoi(t: TestContext, args: string[], env: Record<string, string> = {}): OmoiProcess {
  const child = spawn(process.execPath, [OMOI_BIN, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collect(child);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  t.teardown(() => {
    if (!exit) child.kill('SIGKILL');
  });
  return {
    child,
    pid: child.pid!,
    stdout: () => out().stdout,
    stderr: () => out().stderr,
    exited,
    line: (pattern, what) => waitFor(what, () => {
      const { stdout, stderr } = out();
      const found = [...stdout.split('\n'), ...stderr.split('\n')].find((l) => pattern.test(l));
      if (found) return found;
      if (exit) throw new Error(`omoi exited (${JSON.stringify(exit)}) before printing ${what}; stderr: ${stderr.slice(-2000)}`);
      return undefined;
    }, { timeoutMs: 90_000 }),
  };
}

/** Pids of the direct children of `pid` that are still running (not zombies). */
export async function childPids(pid: number): Promise<number[]> {
  try {
    const { stdout } = await execFileAsync('ps', ['-o', 'pid=,stat=', '--ppid', String(pid)]);
    return stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter(([p, stat]) => p && !stat?.startsWith('Z')).map(([p]) => Number(p));
  } catch (err) {
    // ps exits 1 when nothing matches.
    if ((err as { code?: number }).code === 1) return [];
    throw err;
  }
}

/** Pids among `pids` that still run (not zombies). */
export async function stillRunning(pids: number[]): Promise<number[]> {
  if (pids.length === 0) return [];
  try {
    const { stdout } = await execFileAsync('ps', ['-o', 'pid=,stat=', '-p', pids.join(',')]);
    return stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter(([p, stat]) => p && !stat?.startsWith('Z')).map(([p]) => Number(p));
  } catch (err) {
    if ((err as { code?: number }).code === 1) return [];
    throw err;
  }
}

function collect(child: ChildProcess): () => { stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return () => ({ stdout, stderr });
}
