import { existsSync, readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runProcess } from '../../src/sandbox/index.ts';
import { processHostPid } from '../../src/sandbox/process.ts';
import { tempDir } from '../git/fixture.ts';

/** True while `pid` is a live process (a zombie awaiting its reaper counts as dead). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Waits (without a deadline of its own: tap's test timeout bounds it) until `file` exists. */
async function waitForFile(file: string): Promise<void> {
  while (!existsSync(file) || statSync(file).size === 0) await sleep(20);
}

// A shell that starts a grandchild `sleep 1000`, records its pid, and waits for it.
const spawnsGrandchild = (pidFile: string) => `sh -c 'sleep 1000 & echo $! > ${pidFile}; wait'`;

t.test('a timeout kills the whole process tree', async (t) => {
  const dir = tempDir(t, 'omoi-proc-');
  const pidFile = path.join(dir, 'grandchild.pid');
  const outcome = await runProcess({ command: spawnsGrandchild(pidFile), cwd: dir, timeoutMs: 1500, logFile: path.join(dir, 'log') });
  const grandchild = Number(readFileSync(pidFile, 'utf8'));
  t.teardown(() => { try { process.kill(grandchild, 'SIGKILL'); } catch { /* already gone */ } });
  t.equal(outcome.timedOut, true);
  t.equal(outcome.exitCode, null);
  t.equal(outcome.aborted, false);
  t.ok(grandchild > 0);
  t.equal(isRunning(grandchild), false, 'the grandchild sleep is gone');
});

t.test('an abort signal kills the whole process tree', async (t) => {
  const dir = tempDir(t, 'omoi-proc-');
  const pidFile = path.join(dir, 'grandchild.pid');
  const controller = new AbortController();
  const running = runProcess({ command: spawnsGrandchild(pidFile), cwd: dir, timeoutMs: 600_000, signal: controller.signal, logFile: path.join(dir, 'log') });
  await waitForFile(pidFile);
  const grandchild = Number(readFileSync(pidFile, 'utf8'));
  t.teardown(() => { try { process.kill(grandchild, 'SIGKILL'); } catch { /* already gone */ } });
  t.equal(isRunning(grandchild), true, 'running before the abort');
  controller.abort();
  const outcome = await running;
  t.equal(outcome.aborted, true);
  t.equal(outcome.timedOut, false);
  t.equal(isRunning(grandchild), false, 'the grandchild sleep is gone');

  const already = await runProcess({ command: 'echo never', cwd: dir, timeoutMs: 1000, signal: controller.signal, logFile: path.join(dir, 'log2') });
  t.same([already.aborted, already.tail], [true, ''], 'an aborted signal never starts the command');
});

t.test('only allowlisted and explicitly given variables reach the command', async (t) => {
  const dir = tempDir(t, 'omoi-proc-');
  process.env.OMOI_TEST_PARENT_SECRET = 'do-not-leak';
  t.teardown(() => { delete process.env.OMOI_TEST_PARENT_SECRET; });
  const outcome = await runProcess({
    command: 'echo "secret=[$OMOI_TEST_PARENT_SECRET] given=[$GIVEN] home=[$HOME] path-set=[${PATH:+yes}]"; env | cut -d= -f1 | sort | tr "\\n" " "',
    cwd: dir, env: { GIVEN: 'passed' }, timeoutMs: 60_000, logFile: path.join(dir, 'log'),
  });
  t.equal(outcome.exitCode, 0);
  // Read the log, not the tail: under tap, its process instrumentation adds variables to every
  // spawn (one of them lists every test file), which can push the first line out of the tail.
  const printed = readFileSync(path.join(dir, 'log'), 'utf8');
  t.match(printed, 'secret=[] given=[passed]');
  t.match(printed, `home=[${process.env.HOME}] path-set=[yes]`);
  t.notMatch(printed, 'OMOI_TEST_PARENT_SECRET');
});

