import t from 'tap';
import { makeRepo } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { task, taskRows, waitTicket } from './helpers.ts';

// Through a real node: the local executor takes its sandboxes from the pool, so a chain of
// tasks runs in one reused worktree, and what a task left that is not committed (ignored
// files, empty directories, worktree git config) is gone for the next one.

const RECORD = `printf '{"dir":"%s"}' "$PWD" > "$OMOI_RESULT_FILE"`;

t.test('tasks of a chain reuse one pooled sandbox and see nothing the previous task left', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, { localAgentCapacity: 1 });
  const repo = await makeRepo(t, { 'README.md': 'hello\n', '.gitignore': '*.log\n' });
  const leave = `echo junk > junk.log && mkdir -p empty/dir && git config --file "$(git rev-parse --git-dir)/config.worktree" omoi.left yes && ${RECORD}`;
  const check = `test ! -e junk.log && test ! -e empty && test ! -e "$(git rev-parse --git-dir)/config.worktree" && test "$(cat README.md)" = hello`;
  await node.submit('ticket.create', {
    ticket_id: 'T-pool', title: 'pooled sandboxes', repository: repo.dir,
    tasks: [
      task('A', leave),
      task('B', `${check} && ${leave}`, { depends_on: ['A'] }),
      task('C', `${check} && ${RECORD}`, { depends_on: ['B'] }),
    ],
  });
  await waitTicket(node, 'T-pool', 'completed');
  const tasks = await taskRows(node, 'T-pool');
  const dirs = ['A', 'B', 'C'].map((id) => (tasks[id]!.result as { dir: string }).dir);
  t.match(dirs[0], /\/sandboxes\/pool\+\d+$/, 'a pooled sandbox');
  t.same(new Set(dirs).size, 1, 'B and C ran in the worktree A ran in, reset each time');
});

t.test('many attempts at once: each has its own abort signal (no listener pile-up on a shared one)', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.teardown(() => { process.off('warning', onWarning); });
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, { localAgentCapacity: 24 });
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const ids = Array.from({ length: 20 }, (_, i) => `P${i}`);
  await node.submit('ticket.create', {
    ticket_id: 'T-wide', title: 'twenty at once', repository: repo.dir,
    tasks: ids.map((id) => task(id, 'sleep 0.5')),
  });
  await waitTicket(node, 'T-wide', 'completed');
  t.same(warnings.filter((w) => /MaxListenersExceeded/.test(w)), [], 'no MaxListenersExceededWarning');
});
