// Escalation and specs: an actor that keeps crashing is escalated and its entity marked failed
// outside any message's transaction. Those waiting for it must still be told, or they wait
// forever: a spec whose work ticket escalated fails with it, and a spec that escalated itself
// says so and can be re-planned. Real node, NATS, PostgreSQL, git; crashes injected in-process.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { shellQuote } from '../../src/demo/demo-ticket.ts';
import { demoPlannerCommand, SPEC_PLANNER_SCRIPT } from '../../src/demo/spec-planner.ts';
import { armCrash } from '../../src/failpoints.ts';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql, ticketRow } from '../flow/helpers.ts';

const cluster = await withCluster(t);
// One restart, then escalation: a crash injected for good escalates within a second.
const node = await withNode(t, cluster, { restartMax: 1, restartBackoffMs: 10, restartBackoffMaxMs: 50 });

const specRow = async (id: string) => (await sql<Record<string, any>>(node, 'select * from omoi_spec where id = ?', [id]))[0];
const eventsOf = (type: string, key: string, id: string) =>
  sql<{ payload: any }>(node, `select payload from omoi_event where type = ? and payload->>'${key}' = ? order by time`, [type, id]);

/** A planner whose TASKS artifact is `tasks` (test/spec/fixtures/tasks-planner.mjs); the demo planner plans the rest. */
const tasksPlanner = (tasks: unknown) => `OMOI_TEST_TASKS=${shellQuote(JSON.stringify(tasks))} ${shellQuote(process.execPath)} ${shellQuote(fileURLToPath(new URL('./fixtures/tasks-planner.mjs', import.meta.url)))} ${shellQuote(SPEC_PLANNER_SCRIPT)}`;

t.test('a work ticket whose actor escalates fails its spec, with the escalation as the reason', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  const flag = path.join(await tempDir(t, 'spec-escalation-'), 'go');
  // One task that waits for the test's signal, so the crash can be armed while it runs.
  const tasks = { ownership: 'strict', tasks: [{ id: 'A', title: 'write the goal', depends_on: [], owns: ['GOAL.md'], kind: 'command',
    run: `while [ ! -f ${shellQuote(flag)} ]; do sleep 0.1; done; echo goal > GOAL.md`, requirements: ['REQ-1', 'REQ-2'] }] };
  await node.submit('spec.create', { spec_id: 'SE1', repository: repo.dir, base_branch: 'main', goal: 'Write the goal down', planner: 'command', planner_command: tasksPlanner(tasks) });
  await waitFor('the work task running', async () => (await sql<any>(node, `select status from omoi_task where ticket_id = 'spec-SE1-exec-v1' and id = 'A'`))[0]?.status === 'running' || undefined, { timeoutMs: 120_000 });
  t.equal((await specRow('SE1'))!.status, 'executing');

  const disarm = armCrash('ticket.handle', Infinity); // every message to a TicketActor crashes it
  t.teardown(disarm);
  await import('node:fs/promises').then((fs) => fs.writeFile(flag, ''));
  const ticket = await waitFor('the work ticket failed by escalation', async () => {
    const row = await ticketRow(node, 'spec-SE1-exec-v1');
    return row?.status === 'failed' ? row : undefined;
  }, { timeoutMs: 60_000 });
  disarm();
  t.match(ticket.failed_reason, /^escalated after 1 restarts: failpoint ticket\.handle crashed/);

  const spec = await waitFor('the spec failed', async () => {
    const row = await specRow('SE1');
    return row?.status === 'failed' ? row : undefined;
  }, { timeoutMs: 30_000 });
  t.match(spec.reason, /^ticket_failed: escalated after 1 restarts/, 'the spec says why');
  t.equal(spec.current_ticket_id, null);
  const ended = await waitFor('ticket.ended', async () => (await eventsOf('ticket.ended', 'ticket_id', 'spec-SE1-exec-v1'))[0]);
  t.match(ended.payload, { ticket_id: 'spec-SE1-exec-v1', status: 'failed', reason: /^escalated after 1 restarts/ }, 'the ticket\'s watchers are told');
  t.match((await eventsOf('spec.failed', 'spec_id', 'SE1')).map((e) => e.payload), [{ spec_id: 'SE1', ticket_id: 'spec-SE1-exec-v1', reason: /escalated/ }]);
});

t.test('a spec whose own actor escalates is failed, says so, and can be re-planned', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  const disarm = armCrash('spec.sync', Infinity); // the SpecActor crashes each time it reaches SYNC
  t.teardown(disarm);
  await node.submit('spec.create', { spec_id: 'SE2', repository: repo.dir, base_branch: 'main', goal: 'Write the goal down', planner: 'command', planner_command: demoPlannerCommand() });
  const failed = await waitFor('the spec failed by escalation', async () => {
    const row = await specRow('SE2');
    return row?.status === 'failed' ? row : undefined;
  }, { timeoutMs: 120_000 });
  disarm();
  t.match(failed.reason, /^escalated after 1 restarts: failpoint spec\.sync crashed/);
  t.equal(failed.current_ticket_id, null, 'it waits for no ticket any more');
  const said = await waitFor('spec.failed', async () => (await eventsOf('spec.failed', 'spec_id', 'SE2'))[0]);
  t.match(said.payload, { spec_id: 'SE2', reason: /^escalated after 1 restarts/ }, 'the dashboard hears of it');

  // Redeliveries of the TASKS ticket's end (the message that crashed it) change nothing now.
  await new Promise((r) => setTimeout(r, 1_500));
  t.equal((await specRow('SE2'))!.status, 'failed', 'not taken on by a redelivered ticket end');
  t.same(await sql(node, `select id from omoi_ticket where spec_id = 'SE2' and spec_phase = 'EXECUTE'`), [], 'no work ticket');

  await node.submit('spec.replan', { spec_id: 'SE2', from_phase: 'TASKS', reason: 'after the crash' });
  const done = await waitFor('the re-planned spec completed', async () => {
    const row = await specRow('SE2');
    return row?.status === 'completed' ? row : undefined;
  }, { timeoutMs: 120_000 });
  t.equal(done.ticket_id, 'spec-SE2-exec-v1', 'exactly one work ticket, after the re-plan');
});
