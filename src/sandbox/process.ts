import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { childEnv } from './child-env.ts';

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
  /** An argv prefix the shell is run under (`isolationPrefix`: bubblewrap); none by default. */
  wrap?: string[];
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
 * Runs `command` in its own process group with an allowlisted environment. A timeout or an
 * abort stops the whole group — the command and everything it started — with SIGTERM, then
 * SIGKILL after a grace period. When the command exits on its own, what it left running in its
 * group is stopped the same way, so nothing outlives its run. Resolves once the output is fully
 * written to `logFile`; never rejects for the command's own failure (a non-zero exit, a
 * signal), only if the log file cannot be written, the shell cannot start or the process host
 * died.
 *
 * The command is started by this process's process host (`process-host.mjs`), not by this
 * process: see there why.
 */
export async function runProcess(opts: RunProcessOptions): Promise<ProcessOutcome> {
  if (opts.signal?.aborted) return { exitCode: null, signal: null, timedOut: false, aborted: true, tail: '', durationMs: 0 };
  return processHost().run(opts);
}

type Pending = { resolve: (o: ProcessOutcome) => void; reject: (e: Error) => void };

/** The client of one process host: requests by id over the IPC channel. */
class ProcessHost {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private seq = 0;

  get pid(): number | undefined {
    return this.child?.connected ? this.child.pid : undefined;
  }

  async run(opts: RunProcessOptions): Promise<ProcessOutcome> {
    const child = this.started();
    const id = ++this.seq;
    const onAbort = () => { if (child.connected) child.send({ op: 'abort', id }); };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await new Promise<ProcessOutcome>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.hold(true);
        child.send({
          op: 'run', id, command: opts.command, cwd: opts.cwd, env: childEnv(opts.env), timeoutMs: opts.timeoutMs, logFile: opts.logFile,
          appendLog: opts.appendLog ?? false, tailBytes: opts.tailBytes ?? DEFAULT_TAIL_BYTES, killGraceMs: opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
          wrap: opts.wrap ?? [],
        });
      });
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  private started(): ChildProcess {
    if (this.child?.connected) return this.child;
    const child = fork(fileURLToPath(new URL('./process-host.mjs', import.meta.url)), [], {
      execArgv: [], // no TypeScript loader, no profiler: the host stays small
      env: childEnv(),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (msg: { id: number; outcome?: ProcessOutcome; error?: string }) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.outcome) p.resolve(msg.outcome);
      else p.reject(new Error(msg.error ?? 'process host: no outcome'));
      this.hold(this.pending.size > 0);
    });
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      const err = new Error(`process host exited (code ${code}, signal ${signal}) while commands ran`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
    child.on('error', () => undefined); // a send to a dying host: its exit rejects what is pending
    this.child = child;
    return child;
  }

  /** Keeps this process alive only while commands run (an idle host never holds it open). */
  private hold(busy: boolean): void {
    const c = this.child;
    if (!c) return;
    if (busy) { c.ref(); c.channel?.ref(); } else { c.unref(); c.channel?.unref(); }
  }
}

let host: ProcessHost | undefined;
const processHost = () => (host ??= new ProcessHost());

/** The pid of this process's process host, if one runs (for diagnostics and tests). */
export function processHostPid(): number | undefined {
  return host?.pid;
}
