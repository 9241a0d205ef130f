import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { childEnv } from './child-env.ts';
import { TailBuffer } from './tail-buffer.ts';

export interface RunProcessOptions {
  /** A shell command, run by `/bin/sh -c`. */
  command: string;
  cwd: string;
  /** Variables given to the command on top of the allowlist (PATH, HOME, LANG, TERM). */
  env?: Record<string, string>;
  /** After this long the whole process group is killed and `timedOut` is true. */
  timeoutMs: number;
  /** Aborting kills the whole process group; `aborted` is then true. */
  signal?: AbortSignal;
  /** Receives everything the command prints (stdout and stderr interleaved). */
  logFile: string;
  /** Append to `logFile` instead of truncating it first (default false). */
  appendLog?: boolean;
  /** How much of the end of the output to return as `tail` (default 8 KiB). */
  tailBytes?: number;
  /** Between SIGTERM and SIGKILL when stopping the group (default 2000 ms). */
  killGraceMs?: number;
}

export interface ProcessOutcome {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  aborted: boolean;
  tail: string;
  durationMs: number;
}

const DEFAULT_TAIL_BYTES = 8 * 1024;
const DEFAULT_KILL_GRACE_MS = 2000;

/**
 * Runs `command` in its own process group (spawned detached) with an allowlisted environment.
 * A timeout or an abort stops the whole group — the command and everything it started —
 * with SIGTERM, then SIGKILL after a grace period. When the command exits on its own, what it
 * left running in its group is stopped the same way, so nothing outlives its run. Resolves once the
 * output is fully written to `logFile`; never rejects for the command's own failure (a
 * non-zero exit, a signal), only if the log file cannot be written or the shell cannot start.
 */
export async function runProcess(opts: RunProcessOptions): Promise<ProcessOutcome> {
  const started = performance.now();
  const tail = new TailBuffer(opts.tailBytes ?? DEFAULT_TAIL_BYTES);
  const grace = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  await mkdir(path.dirname(opts.logFile), { recursive: true });
  const log = createWriteStream(opts.logFile, { flags: opts.appendLog ? 'a' : 'w' });
  await new Promise<void>((resolve, reject) => { log.once('open', () => resolve()); log.once('error', reject); });

  const finishLog = () => new Promise<void>((resolve) => log.end(() => resolve()));
  if (opts.signal?.aborted) {
    await finishLog();
    return { exitCode: null, signal: null, timedOut: false, aborted: true, tail: '', durationMs: 0 };
  }

  const child = spawn('/bin/sh', ['-c', opts.command], {
    cwd: opts.cwd,
    env: childEnv(opts.env),
    detached: true, // own process group, so the whole tree can be signalled at once
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let timedOut = false;
  let aborted = false;
  let exited = false; // after this, a timeout or abort no longer describes how the command ended
  let killTimer: NodeJS.Timeout | undefined;
  const signalGroup = (sig: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      // ESRCH: the group is already gone.
    }
  };
  const stopGroup = () => {
    signalGroup('SIGTERM');
    killTimer ??= setTimeout(() => signalGroup('SIGKILL'), grace);
  };

  const onData = (chunk: Buffer) => { tail.push(chunk); log.write(chunk); };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);

  const timeout = setTimeout(() => { timedOut = !exited; stopGroup(); }, opts.timeoutMs);
  const onAbort = () => { aborted = !exited; stopGroup(); };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      let closeGuard: NodeJS.Timeout | undefined;
      child.once('error', reject); // the shell could not be started
      child.once('exit', (code, signal) => {
        exit = { code, signal };
        exited = true;
        // The command is done: whatever it left running in its group is stopped too. Then
        // wait for the pipes to drain; a process that escaped the group (setsid) and keeps
        // them open must not hold us forever.
        stopGroup();
        closeGuard = setTimeout(() => {
          child.stdout!.destroy();
          child.stderr!.destroy();
          resolve(exit!);
        }, grace + 500);
      });
      child.once('close', (code, signal) => {
        clearTimeout(closeGuard);
        resolve(exit ?? { code, signal });
      });
    });
    return { exitCode: code, signal, timedOut, aborted, tail: tail.toString(), durationMs: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timeout);
    clearTimeout(killTimer);
    signalGroup('SIGKILL'); // stragglers that closed their output but ignored SIGTERM
    opts.signal?.removeEventListener('abort', onAbort);
    await finishLog();
  }
}
