/**
 * Small Linux process utilities for supervising server processes we spawn: liveness that
 * treats zombies as dead, waiting for exit, signal escalation, and reading `/proc` to
 * recognise servers left behind by a crashed earlier run.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const HAS_PROC = existsSync('/proc/self/stat');

/** The fields of `/proc/<pid>/stat` after the command name (field 3 onwards), or undefined. */
async function statFields(pid: number): Promise<string[] | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * True while `pid` exists and is not a zombie. A killed child whose parent has died may stay
 * a zombie if PID 1 does not reap it; it is gone for every purpose that matters here.
 */
export async function isRunning(pid: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!HAS_PROC) return true;
  const fields = await statFields(pid);
  if (!fields) return false;
  return fields[0] !== 'Z' && fields[0] !== 'X';
}

/**
 * The kernel start time of `pid` (clock ticks since boot), used with the pid to recognise a
 * process even after its pid could have been reused. Undefined if it is gone.
 */
export async function processStartTime(pid: number): Promise<string | undefined> {
  const fields = await statFields(pid);
  // starttime is field 22 of /proc/<pid>/stat; fields[] starts at field 3.
  return fields?.[19];
}

/** Polls until `pid` is no longer running; resolves false if it still runs after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await isRunning(pid))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

/**
 * Stops `pid`: sends each signal in turn and waits up to its `waitMs` for the process to exit;
 * ends with SIGKILL if it is still there. Resolves once it is gone (a no-op if already gone).
 */
export async function terminate(
  pid: number,
  steps: Array<{ signal: NodeJS.Signals; waitMs: number }>,
): Promise<void> {
  for (const step of [...steps, { signal: 'SIGKILL' as const, waitMs: 10_000 }]) {
    if (!(await isRunning(pid))) return;
    try {
      process.kill(pid, step.signal);
    } catch {
      return; // gone between the check and the signal
    }
    if (await waitForExit(pid, step.waitMs)) return;
  }
  throw new Error(`process ${pid} survived SIGKILL`);
}

/** Argument vector of `pid` from `/proc`, or undefined if it is gone. */
export async function processArgs(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    const args = raw.split('\0');
    if (args.at(-1) === '') args.pop(); // cmdline ends with a NUL
    return args;
  } catch {
    return undefined;
  }
}

/** Current working directory of `pid`, or undefined if it is gone or unreadable. */
export async function processCwd(pid: number): Promise<string | undefined> {
  try {
    return await readlink(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/** Basename of the executable of `pid`, or undefined if it is gone or unreadable. */
export async function processExecutableName(pid: number): Promise<string | undefined> {
  try {
    return path.basename(await readlink(`/proc/${pid}/exe`));
  } catch {
    return undefined;
  }
}

/** Pids of all processes visible in `/proc` (empty without `/proc`). */
export async function listPids(): Promise<number[]> {
  if (!HAS_PROC) return [];
  const entries = await readdir('/proc');
  return entries.filter((e) => /^\d+$/.test(e)).map(Number);
}
