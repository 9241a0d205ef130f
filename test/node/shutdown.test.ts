import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('graceful stop kills running task processes and leaves no child behind; stopping twice is safe', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const marks = await tempDir(t, 'omoi-shutdown-');
  const pidFile = path.join(marks, 'pid');
  await node.submit('ticket.create', {
    ticket_id: 'T-long', title: 'long task', repository: repo.dir,
    tasks: [{ id: 'A', run: `sleep 1000 & echo $! > ${pidFile}; wait` }],
  });
  const pid = await waitFor('the task started its grandchild', async () => Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).trim()) || undefined);
  t.ok(alive(pid), 'the task process runs');
  const ready = await node.readiness();
  t.ok(ready.ready, 'ready while running');

  await node.stop();
  await waitFor('the task process tree was killed', () => !alive(pid) || isZombie(pid), { timeoutMs: 15_000 });
  await node.stop();
  t.pass('a second stop returns');
});

/** PID 1 here does not reap orphans: a killed grandchild may linger as a zombie. */
function isZombie(pid: number): Promise<boolean> {
  return fs.readFile(`/proc/${pid}/stat`, 'utf8').then((s) => s.split(') ')[1]?.startsWith('Z') ?? true, () => true);
}