t.test('the tail holds the last bytes; the log file holds everything', async (t) => {
  const dir = tempDir(t, 'omoi-proc-');
  const logFile = path.join(dir, 'logs', 'run.log');
  const outcome = await runProcess({
    command: 'i=0; while [ $i -lt 2000 ]; do echo "out line $i"; i=$((i+1)); done; echo END; exit 7',
    cwd: dir, timeoutMs: 60_000, logFile, tailBytes: 64,
  });
  t.equal(outcome.exitCode, 7);
  t.ok(Buffer.byteLength(outcome.tail) <= 64, 'tail is at most tailBytes');
  t.match(outcome.tail, /out line 1999\nEND\n$/, 'the end is kept');
  const log = readFileSync(logFile, 'utf8');
  t.match(log, /^out line 0\n/, 'the log starts at the beginning');
  t.match(log, 'out line 1999\n');
  t.equal(log.split('\n').length, 2002);

  // stdout and stderr are separate pipes: their relative order is not defined, only that both arrive.
  const small = await runProcess({ command: 'printf hello; printf oops >&2', cwd: dir, timeoutMs: 60_000, logFile });
  t.ok(['hellooops', 'oopshello'].includes(small.tail), 'default tail size keeps short output whole, stderr included');
  t.equal(readFileSync(logFile, 'utf8').length, 9, 'a new run truncates the log');
});

t.test('commands die with the node that started them, even on kill -9', async (t) => {
  const dir = tempDir(t, 'omoi-proc-');
  const pidFile = path.join(dir, 'grandchild.pid');
  const fixture = fileURLToPath(new URL('./fixtures/run-grandchild.ts', import.meta.url));
  const owner = spawn(process.execPath, ['--import', 'tsx', fixture, dir], { stdio: 'ignore' });
  t.teardown(() => { if (owner.exitCode === null) owner.kill('SIGKILL'); });
  await waitForFile(pidFile);
  const grandchild = Number(readFileSync(pidFile, 'utf8'));
  t.teardown(() => { try { process.kill(grandchild, 'SIGKILL'); } catch { /* already gone */ } });
  t.equal(isRunning(grandchild), true, 'the command runs while its node lives');
  owner.kill('SIGKILL');
  while (isRunning(grandchild)) await sleep(20); // tap's timeout bounds this wait
  t.pass('the grandchild sleep is gone once the node is killed');
});

t.test('a process host that dies fails its runs clearly, and the next run starts a new one', async (t) => {
  const dir = tempDir(t, 'omoi-proc-');
  const pidFile = path.join(dir, 'grandchild.pid');
  const running = runProcess({ command: spawnsGrandchild(pidFile), cwd: dir, timeoutMs: 600_000, logFile: path.join(dir, 'log') });
  await waitForFile(pidFile);
  const grandchild = Number(readFileSync(pidFile, 'utf8'));
  t.teardown(() => { try { process.kill(grandchild, 'SIGKILL'); } catch { /* already gone */ } });
  const first = processHostPid();
  t.ok(first, 'a host runs');
  process.kill(first!, 'SIGKILL');
  await t.rejects(running, /process host exited/);
  const next = await runProcess({ command: 'echo again', cwd: dir, timeoutMs: 60_000, logFile: path.join(dir, 'log2') });
  t.same([next.exitCode, next.tail], [0, 'again\n']);
  t.not(processHostPid(), first, 'a new host');
});

t.test('a missing working directory is named in the error', async (t) => {
  const dir = tempDir(t, 'omoi-proc-');
  await t.rejects(
    runProcess({ command: 'true', cwd: path.join(dir, 'gone'), timeoutMs: 5_000, logFile: path.join(dir, 'log') }),
    { message: `cannot start the command: its working directory ${path.join(dir, 'gone')} does not exist` },
  );
  const next = await runProcess({ command: 'echo still-here', cwd: dir, timeoutMs: 5_000, logFile: path.join(dir, 'log') });
  t.equal(next.tail, 'still-here\n', 'the host keeps working');
});
