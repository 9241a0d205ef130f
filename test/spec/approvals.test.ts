// Spec approvals (issue 11, items 2 and 5): a passed phase listed in `approvals` waits for a
// person; approve goes on, reject plans the phase again with the comment as a finding. And the
// TASKS artifact's acceptance ids and checks reach the work ticket. Real node, NATS, PostgreSQL, git.
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { specCreate, specDecide, specShow } from '../../src/cli/commands/spec.ts';
import { shellQuote } from '../../src/demo/demo-ticket.ts';
import { demoPlannerCommand, SPEC_PLANNER_SCRIPT } from '../../src/demo/spec-planner.ts';
import type { OmoiNode } from '../../src/bootstrap.ts';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { events, sql, taskRows } from '../flow/helpers.ts';

const cluster = await withCluster(t);
const node = await withNode(t, cluster);

async function specRow(id: string): Promise<Record<string, any> | undefined> {
  return (await sql(node, 'select * from omoi_spec where id = ?', [id]))[0];
}

/** Waits for the spec to reach `status` (and `phase`, when given); another end state fails the wait. */
async function waitSpec(n: OmoiNode, id: string, status: string, phase?: string): Promise<Record<string, any>> {
  return waitFor(`spec ${id} ${status}`, async () => {
    const row = (await sql(n, 'select * from omoi_spec where id = ?', [id]))[0] as Record<string, any> | undefined;
    if (row && row.status !== status && ['completed', 'failed', 'blocked'].includes(row.status)) {
      throw new Error(`spec ${id} is ${row.status} (${row.reason}) in ${row.phase}`);
    }
    return row?.status === status && (!phase || row.phase === phase) ? row : undefined;
  }, { timeoutMs: 120_000 });
}

const decisions = (id: string) => sql<any>(node, `select entity_kind, gate, decision, comment, principal from omoi_approval where entity_kind = 'spec' and entity_id = ? order by at`, [id]);
const artifacts = (id: string) => sql<Record<string, any>>(node, 'select phase, version, gate from omoi_spec_artifact where spec_id = ? order by created_at, phase, version', [id]);
const refusal = (messageId: string) => waitFor('the refusal', async () => (await sql<any>(node, 'select code, reason from omoi_dead_letter where message_id = ?', [messageId]))[0]);

function create(id: string, repository: string, more: Record<string, unknown> = {}) {
  return node.submit('spec.create', { spec_id: id, repository, base_branch: 'main', goal: 'Write the goal down', planner: 'command', planner_command: demoPlannerCommand(), ...more });
}

/** The command planner's context of a planning ticket's task (single-quoted for sh in its command). */
async function contextOf(ticket: string): Promise<any> {
  const plan = (await taskRows(node, ticket)).plan!;
  return JSON.parse(/OMOI_SPEC_CONTEXT='(.*)'; /s.exec(plan.spec.run)![1]!.replaceAll(`'\\''`, `'`));
}

/** A planner whose TASKS artifact is `tasks` (test/spec/fixtures/tasks-planner.mjs); the demo planner plans the rest. */
const tasksPlanner = (tasks: unknown) => `OMOI_TEST_TASKS=${shellQuote(JSON.stringify(tasks))} ${shellQuote(process.execPath)} ${shellQuote(fileURLToPath(new URL('./fixtures/tasks-planner.mjs', import.meta.url)))} ${shellQuote(SPEC_PLANNER_SCRIPT)}`;

