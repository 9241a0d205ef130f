import path from 'node:path';
import t from 'tap';
import { git, makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql, task, ticketRow, waitTicket } from '../flow/helpers.ts';
import { runOmoi } from './run-omoi.ts';

t.test('omoi approve, reject, deliver and status, against a running node', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, { pushRetryBaseMs: 100, pushMaxAttempts: 2, pushTimeoutMs: 5_000 });
  const env = { OMOI_API_TOKEN: node.apiToken };
  const url = ['--url', node.httpUrl];
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const parent = await tempDir(t, 'cli-remote-');
  const origin = path.join(parent, 'origin.git');
  await node.submit('ticket.create', {
    ticket_id: 'T-cli-gates', title: 'cli gates', repository: repo.dir, ownership: 'lenient', approvals: ['before_execute', 'before_delivery'],
    tasks: [task('A', 'echo a > a.txt')], delivery: { remote: origin },
  });
  await waitFor('awaiting approval', async () => ((await ticketRow(node, 'T-cli-gates'))?.status === 'awaiting_approval' ? true : undefined));
  let status = await runOmoi(['status', ...url], env);
  t.match(status.stdout, /^delivery +awaiting approval to run 1 \(T-cli-gates\)$/m, 'omoi status names the ticket waiting to run');

  const noComment = await runOmoi(['reject', 'T-cli-gates', ...url], env);
  t.not(noComment.code, 0, 'reject needs a comment');
  t.match(noComment.stderr, /--comment/);

  const approved = await runOmoi(['approve', 'T-cli-gates', '--comment', 'go ahead', ...url], env);
  t.equal(approved.code, 0, approved.stderr);
  t.match(approved.stdout, /^approval of T-cli-gates at the gate it waits at accepted \(message /);
  await waitTicket(node, 'T-cli-gates', 'completed');
  await waitFor('delivery awaiting approval', async () => ((await ticketRow(node, 'T-cli-gates'))?.delivery_status === 'awaiting_approval' ? true : undefined));
  status = await runOmoi(['status', ...url], env);
  t.match(status.stdout, /^delivery +awaiting_approval 1 \(T-cli-gates\)$/m, 'omoi status shows the delivery waiting');

  // Approved, but the remote does not exist yet: the push fails after its attempts.
  t.equal((await runOmoi(['approve', 'T-cli-gates', '--gate', 'before_delivery', ...url], env)).code, 0);
  await waitFor('delivery failed', async () => ((await ticketRow(node, 'T-cli-gates'))?.delivery_status === 'failed' ? true : undefined));
  status = await runOmoi(['status', ...url], env);
  t.match(status.stdout, /^delivery +failed 1 \(T-cli-gates\)$/m);

  await git(parent, 'init', '--quiet', '--bare', origin);
  const again = await runOmoi(['deliver', 'T-cli-gates', '--json', ...url], env);
  t.equal(again.code, 0, again.stderr);
  t.match(JSON.parse(again.stdout), { ticket_id: 'T-cli-gates', message_id: String });
  const row = await waitFor('delivered', async () => {
    const r = await ticketRow(node, 'T-cli-gates');
    return r?.delivery_status === 'delivered' ? r : undefined;
  });
  t.equal(await git(origin, 'rev-parse', 'refs/heads/omoi/T-cli-gates'), row.head, 'the branch is on the remote');
  t.match(await sql<any>(node, `select gate, decision, comment, principal from omoi_approval where entity_id = 'T-cli-gates' order by at`), [
    { gate: 'before_execute', decision: 'approved', comment: 'go ahead', principal: 'admin' },
    { gate: 'before_delivery', decision: 'approved', comment: null, principal: 'admin' },
  ]);
  status = await runOmoi(['status', ...url], env);
  t.match(status.stdout, /^delivery +delivered 1$/m);
});
