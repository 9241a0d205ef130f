import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { makeRepo } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { gitIn, task, taskRows, waitTicket } from './helpers.ts';

// A node's task commands run under bubblewrap by default (src/sandbox/isolation.ts): what a
// new user tried — a task committing the node's API token to its branch — fails.

t.test('a task cannot read the node\'s API token; with OMOI_SANDBOX=none it could', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, { apiToken: undefined, sandboxWritable: [] }); // generated into <data dir>/api-token
  t.equal(readFileSync(path.join(node.config.dataDir, 'api-token'), 'utf8').trim(), node.apiToken, 'the token file is there');
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const steal = `cat '${path.join(node.config.dataDir, 'api-token')}' > leak.txt`;
  await node.submit('ticket.create', {
    ticket_id: 'T-leak', title: 'leak', repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', steal, { max_retries: 0 })],
  });
  await waitTicket(node, 'T-leak', 'failed');
  const tasks = await taskRows(node, 'T-leak');
  t.match(tasks.A.reason, /api-token: No such file or directory/, 'the token is not there for the task');
  t.equal(tasks.A.commit, null, 'nothing was committed');

  // The contrast, on a cluster of its own (so the task cannot land on the sandboxed node).
  const other = await withCluster(t);
  const open = await withNode(t, other, { sandbox: 'none', apiToken: undefined });
  await open.submit('ticket.create', {
    ticket_id: 'T-open', title: 'unsandboxed', repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', `cat '${path.join(open.config.dataDir, 'api-token')}' > leak.txt`, { max_retries: 0 })],
  });
  await waitTicket(open, 'T-open', 'completed');
  const leaked = await gitIn(open, 'T-open', 'show', `${(await taskRows(open, 'T-open')).A.commit}:leak.txt`);
  t.equal(leaked.trim(), open.apiToken, 'unsandboxed, the task committed the token: what bubblewrap prevents');
});