t.test('a phase in approvals waits; approve goes on to the next phase; a decision where none waits is refused', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  const early = await node.submit('spec.approve', { spec_id: 'SA-none' });
  t.equal((await refusal(early.id)).code, 'not_found', 'no such spec');
  await create('SA1', repo.dir, { approvals: ['DESIGN'] });
  const waiting = await waitSpec(node, 'SA1', 'awaiting_approval');
  t.equal(waiting.phase, 'DESIGN');
  t.equal(waiting.current_ticket_id, null);
  t.same((await artifacts('SA1')).map((a) => a.phase), ['EXPLORE', 'REQUIREMENTS', 'DESIGN'], 'TASKS did not start');
  const wrong = await node.submit('spec.approve', { spec_id: 'SA1', phase: 'TASKS' });
  t.match(await refusal(wrong.id), { code: 'gate_not_awaiting', reason: /not waiting for approval of TASKS \(status awaiting_approval, phase DESIGN\)/ });
  await node.submit('spec.approve', { spec_id: 'SA1', comment: 'good design' }, { by: 'alice' });
  const done = await waitSpec(node, 'SA1', 'completed');
  t.equal(done.ticket_id, 'spec-SA1-exec-v1');
  t.match(await decisions('SA1'), [{ entity_kind: 'spec', gate: 'DESIGN', decision: 'approved', comment: 'good design', principal: 'alice' }]);
  const approved = (await sql<any>(node, `select payload from omoi_event where type = 'spec.approved' and payload->>'spec_id' = 'SA1'`)).map((e) => e.payload);
  t.same(approved, [{ spec_id: 'SA1', phase: 'DESIGN', by: 'alice', comment: 'good design' }]);
  const late = await node.submit('spec.approve', { spec_id: 'SA1' });
  t.match(await refusal(late.id), { code: 'gate_not_awaiting', reason: /status completed/ }, 'a completed spec waits for nothing');
});

t.test('an approval rejected and re-planned: the next TASKS run is told the comment, then approved', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  await create('SA2', repo.dir, { approvals: ['TASKS'] });
  await waitSpec(node, 'SA2', 'awaiting_approval', 'TASKS');
  t.notOk((await sql(node, `select 1 from omoi_ticket where spec_id = 'SA2' and spec_phase = 'EXECUTE'`)).length, 'no work before the plan is approved');
  await node.submit('spec.reject', { spec_id: 'SA2', phase: 'TASKS', comment: 'split task B in two' }, { by: 'bob' });
  await waitFor('a second TASKS run', async () => ((await artifacts('SA2')).filter((a) => a.phase === 'TASKS').length === 2 ? true : undefined), { timeoutMs: 60_000 });
  const again = await waitSpec(node, 'SA2', 'awaiting_approval', 'TASKS');
  t.equal(again.runs.TASKS, 2);
  const context = await contextOf('spec-SA2-tasks-v2');
  t.same(context.findings, [{ code: 'rejected', message: 'rejected by bob: split task B in two' }], 'the comment is among the findings of the next run');
  t.equal(context.attempt, 1, 'attempts counted afresh');
  await node.submit('spec.approve', { spec_id: 'SA2' }, { by: 'carol' });
  await waitSpec(node, 'SA2', 'completed');
  t.match(await decisions('SA2'), [
    { gate: 'TASKS', decision: 'rejected', comment: 'split task B in two', principal: 'bob' },
    { gate: 'TASKS', decision: 'approved', comment: null, principal: 'carol' },
  ]);
  const types = (await sql<any>(node, `select type from omoi_event where type like 'spec.%' and payload->>'spec_id' = 'SA2' order by time, message_id`)).map((e) => e.type);
  t.same(types.filter((x) => ['spec.awaiting_approval', 'spec.rejected_at_gate', 'spec.approved', 'spec.executing'].includes(x)),
    ['spec.awaiting_approval', 'spec.rejected_at_gate', 'spec.awaiting_approval', 'spec.approved', 'spec.executing']);
});

t.test('before_delivery without a delivery is refused with delivery_required; no spec', async (t) => {
  const msg = await create('SA3', '/nowhere', { approvals: ['before_delivery'] });
  t.equal((await refusal(msg.id)).code, 'delivery_required');
  t.equal(await specRow('SA3'), undefined);
});

