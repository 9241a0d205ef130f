import t from 'tap';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql, task, waitTicket } from './helpers.ts';

// A node that another node took for gone (a long stall) finds its own local agent `failed`;
// since the node lives, it registers the agent again and work flows to it once more.
const cluster = await withCluster(t);
const node = await withNode(t, cluster);
const agent = `local-${node.config.nodeId}`;

t.test('a live node whose local agent was failed registers it again, and it takes work', async (t) => {
  await waitFor('the local agent registered', async () => (await sql<any>(node, 'select status from omoi_agent where id = ?', [agent]))[0]?.status === 'healthy');
  // What another node's wake writes when it judges this node gone.
  await sql(node, `update omoi_agent set status = 'failed', reason = 'its node is gone' where id = ?`, [agent]);
  const row = await waitFor('the agent healthy again', async () => {
    const [r] = await sql<any>(node, 'select status, reason from omoi_agent where id = ?', [agent]);
    return r?.status === 'healthy' ? r : undefined;
  }, { timeoutMs: 30_000 });
  t.equal(row.reason, null, 'registered anew');
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', { ticket_id: 'R1', title: 'revived', repository: repo.dir, base_branch: 'main', tasks: [task('A', 'echo a > a.txt', { owns: ['a.txt'] })] });
  const ticket = await waitTicket(node, 'R1', 'completed', 60_000);
  t.ok(ticket.head, 'its task ran on the revived agent');
});
