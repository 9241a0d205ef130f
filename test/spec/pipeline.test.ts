import t from 'tap';
import { demoPlannerCommand } from '../../src/demo/index.ts';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { gitIn, sql, taskRows, ticketRow } from '../flow/helpers.ts';
import type { OmoiNode } from '../../src/bootstrap.ts';
import { specCreate, specReplan, specShow } from '../../src/cli/commands/spec.ts';
import { encode, makeEnvelope, partitionOf, Subjects } from '../../src/protocol/index.ts';

const cluster = await withCluster(t);
const node = await withNode(t, cluster);

async function specRow(id: string): Promise<Record<string, any> | undefined> {
  return (await sql(node, 'select * from omoi_spec where id = ?', [id]))[0];
}

/** Waits for the spec to reach `status`; another end state fails the wait with what the spec says. */
async function waitSpec(n: OmoiNode, id: string, status: string): Promise<Record<string, any>> {
  return waitFor(`spec ${id} ${status}`, async () => {
    const row = (await sql(n, 'select * from omoi_spec where id = ?', [id]))[0] as Record<string, any> | undefined;
    if (row && row.status !== status && ['completed', 'failed', 'blocked'].includes(row.status)) {
      throw new Error(`spec ${id} is ${row.status} (${row.reason}) in ${row.phase}`);
    }
    return row?.status === status ? row : undefined;
  }, { timeoutMs: 120_000 });
}

const artifacts = (id: string) => sql<Record<string, any>>(node, 'select phase, version, ticket_id, body, gate from omoi_spec_artifact where spec_id = ? order by created_at, phase, version', [id]);
const specTickets = (id: string) => sql<Record<string, any>>(node, 'select id, status, spec_phase from omoi_ticket where spec_id = ? order by created_at, id', [id]);
const specEvents = (id: string) => sql<{ type: string; payload: any }>(node, `select type, payload from omoi_event where type like 'spec.%' and payload->>'spec_id' = ? order by time, message_id`, [id]);

function create(id: string, repository: string, goal: string, more: Record<string, unknown> = {}) {
  return node.submit('spec.create', { spec_id: id, repository, base_branch: 'main', goal, planner: 'command', planner_command: demoPlannerCommand(), ...more });
}

t.test('a goal goes through every phase, each artifact passing its gate, to one work ticket that completes', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n', 'src/app.py': 'print("hi")\n' });
  await create('S1', repo.dir, 'Write the goal down');
  const spec = await waitSpec(node, 'S1', 'completed');
  t.equal(spec.phase, 'COMPLETE');
  t.equal(spec.ticket_id, 'spec-S1-exec-v1');
  const stored = await artifacts('S1');
  t.same(stored.map((a) => [a.phase, a.version, a.gate.passed]), [['EXPLORE', 1, true], ['REQUIREMENTS', 1, true], ['DESIGN', 1, true], ['TASKS', 1, true]]);
  t.same(stored[0]!.body.files, ['README.md', 'src/app.py'], 'EXPLORE read the repository');
  t.match(stored[1]!.body.requirements[0].acceptance[0], /^WHEN .* THE SYSTEM SHALL /);
  const tickets = await specTickets('S1');
  t.same(tickets.map((x) => [x.id, x.status, x.spec_phase]), [
    ['spec-S1-explore-v1', 'completed', 'EXPLORE'], ['spec-S1-requirements-v1', 'completed', 'REQUIREMENTS'],
    ['spec-S1-design-v1', 'completed', 'DESIGN'], ['spec-S1-tasks-v1', 'completed', 'TASKS'], ['spec-S1-exec-v1', 'completed', 'EXECUTE'],
  ], 'one ticket per phase run and exactly one work ticket');
  const work = await taskRows(node, 'spec-S1-exec-v1');
  t.same(Object.keys(work), ['A', 'B'], 'the work ticket is the TASKS artifact\'s DAG');
  t.equal(work.B!.depends_on[0], 'A');
  t.notOk('requirements' in work.A!.spec, 'requirement ids stay in the artifact, not the ticket');
  const head = (await ticketRow(node, 'spec-S1-exec-v1'))!.head;
  t.equal(spec.head, head);
  t.equal(await gitIn(node, 'spec-S1-exec-v1', 'show', `${head}:GOAL.md`), 'Write the goal down');
  t.match(await gitIn(node, 'spec-S1-exec-v1', 'show', `${head}:notes/plan.md`), /REQ-2/);
  const types = (await specEvents('S1')).map((e) => e.type);
  t.same(types.filter((x) => x !== 'spec.artifact_recorded'), [
    'spec.created', 'spec.phase_started', 'spec.phase_passed', 'spec.phase_started', 'spec.phase_passed',
    'spec.phase_started', 'spec.phase_passed', 'spec.phase_started', 'spec.phase_passed', 'spec.phase_passed', 'spec.executing', 'spec.completed',
  ], 'every transition is an event');
});