t.test('a TASKS task with a check and acceptance ids: the gate checks the ids, the work ticket\'s task runs the check (a failure retried)', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  const flag = `${await tempDir(t, 'check-flag-')}/failed-once`;
  // The check fails its first run (it leaves a flag outside the repository), then verifies GOAL.md.
  const check = `if [ -f '${flag}' ]; then grep -q goal GOAL.md; else touch '${flag}'; echo first check fails; exit 4; fi`;
  const A = { id: 'A', run: 'echo goal > GOAL.md', owns: ['GOAL.md'], kind: 'command', requirements: ['REQ-1', 'REQ-2'], check, acceptance: ['REQ-1.1'], max_retries: 1 };

  await create('SA4', repo.dir, { planner_command: tasksPlanner({ tasks: [{ ...A, acceptance: ['REQ-1.1', 'REQ-1.7'] }] }), max_phase_attempts: 1 });
  const blocked = await waitSpec(node, 'SA4', 'blocked');
  t.match(blocked.reason, /TASKS gate not met after 1 runs: unknown_acceptance: task A verifies acceptance criterion REQ-1\.7/);

  await create('SA5', repo.dir, { planner_command: tasksPlanner({ tasks: [A] }) });
  await waitSpec(node, 'SA5', 'completed');
  const work = (await taskRows(node, 'spec-SA5-exec-v1')).A!;
  t.match(work.spec, { check, acceptance: ['REQ-1.1'] }, 'the work ticket\'s task has the check and the criteria it verifies');
  t.notOk('requirements' in work.spec);
  t.equal(work.attempt, 2, 'the failing check cost one attempt');
  t.match((await events(node, 'spec-SA5-exec-v1', 'task.check_failed')).map((e) => e.payload), [{ task_id: 'A', attempt: 1, exit_code: 4, retry: true }]);
});

t.test('a failed work ticket resumed by task.retry takes its failed spec back to executing, then to COMPLETE', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  const flag = `${await tempDir(t, 'run-flag-')}/failed-once`;
  const A = { id: 'A', run: `if [ -f '${flag}' ]; then echo goal > GOAL.md; else touch '${flag}'; exit 3; fi`, owns: ['GOAL.md'], kind: 'command', requirements: ['REQ-1', 'REQ-2'], max_retries: 0 };
  await create('SA7', repo.dir, { planner_command: tasksPlanner({ tasks: [A] }) });
  const failed = await waitSpec(node, 'SA7', 'failed');
  t.match(failed.reason, /^ticket_failed/);
  await node.submit('task.retry', { ticket_id: 'spec-SA7-exec-v1', task_id: 'A', reason: 'try again' });
  const done = await waitSpec(node, 'SA7', 'completed');
  t.equal(done.ticket_id, 'spec-SA7-exec-v1', 'the same work ticket');
  t.equal(done.reason, null);
  const types = (await sql<any>(node, `select type from omoi_event where type like 'spec.%' and payload->>'spec_id' = 'SA7' order by time, message_id`)).map((e) => e.type);
  t.same(types.slice(-3), ['spec.failed', 'spec.resumed', 'spec.completed']);
});

t.test('omoi spec create --approve, show, approve and reject (the CLI over HTTP)', async (t) => {
  process.env.OMOI_API_TOKEN = 'test-token';
  t.teardown(() => { delete process.env.OMOI_API_TOKEN; });
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  const url = node.httpUrl;
  await specCreate({ url, id: 'SA6', repo: repo.dir, goal: 'Write the goal down', demoPlanner: true, approve: ['REQUIREMENTS'] });
  await waitSpec(node, 'SA6', 'awaiting_approval', 'REQUIREMENTS');
  t.match(await specDecide('reject', 'SA6', { url, comment: 'name the files' }), /^rejection of spec SA6 at the phase it waits at accepted \(message /);
  await waitFor('a second REQUIREMENTS run', async () => ((await artifacts('SA6')).filter((a) => a.phase === 'REQUIREMENTS').length === 2 ? true : undefined), { timeoutMs: 60_000 });
  await waitSpec(node, 'SA6', 'awaiting_approval', 'REQUIREMENTS');
  t.match(await specDecide('approve', 'SA6', { url, phase: 'REQUIREMENTS', comment: 'ok' }), /^approval of spec SA6 at REQUIREMENTS accepted/);
  await waitSpec(node, 'SA6', 'completed');
  const shown = await specShow('SA6', { url });
  t.match(shown, /Decisions:\n.*PHASE\s+DECISION\s+BY/);
  t.match(shown, /REQUIREMENTS\s+rejected\s+\S+\s+\S+\s+name the files/);
  t.match(shown, /REQUIREMENTS\s+approved\s+\S+\s+\S+\s+ok/);
  const json = JSON.parse(await specShow('SA6', { url, json: true }));
  t.same(json.decisions.map((d: any) => [d.gate, d.decision]), [['REQUIREMENTS', 'rejected'], ['REQUIREMENTS', 'approved']], 'GET /api/specs/:id has the decisions');
});
