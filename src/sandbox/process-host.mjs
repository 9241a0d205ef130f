// The process host: a small Node process that starts task commands for the node.
//
// Why a separate process: `fork()` copies the page tables of the process that spawns, so a
// spawn from the node (hundreds of MB resident: nodegit, PostgreSQL and NATS clients, actor
// state) costs about 5 ms of its event loop; from this process (about 50 MB, plain
// JavaScript, nothing loaded) about 1 ms, on another core. The node talks to it over the IPC
// channel (`process-host-client.ts`); it never sees the output, which goes straight to the
// log file here.
//
// Messages in: {op: 'run', id, command, cwd, env, timeoutMs, logFile, appendLog, tailBytes,
// killGraceMs, wrap} and {op: 'abort', id}; `wrap` is an argv prefix (bubblewrap) for the shell. Out: {id, outcome} or {id, error}. When the node goes
// away (its end of the channel closes: exit, crash or kill -9), every process group still
// running is killed and this process exits, so no command outlives its node.
//
// Plain JavaScript on purpose: a TypeScript loader would double this process's size.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** Process groups (leader pids) of commands still running, killed if the node goes away. */
const groups = new Set();
/** Abort functions of runs in progress, by request id. */
const aborts = new Map();

function signalGroup(pid, sig) {
  if (pid === undefined) return;
  try {
    process.kill(-pid, sig);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Keeps only the last `limit` bytes written to it. */
function tailBuffer(limit) {
  let chunks = [];
  let size = 0;
  return {
    push(chunk) {
      if (limit <= 0) return;
      chunks.push(chunk);
      size += chunk.length;
      while (size - chunks[0].length >= limit) size -= chunks.shift().length; // the rest still covers the limit
    },
    toString() {
      const all = Buffer.concat(chunks);
      return all.subarray(Math.max(0, all.length - limit)).toString('utf8');
    },
  };
}

async function run(id, opts) {
  const started = performance.now();
  const tail = tailBuffer(opts.tailBytes);
  const grace = opts.killGraceMs;
  await mkdir(path.dirname(opts.logFile), { recursive: true });
  const log = createWriteStream(opts.logFile, { flags: opts.appendLog ? 'a' : 'w' });
  await new Promise((resolve, reject) => { log.once('open', () => resolve()); log.once('error', reject); });
  const finishLog = () => new Promise((resolve) => log.end(() => resolve()));

  let child;
  try {
    const argv = [...(opts.wrap ?? []), '/bin/sh', '-c', opts.command];
    child = spawn(argv[0], argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env, // exactly what the node allowed: nothing of this process's own environment
      detached: true, // own process group, so the whole tree can be signalled at once
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    await finishLog();
    throw err;
  }
  const pid = child.pid;
  if (pid !== undefined) groups.add(pid);

  let timedOut = false;
  let aborted = false;
  let exited = false; // after this, a timeout or abort no longer describes how the command ended
  let killTimer;
  const stopGroup = () => {
    signalGroup(pid, 'SIGTERM');
    killTimer ??= setTimeout(() => signalGroup(pid, 'SIGKILL'), grace);
  };

  const onData = (chunk) => { tail.push(chunk); log.write(chunk); };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  const timeout = setTimeout(() => { timedOut = !exited; stopGroup(); }, opts.timeoutMs);
  aborts.set(id, () => { aborted = !exited; stopGroup(); });

  try {
    const { code, signal } = await new Promise((resolve, reject) => {
      let exit;
      let closeGuard;
      child.once('error', reject); // the shell could not be started
      child.once('exit', (code, signal) => {
        exit = { code, signal };
        exited = true;
        // The command is done: whatever it left running in its group is stopped too. Then
        // wait for the pipes to drain; a process that escaped the group (setsid) and keeps
        // them open must not hold us forever.
        stopGroup();
        closeGuard = setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          resolve(exit);
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
    signalGroup(pid, 'SIGKILL'); // stragglers that closed their output but ignored SIGTERM
    groups.delete(pid);
    aborts.delete(id);
    await finishLog();
  }
}

/** A failure to start, in words that name its cause (spawn blames /bin/sh for a missing cwd). */
async function explain(err, msg) {
  if (err?.code === 'ENOENT' && err?.syscall?.startsWith('spawn')) {
    const cwdExists = await stat(msg.cwd).then((s) => s.isDirectory(), () => false);
    if (!cwdExists) return `cannot start the command: its working directory ${msg.cwd} does not exist`;
  }
  return String(err?.message ?? err);
}

process.on('message', (msg) => {
  if (msg?.op === 'abort') {
    aborts.get(msg.id)?.();
    return;
  }
  if (msg?.op !== 'run') return;
  const reply = (body) => { if (process.connected) process.send({ id: msg.id, ...body }); };
  run(msg.id, msg).then((outcome) => reply({ outcome }), async (err) => reply({ error: await explain(err, msg) }));
});

// The node is gone: nothing it started may keep running.
process.on('disconnect', () => {
  for (const pid of groups) signalGroup(pid, 'SIGKILL');
  process.exit(0);
});