t.test('a gate not met is retried with its findings in the next run\'s context', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  await create('S2', repo.dir, 'Write the goal down [invalid-once:REQUIREMENTS]');
  await waitSpec(node, 'S2', 'completed');
  const requirements = (await artifacts('S2')).filter((a) => a.phase === 'REQUIREMENTS');
  t.same(requirements.map((a) => [a.version, a.gate.passed]), [[1, false], [2, true]]);
  t.equal(requirements[0]!.gate.findings[0].code, 'schema_violation');
  t.match(requirements[0]!.gate.findings[0].path, /acceptance/, 'the finding names the field');
  const retry = (await taskRows(node, 'spec-S2-requirements-v2')).plan!;
  // The command planner's context, single-quoted for sh in the task's command.
  const context = JSON.parse(/OMOI_SPEC_CONTEXT='(.*)'; /s.exec(retry.spec.run)![1]!.replaceAll(`'\\''`, `'`));
  t.equal(context.attempt, 2);
  t.same(context.findings, requirements[0]!.gate.findings, 'the second run was given the first run\'s findings');
  t.same(Object.keys(context.artifacts), ['EXPLORE'], 'and the artifacts of the phases before');
  const failed = (await specEvents('S2')).filter((e) => e.type === 'spec.gate_failed');
  t.same(failed.map((e) => [e.payload.phase, e.payload.attempt]), [['REQUIREMENTS', 1]]);
});

t.test('a TASKS DAG with a cycle blocks the spec after its runs, with the cycle named; no work ticket', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  await create('S3', repo.dir, 'Write the goal down [cycle]', { max_phase_attempts: 2 });
  const spec = await waitSpec(node, 'S3', 'blocked');
  t.equal(spec.phase, 'TASKS');
  t.match(spec.reason, /TASKS gate not met after 2 runs: cycle: .*A → B → A|B → A → B/);
  const tasks = (await artifacts('S3')).filter((a) => a.phase === 'TASKS');
  t.same(tasks.map((a) => [a.version, a.gate.passed, a.gate.findings[0].code]), [[1, false, 'cycle'], [2, false, 'cycle']]);
  t.notOk((await specTickets('S3')).some((x) => x.spec_phase === 'EXECUTE'), 'SYNC never ran');
  const blocked = (await specEvents('S3')).filter((e) => e.type === 'spec.blocked');
  t.equal(blocked.length, 1);
});

t.test('bad input is refused with a stable code and leaves no spec', async (t) => {
  await node.submit('spec.create', { spec_id: 'S4', repository: '/nowhere', goal: 'x', planner: 'command' });
  await waitFor('the refusal', async () => (await sql(node, `select 1 from omoi_dead_letter where code = 'planner_command_required'`)).length > 0 || undefined);
  t.equal(await specRow('S4'), undefined);
});

t.test('the end of the TASKS ticket told again (a new message id) creates no second work ticket and records nothing', async (t) => {
  const before = await artifacts('S1');
  const again = makeEnvelope('spec.ticket_ended', { spec_id: 'S1', ticket_id: 'spec-S1-tasks-v1', phase: 'TASKS', status: 'completed' }, { source: 'test', id: 'told-again-1' });
  await node.js.publish(Subjects.partition(partitionOf('spec', 'S1', 4), 'spec.ticket_ended'), encode(again), { msgID: 'told-again-1' });
  await waitFor('handled', async () => (await sql(node, `select 1 from omoi_processed_message where message_id = 'told-again-1'`)).length > 0 || undefined);
  t.same((await specTickets('S1')).filter((x) => x.spec_phase === 'EXECUTE').map((x) => x.id), ['spec-S1-exec-v1'], 'exactly one work ticket');
  t.equal((await artifacts('S1')).length, before.length, 'no artifact recorded');
  t.equal((await specRow('S1'))!.status, 'completed');
  t.same(await sql(node, `select code from omoi_dead_letter where message_id = 'told-again-1'`), [], 'not an error');
});

