import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';

// A sleep of a duration no other process has: its command line is the tag `ps` finds (the task
// runs in its own PID namespace, so a pid it reports would not be the host's). A killed process
// that lingers as a zombie (PID 1 here does not reap orphans) shows as `[sleep] <defunct>`.
const alive = (tag: string) => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').some((l) => l.trim() === tag);

t.test('graceful stop kills running task processes and leaves no child behind; stopping twice is safe', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const marks = await tempDir(t, 'omoi-shutdown-');
  const started = path.join(marks, 'started');
  const tag = `sleep ${1000 + (process.pid % 1000)}.${Date.now() % 1000}`;
  await node.submit('ticket.create', {
    ticket_id: 'T-long', title: 'long task', repository: repo.dir,
    tasks: [{ id: 'A', run: `${tag} & touch ${started}; wait` }],
  });
  await waitFor('the task started its grandchild', async () => (await fs.access(started).then(() => true, () => false)) || undefined);
  await waitFor('the grandchild runs', () => alive(tag) || undefined);
  t.ok(alive(tag), 'the task process runs');
  const ready = await node.readiness();
  t.ok(ready.ready, 'ready while running');

  await node.stop();
  await waitFor('the task process tree was killed', () => !alive(tag) || undefined, { timeoutMs: 15_000 });
  await node.stop();
  t.pass('a second stop returns');
});
