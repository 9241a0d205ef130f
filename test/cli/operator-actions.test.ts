import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql, task, taskRows, ticketRow, waitTicket } from '../flow/helpers.ts';
import { runOmoi } from './run-omoi.ts';

t.test('omoi task retry and omoi agents drain/undrain/list/broadcast/shutdown, against a running node', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const env = { OMOI_API_TOKEN: node.apiToken };
  const url = ['--url', node.httpUrl];
  const local = `local-${node.config.nodeId}`;
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const flag = path.join(await tempDir(t, 'cli-retry-'), 'ok');
  await node.submit('ticket.create', { ticket_id: 'T-cli-retry', title: 'cli', repository: repo.dir, tasks: [task('A', `test -f ${flag}`, { max_retries: 0 })] });
  await waitFor('T-cli-retry failed', async () => ((await ticketRow(node, 'T-cli-retry'))?.status === 'failed' ? true : undefined));

  await writeFile(flag, '');
  const retried = await runOmoi(['task', 'retry', 'T-cli-retry', 'A', '--reason', 'flag is there now', ...url], env);
  t.equal(retried.code, 0, retried.stderr);
  t.match(retried.stdout, /^retry of task A of T-cli-retry accepted \(message /);
  await waitTicket(node, 'T-cli-retry', 'completed');
  t.match((await taskRows(node, 'T-cli-retry')).A, { status: 'completed', retried_by: 'http:admin', retry_reason: 'flag is there now' });

  const drained = await runOmoi(['agents', 'drain', local, '--reason', 'maintenance', ...url], env);
  t.equal(drained.code, 0, drained.stderr);
  t.match(drained.stdout, new RegExp(`^drain of agent ${local} accepted`));
  await waitFor('draining', async () => (await sql<any>(node, 'select draining from omoi_agent where id = ?', [local]))[0]?.draining || undefined);
  const listed = await runOmoi(['agents', ...url], env);
  t.match(listed.stdout, new RegExp(`^${local}\\s+local\\s+execute\\s+healthy\\s+yes\\s+0/\\d+`, 'm'), 'the list shows the drain');
  t.equal((await runOmoi(['agents', 'undrain', local, ...url], env)).code, 0);
  await waitFor('undrained', async () => ((await sql<any>(node, 'select draining from omoi_agent where id = ?', [local]))[0]?.draining === false ? true : undefined));
  const json = JSON.parse((await runOmoi(['agents', 'list', '--json', ...url], env)).stdout);
  t.match(json.find((a: any) => a.id === local), { draining: false, status: 'healthy' });

  // A viewer may list, not drain: the node's answer is the one line shown.
  const viewer = await (await fetch(`${node.httpUrl}/api/tokens`, {
    method: 'POST', headers: { authorization: `Bearer ${node.apiToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'watcher', role: 'viewer' }),
  })).json() as { token: string };
  const refused = await runOmoi(['agents', 'drain', local, ...url], { OMOI_API_TOKEN: viewer.token });
  t.equal(refused.code, 1);
  t.match(refused.stderr, /^omoi: admin role needed.*\[forbidden\]$/m);

  // Broadcast to every agent not removed, then shut a remote agent down: it runs nothing, so it is removed at once.
  await node.submit('agent.register', { agent_id: 'agent-cli', name: 'cli', phase: 'execute', capabilities: [], version: '1.0.0', kind: 'remote', capacity: 1 });
  await waitFor('agent-cli registered', async () => (await sql(node, `select 1 from omoi_agent where id = 'agent-cli'`)).length > 0 || undefined);
  const broadcast = await runOmoi(['agents', 'broadcast', 'upgrade at 18:00', ...url], env);
  t.equal(broadcast.code, 0, broadcast.stderr);
  const [, controlId] = broadcast.stdout.match(/^broadcast (\S+) sent to 2 agents: (.*)$/m) ?? [];
  t.ok(controlId, `the broadcast's id and its agents: ${broadcast.stdout}`);
  t.match(broadcast.stdout, new RegExp(`agent-cli, ${local}`));
  await waitFor('the broadcast recorded for agent-cli', async () => (await sql<any>(node, `select controls from omoi_agent where id = 'agent-cli'`))[0]?.controls.some((c: any) => c.control_id === controlId && c.kind === 'broadcast') || undefined);
  const shut = await runOmoi(['agents', 'shutdown', 'agent-cli', '--reason', 'retired', ...url], env);
  t.equal(shut.code, 0, shut.stderr);
  t.match(shut.stdout, /^shutdown of agent agent-cli accepted \(message /);
  const gone = await waitFor('agent-cli removed', async () => (await sql<any>(node, `select status, reason, shutting_down from omoi_agent where id = 'agent-cli'`)).find((r) => r.status === 'removed'));
  t.match(gone, { reason: 'shutdown', shutting_down: true }, 'a shut-down agent running nothing is removed at once');
  const refusedBroadcast = await runOmoi(['agents', 'broadcast', 'x'.repeat(2001), ...url], env);
  t.equal(refusedBroadcast.code, 1);
  t.match(refusedBroadcast.stderr, /schema_violation/, 'a message over 2000 characters is refused');
});
