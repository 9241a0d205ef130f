import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { makeRepo, tempDir } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { gitIn, task, taskRows, waitTicket } from './helpers.ts';

t.test('start-up sweep removes sandboxes a crash left; agent tasks run the configured agent command', async (t) => {
  const cluster = await withCluster(t);
  const dataDir = await tempDir(t, 'omoi-sweep-');
  const stale = path.join(dataDir, 'sandboxes', 'task-T0-A-1');
  await fs.mkdir(stale, { recursive: true });
  await fs.writeFile(path.join(stale, 'half-written.txt'), 'left by a crash');

  // The "coding agent" copies its prompt into the repository, as an agent would write code.
  const node = await withNode(t, cluster, { dataDir, agentCommand: 'cp {prompt_file} PROMPT.md' });
  await t.rejects(fs.access(stale), 'the stale sandbox is gone after start-up');

  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  await node.submit('ticket.create', {
    ticket_id: 'T-agent', title: 'agent task', repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', 'Write a haiku about merges.', { kind: 'agent' })],
  });
  await waitTicket(node, 'T-agent', 'completed');
  const tasks = await taskRows(node, 'T-agent');
  const written = await gitIn(node, 'T-agent', 'show', `${tasks.A.commit}:PROMPT.md`);
  t.equal(written.trim(), 'Write a haiku about merges.', 'the agent command got the prompt file and its change was committed');
});

t.test('a command that switches branches in its sandbox still leaves its commit on the task branch', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  await node.submit('ticket.create', {
    ticket_id: 'T-switch', title: 'branch switch', repository: repo.dir,
    tasks: [
      task('A', 'git checkout -q -b elsewhere && echo x > x.txt', { owns: ['x.txt'] }),
      task('B', 'test -f x.txt && echo y > y.txt', { depends_on: ['A'], owns: ['y.txt'] }),
    ],
  });
  const ticket = await waitTicket(node, 'T-switch', 'completed');
  const tasks = await taskRows(node, 'T-switch');
  t.equal(await gitIn(node, 'T-switch', 'rev-parse', 'omoi-task/T-switch/A'), tasks.A.commit, 'the task branch points at the commit the task made');
  t.equal((await gitIn(node, 'T-switch', 'show', `${tasks.A.commit}:x.txt`)).trim(), 'x');
  t.equal((await gitIn(node, 'T-switch', 'show', `${ticket.head}:y.txt`)).trim(), 'y', 'B ran on A\'s commit');
});

t.test('a retried task that makes a branch again succeeds, and no branch a task made reaches the clone', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const marks = await tempDir(t, 'omoi-marks-');
  const mark = path.join(marks, 'first-attempt-ran');
  // The first attempt makes its branch and fails; the retry makes the same branch again.
  const run = `git checkout -q -b elsewhere && git tag mine && echo x > x.txt && if [ ! -e '${mark}' ]; then touch '${mark}'; exit 1; fi`;
  await node.submit('ticket.create', {
    ticket_id: 'T-retry-branch', title: 'retry', repository: repo.dir,
    tasks: [task('A', run, { owns: ['x.txt'], max_retries: 1 })],
  });
  await waitTicket(node, 'T-retry-branch', 'completed');
  const tasks = await taskRows(node, 'T-retry-branch');
  t.equal(tasks.A.attempt, 2, 'the second attempt completed the task');
  t.equal((await gitIn(node, 'T-retry-branch', 'show', `${tasks.A.commit}:x.txt`)).trim(), 'x');
  const refs = (await gitIn(node, 'T-retry-branch', 'for-each-ref', '--format=%(refname)', 'refs/heads', 'refs/tags')).split('\n');
  t.notOk(refs.some((r) => /elsewhere|mine/.test(r)), 'the branch and tag the task made stayed in its sandbox');
  t.ok(refs.includes('refs/heads/omoi-task/T-retry-branch/A'), 'the task branch is in the clone');
});
