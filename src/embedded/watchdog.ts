/**
 * The orphan watchdog: the guarantee that a server we spawn never outlives us, even when our
 * process is killed with SIGKILL (no exit handler runs then).
 *
 * Mechanism: next to each server we spawn a tiny detached `sh` loop that polls our pid every
 * half second. While we live it does nothing (and exits by itself once the server is gone).
 * When we are gone it sends the server its shutdown signal, escalates to SIGKILL after a
 * grace period, and optionally deletes a disposable data directory. It runs in its own session
 * so that the signal or hangup that killed us does not kill it too. Liveness checks read
 * `/proc/<pid>/stat` so that an unreaped zombie counts as gone.
 */
import { spawn } from 'node:child_process';

const SCRIPT = String.raw`
owner=$1; server=$2; sig=$3; grace_ticks=$(( $4 * 10 )); remove_dir=$5
alive() {
  [ -r "/proc/$1/stat" ] || return 1
  state=$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
while alive "$owner"; do
  alive "$server" || exit 0
  sleep 0.5
done
kill -s "$sig" "$server" 2>/dev/null
ticks=0
while alive "$server"; do
  ticks=$((ticks + 1))
  if [ "$ticks" -ge "$grace_ticks" ]; then kill -s KILL "$server" 2>/dev/null; fi
  sleep 0.1
done
if [ -n "$remove_dir" ]; then rm -rf -- "$remove_dir"; fi
`;

export interface Watchdog {
  pid: number;
  /** Ends the watchdog (on an orderly stop, once the server is down). Idempotent. */
  dismiss(): void;
}

/**
 * Starts a watchdog for `serverPid` owned by this process. `signal` is the server's orderly
 * shutdown signal (without the SIG prefix, e.g. `INT`); after `graceSeconds` it is killed.
 * `removeDirOnOrphan` is deleted after the server died because we died (never otherwise).
 */
export function startWatchdog(opts: {
  serverPid: number;
  signal: 'INT' | 'TERM' | 'QUIT';
  graceSeconds: number;
  removeDirOnOrphan?: string;
}): Watchdog {
  const child = spawn(
    'sh',
    ['-c', SCRIPT, 'omoi-watchdog', String(process.pid), String(opts.serverPid), opts.signal,
      String(Math.max(1, Math.ceil(opts.graceSeconds))), opts.removeDirOnOrphan ?? ''],
    { detached: true, stdio: 'ignore' },
  );
  child.on('error', () => undefined); // sh missing: nothing better to do than run unguarded
  child.unref();
  let dismissed = false;
  return {
    pid: child.pid ?? 0,
    dismiss() {
      if (dismissed) return;
      dismissed = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}
