import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TerminalError } from '../errors.ts';

// What a task's command can see of the machine. Under bubblewrap (the sandbox of Codex CLI and
// Claude Code on Linux) the command runs in new mount and PID namespaces:
//  - the whole file system read-only, a fresh /dev, /proc and a private /tmp;
//  - hidden (an empty tmpfs over them): the node's data directory (API token, database and
//    NATS stores, other tickets' sandboxes, logs) and the home directory (an empty, writable
//    one in its place: `~/.ssh`, cloud credentials and git config are not there);
//  - writable: the sandbox, the attempt's log directory (task, prompt and result files), and
//    the directories the operator lists in `OMOI_SANDBOX_WRITABLE`;
//  - the clone's objects, which the sandbox borrows, visible read-only;
//  - every process dies with the command: the PID namespace ends when its first process
//    does, so a process that left the process group (`setsid`) dies too.
// The network is the host's (NATS and PostgreSQL refuse what they do not authenticate), unless
// the ticket says `network: false`: then a network namespace of its own, with loopback only.

/** How task commands are isolated: `bwrap` (bubblewrap), `none` (the operator's explicit
 * choice), or `unavailable` (bubblewrap cannot run here and nobody chose `none`: commands are
 * refused with `reason`). */
export type IsolationMode = 'bwrap' | 'none' | 'unavailable';

export interface Isolation {
  mode: IsolationMode;
  /** Hidden from commands: the node's data directory and the home directory. */
  hidden: string[];
  /**
   * Readable by every command even where a hidden directory or the private /tmp covers it:
   * Omoi's own installation, whose scripts a configured command may run (the demo's resolver),
   * also when it was cloned under /tmp or the home directory.
   */
  readable: string[];
  /** Writable for every command besides its own sandbox (`OMOI_SANDBOX_WRITABLE`). */
  writable: string[];
  /** Why bubblewrap is unavailable (`mode: 'unavailable'`). */
  reason?: string;
}

/** What one command may see: its writable directories, directories it may read under hidden ones, where it starts. */
export interface CommandView {
  writable: string[]; readOnly?: string[]; cwd: string;
  /** false: no network (loopback only). Only bubblewrap can take it away. */
  network?: boolean;
}

/**
 * Decides the isolation at node start: `requested` is `OMOI_SANDBOX` (`bwrap`, `none`, or
 * unset = bubblewrap if it runs here). Bubblewrap is tried once with a trivial command; asked
 * for explicitly and not working, start-up fails with `TerminalError('sandbox_unavailable')`.
 */
export async function decideIsolation(requested: string | undefined, hidden: string[], writable: string[] = []): Promise<Isolation> {
  // A HOME of `/` is not hidden, nor a directory that does not exist (bwrap could not mount on it).
  const base = { hidden: unique(hidden).filter((d) => d !== path.parse(d).root && existsSync(d)), writable: unique(writable), readable: [OMOI_ROOT] };
  const missing = base.writable.filter((d) => !existsSync(d));
  if (missing.length) throw new TerminalError('invalid_config', `OMOI_SANDBOX_WRITABLE: ${missing.join(', ')} does not exist`);
  if (requested === 'none') return { mode: 'none', ...base };
  if (requested !== undefined && requested !== 'bwrap') {
    throw new TerminalError('invalid_config', `OMOI_SANDBOX must be "bwrap" or "none", not ${JSON.stringify(requested)}`);
  }
  const problem = await probeBubblewrap();
  if (!problem) return { mode: 'bwrap', ...base };
  const reason = `bubblewrap cannot run here (${problem}); install it (apt-get install bubblewrap) or set OMOI_SANDBOX=none to run task commands unsandboxed`;
  if (requested === 'bwrap') throw new TerminalError('sandbox_unavailable', reason);
  return { mode: 'unavailable', ...base, reason };
}

/**
 * The argv prefix that runs a command under `isolation` with `view` (`[]`: run it as it is).
 * Throws `TerminalError('sandbox_unavailable')` when commands may not run here.
 */
export function isolationPrefix(isolation: Isolation, view: CommandView): string[] {
  if (isolation.mode === 'none' && view.network === false) {
    throw new TerminalError('sandbox_unavailable', 'the ticket asks for no network (network: false), which only bubblewrap can enforce, and this node runs commands unsandboxed (OMOI_SANDBOX=none)');
  }
  if (isolation.mode === 'none') return [];
  if (isolation.mode === 'unavailable') throw new TerminalError('sandbox_unavailable', isolation.reason ?? 'task commands may not run unsandboxed');
  const args = ['bwrap', '--die-with-parent', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    ...(view.network === false ? ['--unshare-net'] : []),
    '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp'];
  // Outermost first, so each mount lands on what is above it: a sandbox bound inside the hidden
  // data dir shows through its tmpfs, and a writable /tmp does not uncover a data dir inside it.
  const mounts = [
    ...isolation.hidden.map((dir) => ({ dir, order: 0, args: ['--tmpfs', dir] })),
    ...unique([...isolation.readable, ...(view.readOnly ?? [])]).map((dir) => ({ dir, order: 1, args: ['--ro-bind', dir, dir] })),
    ...unique([...isolation.writable, ...view.writable]).map((dir) => ({ dir, order: 2, args: ['--bind', dir, dir] })),
  ].sort((a, b) => byDepth(a.dir, b.dir) || a.order - b.order);
  for (const m of mounts) args.push(...m.args);
  return [...args, '--chdir', path.resolve(view.cwd), '--'];
}

/** `undefined` if `bwrap` runs a trivial command here, else what went wrong. */
function probeBubblewrap(): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('bwrap', ['--die-with-parent', '--unshare-pid', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--', 'true'],
      { timeout: 10_000 }, (err, _out, stderr) => {
        if (!err) return resolve(undefined);
        const code = (err as NodeJS.ErrnoException).code;
        resolve(code === 'ENOENT' ? 'bwrap is not installed' : String(stderr).trim() || err.message);
      });
  });
}

/** Where Omoi is installed (this file is `<root>/src/sandbox/isolation.ts`). */
const OMOI_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const unique = (dirs: string[]) => [...new Set(dirs.filter(Boolean).map((d) => path.resolve(d)))];
const byDepth = (a: string, b: string) => a.split(path.sep).length - b.split(path.sep).length || a.localeCompare(b);
