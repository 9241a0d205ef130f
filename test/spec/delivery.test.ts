import path from 'node:path';
import t from 'tap';
import { specCreate, specShow } from '../../src/cli/commands/spec.ts';
import { git, makeRepo, tempDir, waitFor, type TestContext } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql, ticketRow } from '../flow/helpers.ts';

const cluster = await withCluster(t);
const node = await withNode(t, cluster);
process.env.OMOI_API_TOKEN = 'test-token';
t.teardown(() => { delete process.env.OMOI_API_TOKEN; });

async function bareRepo(t: TestContext): Promise<string> {
  const dir = path.join(await tempDir(t, 'spec-origin'), 'origin.git');
  await git(path.dirname(dir), 'init', '--quiet', '--bare', dir);
  return dir;
}

const post = (url: string, body: unknown) => fetch(`${node.httpUrl}${url}`, {
  method: 'POST', headers: { authorization: 'Bearer test-token', 'content-type': 'application/json' }, body: JSON.stringify(body),
}).then(async (r) => ({ status: r.status, json: await r.json() as any }));

t.test('omoi spec create --push-to/--branch: the delivery is stored on the spec, passed to the work ticket and its branch pushed', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  const origin = await bareRepo(t);
  t.match(await specCreate({ url: node.httpUrl, id: 'SD1', repo: repo.dir, goal: 'Write the goal down', demoPlanner: true, pushTo: origin, branch: 'feature/goal' }), /^spec SD1 accepted/);
  const ticket = await waitFor('the work ticket delivered', async () => {
    const row = await ticketRow(node, 'spec-SD1-exec-v1');
    if (row?.delivery_status === 'failed') throw new Error(`delivery failed: ${row.delivery_error}`);
    return row?.delivery_status === 'delivered' ? row : undefined;
  }, { timeoutMs: 120_000 });
  const [spec] = await sql<any>(node, 'select * from omoi_spec where id = ?', ['SD1']);
  t.same(spec.delivery, { remote: origin, branch: 'feature/goal' }, 'stored on the spec');
  t.same(ticket.delivery, { remote: origin, branch: 'feature/goal' }, 'passed as is to the work ticket');
  t.equal(spec.status, 'completed');
  t.equal(await git(origin, 'rev-parse', 'refs/heads/feature/goal'), ticket.head, 'the origin has the branch at the work ticket\'s head');
  t.equal(ticket.head, spec.head);
  // Planning tickets are read-only runs: never delivered.
  const planning = await sql<any>(node, `select id, delivery from omoi_ticket where spec_id = 'SD1' and spec_phase <> 'EXECUTE'`);
  t.equal(planning.length, 4);
  t.ok(planning.every((x) => x.delivery === null), 'no planning ticket has a delivery');

  const shown = await specShow('SD1', { url: node.httpUrl });
  t.match(shown, new RegExp(`^delivery\\s+push to ${origin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} as feature/goal \\(its status: the work ticket's delivery_status\\)$`, 'm'), 'omoi spec show says where it goes');
  const api = await fetch(`${node.httpUrl}/api/specs/SD1`, { headers: { authorization: 'Bearer test-token' } }).then((r) => r.json() as any);
  t.same(api.spec.delivery, { remote: origin, branch: 'feature/goal' }, 'GET /api/specs/:id shows it');
});

t.test('a spec with approvals [before_delivery]: its work ticket completes, then waits for a person before the push', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  const origin = await bareRepo(t);
  t.match(await specCreate({ url: node.httpUrl, id: 'SD-gate', repo: repo.dir, goal: 'Write the goal down', demoPlanner: true, pushTo: origin, approve: ['before_delivery'] }), /^spec SD-gate accepted/);
  const waiting = await waitFor('the work ticket waiting to be delivered', async () => {
    const row = await ticketRow(node, 'spec-SD-gate-exec-v1');
    return row?.delivery_status === 'awaiting_approval' ? row : undefined;
  }, { timeoutMs: 120_000 });
  t.same(waiting.approvals, ['before_delivery'], 'the gate was passed to the work ticket');
  await t.rejects(git(origin, 'rev-parse', '--verify', `refs/heads/omoi/spec-SD-gate-exec-v1`), 'nothing pushed before the approval');
  t.equal((await post('/api/tickets/spec-SD-gate-exec-v1/approve', { gate: 'before_delivery', comment: 'ship it' })).status, 202);
  const delivered = await waitFor('delivered after the approval', async () => {
    const row = await ticketRow(node, 'spec-SD-gate-exec-v1');
    return row?.delivery_status === 'delivered' ? row : undefined;
  }, { timeoutMs: 60_000 });
  t.equal(await git(origin, 'rev-parse', `refs/heads/omoi/spec-SD-gate-exec-v1`), delivered.head, 'pushed at the work ticket\'s head');
});

t.test('a spec without delivery gives a work ticket without one', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  await specCreate({ url: node.httpUrl, id: 'SD2', repo: repo.dir, goal: 'Write the goal down', demoPlanner: true });
  await waitFor('SD2 completed', async () => (await sql<any>(node, `select status from omoi_spec where id = 'SD2'`))[0]?.status === 'completed' || undefined, { timeoutMs: 120_000 });
  const ticket = (await ticketRow(node, 'spec-SD2-exec-v1'))!;
  t.equal(ticket.delivery, null);
  t.equal(ticket.delivery_status, null);
});

t.test('bad delivery input is refused with a stable code, and creates no spec', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  const answer = await post('/api/specs', { spec_id: 'SD3', repository: repo.dir, goal: 'x', planner: 'agent', delivery: { remote: '--upload-pack=touch /tmp/x' } });
  t.match(answer, { status: 400, json: { error: { code: 'schema_violation' } } }, 'a remote starting with - is refused');
  t.match((await post('/api/specs', { spec_id: 'SD3', repository: repo.dir, goal: 'x', planner: 'agent', delivery: { remote: '/srv/x.git', force: true } })).json.error.code, 'schema_violation', 'an unknown delivery field is refused');
  t.same(await sql(node, `select id from omoi_spec where id = 'SD3'`), []);
  await t.rejects(specCreate({ url: node.httpUrl, repo: repo.dir, goal: 'x', branch: 'b' }), /--branch and --pr-command need --push-to/, 'the CLI says what is missing');
});