t.test('omoi spec: create with the demo planner, show, and re-plan from DESIGN to a second work ticket', async (t) => {
  process.env.OMOI_API_TOKEN = 'test-token';
  t.teardown(() => { delete process.env.OMOI_API_TOKEN; });
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  const url = node.httpUrl;
  t.match(await specCreate({ url, id: 'S5', repo: repo.dir, goal: 'Write the goal down', demoPlanner: true }), /^spec S5 accepted/);
  await waitSpec(node, 'S5', 'completed');
  await specReplan('S5', { url, from: 'DESIGN', reason: 'name the files differently' });
  const spec = await waitFor('S5 completed again', async () => {
    const row = await specRow('S5');
    return row?.status === 'completed' && row.ticket_id === 'spec-S5-exec-v2' ? row : undefined;
  }, { timeoutMs: 120_000 });
  t.equal(spec.phase, 'COMPLETE');
  const runs = (await artifacts('S5')).map((a) => `${a.phase}:${a.version}`);
  t.same(runs, ['EXPLORE:1', 'REQUIREMENTS:1', 'DESIGN:1', 'TASKS:1', 'DESIGN:2', 'TASKS:2'], 'DESIGN and every later phase ran again; earlier ones did not');
  const design = (await taskRows(node, 'spec-S5-design-v2')).plan!;
  t.match(design.spec.run, /name the files differently/, 'the planner was told why');
  t.same((await specTickets('S5')).filter((x) => x.spec_phase === 'EXECUTE').map((x) => [x.id, x.status]), [['spec-S5-exec-v1', 'completed'], ['spec-S5-exec-v2', 'completed']]);
  const shown = await specShow('S5', { url });
  t.match(shown, /status\s+completed/);
  t.match(shown, /DESIGN\s+2\s+passed/);
  t.match(shown, /spec-S5-exec-v2\s+EXECUTE\s+completed/);
});

t.test('a planning run that changes a file fails (read-only sandbox): the gate is not met and nothing reaches a branch', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  await create('S6', repo.dir, 'Write the goal down', { planner_command: `echo changed > README.md; ${demoPlannerCommand()}`, max_phase_attempts: 1 });
  const spec = await waitSpec(node, 'S6', 'blocked');
  t.equal(spec.phase, 'EXPLORE');
  t.match(spec.reason, /EXPLORE gate not met after 1 runs: phase_ticket_failed: .*ownership_violation/);
  const [explore] = await artifacts('S6');
  t.same([explore!.version, explore!.body, explore!.gate.passed], [1, null, false], 'no artifact from a run that failed');
  t.same((await specTickets('S6')).map((x) => [x.id, x.status]), [['spec-S6-explore-v1', 'failed']]);
});

t.test('a phase ticket whose create is refused (its repository gone) is a failed run: the spec is blocked, not left waiting', async (t) => {
  await create('S-norepo', '/nonexistent/omoi-spec-repo', 'Plan for a repository that is not there', { max_phase_attempts: 2 });
  const spec = await waitSpec(node, 'S-norepo', 'blocked');
  t.equal(spec.phase, 'EXPLORE', 'blocked in the phase whose ticket could not be made');
  t.match(spec.reason, /ticket_rejected/, 'the reason says the ticket was refused');
  t.same((await specTickets('S-norepo')).length, 0, 'no ticket exists');
  const letters = await sql<{ type: string }>(node, `select type from omoi_dead_letter where body like '%S-norepo%' order by id`);
  t.same(letters.map((l) => l.type), ['ticket.create', 'ticket.create'], 'each refused create is one dead letter, and nothing else was refused');
});
