import { execFileSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import type { OmoiNode } from '../../src/bootstrap.ts';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { events, sql, task, taskRows, ticketRow, waitTask, waitTicket } from './helpers.ts';

// Budgets, end to end on one node with its local agent: usage from the agent's result file,
// budget.warning then budget.exceeded, a ticket over budget that starts nothing until
// `ticket.set_budget` raises it, `on_exceeded: stop` stopping a running command, an agent's
// budget, and bad input refused with a code.

/** A command that writes `usage` into its result file (`OMOI_RESULT_FILE`), then succeeds. */
const reporting = (usage: unknown) => `printf '%s' '${JSON.stringify({ summary: 'done', usage })}' > "$OMOI_RESULT_FILE"`;

const alive = (tag: string) => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').some((l) => l.trim() === tag);

async function api(node: OmoiNode, method: string, urlPath: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(node.httpUrl + urlPath, {
    method, headers: { authorization: `Bearer ${node.apiToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text };
}

async function eventsOfType(node: OmoiNode, type: string): Promise<any[]> {
  return (await sql<{ payload: any }>(node, 'select payload from omoi_event where type = ? order by id', [type])).map((r) => r.payload);
}

t.test('budgets', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, { localAgentCapacity: 2 });
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const flags = await tempDir(t, 'budget-flags');

  await t.test('usage is recorded from the result file; a malformed usage is ignored; spend shows in the API and /metrics', async (t) => {
    await node.submit('ticket.create', {
      ticket_id: 'T-usage', title: 'usage', repository: repo.dir, ownership: 'lenient',
      tasks: [
        task('A', reporting({ model: 'model-x', input_tokens: 1200, output_tokens: 340, cost_usd: 0.25 })),
        task('B', reporting({ input_tokens: -5, cost_usd: 'lots' })),
      ],
    });
    await waitTicket(node, 'T-usage', 'completed');
    const rows = await sql<any>(node, 'select task_id, attempt, agent_id, outcome, model, usage from omoi_attempt_usage where ticket_id = ? order by task_id', ['T-usage']);
    t.equal(rows.length, 2, 'one usage row per attempt');
    const [a, b] = rows;
    t.match(a, { task_id: 'A', attempt: 1, agent_id: `local-${node.config.nodeId}`, outcome: 'completed', model: 'model-x' });
    t.match(a.usage, { model: 'model-x', input_tokens: 1200, output_tokens: 340, cost_usd: 0.25 }, 'what the result file said');
    t.type(a.usage.wall_ms, 'number', 'the executor measured the wall time');
    t.same(Object.keys(b.usage), ['wall_ms'], 'a malformed usage is ignored: only the measured wall time is kept');
    t.ok(b.usage.wall_ms > 0);

    const ticket = await ticketRow(node, 'T-usage');
    t.match(ticket!.spend, { cost_usd: 0.25, input_tokens: 1200, output_tokens: 340, attempts: 2 }, 'the ticket\'s spend is the sum');
    t.equal(ticket!.spend.wall_ms, a.usage.wall_ms + b.usage.wall_ms);
    t.equal(ticket!.budget_exceeded, false, 'no budget, never exceeded');

    const detail = await api(node, 'GET', '/api/tickets/T-usage');
    t.match(detail.json.ticket, { spend: { cost_usd: 0.25, input_tokens: 1200 }, budget: null, budget_exceeded: false }, 'GET /api/tickets/:id shows the spend');
    t.equal(detail.json.attempt_usage.length, 2, '...and each attempt\'s usage');
    const list = await api(node, 'GET', '/api/tickets');
    t.match(list.json.tickets.find((x: any) => x.id === 'T-usage'), { spend: { cost_usd: 0.25 } }, 'the list shows it too');

    // A repeated report of the same attempt (another message id) changes nothing: charged once per attempt.
    await node.submit('task.complete', { ticket_id: 'T-usage', task_id: 'A', attempt: 1, usage: { cost_usd: 9 } });
    await node.submit('ticket.set_budget', { ticket_id: 'T-usage', cost_usd: 100 }); // handled after it, in order
    await waitFor('the marker handled', async () => (await events(node, 'T-usage', 'budget.changed'))[0]);
    t.match((await ticketRow(node, 'T-usage'))!.spend, { cost_usd: 0.25, attempts: 2 }, 'the repeated report was not charged');

    const metrics = (await api(node, 'GET', '/metrics')).text;
    t.match(metrics, /omoi_spend_cost_usd_total\{outcome="completed"\} 0\.25/, 'the cost counter');
    t.match(metrics, /omoi_spend_tokens_total\{direction="input",outcome="completed"\} 1200/, 'the token counter');
    t.notMatch(metrics, /model-x|T-usage/, 'no model name or id as a label');
  });

  await t.test('warning, then exceeded: the next ready task waits until ticket.set_budget raises the budget, then the ticket completes', async (t) => {
    await node.submit('ticket.create', {
      ticket_id: 'T-budget', title: 'budget', repository: repo.dir, ownership: 'lenient',
      budget: { cost_usd: 1, warn_share: 0.5 },
      tasks: [
        task('A', reporting({ cost_usd: 0.6 })),
        task('B', reporting({ cost_usd: 0.6 }), { depends_on: ['A'] }),
        task('C', reporting({ cost_usd: 0.1 }), { depends_on: ['B'] }),
      ],
    });
    await waitTask(node, 'T-budget', 'B', 'completed');
    const held = await waitFor('C ready and held', async () => {
      const c = (await taskRows(node, 'T-budget')).C;
      return c?.status === 'ready' && c.reason === 'budget_exceeded' ? c : undefined;
    });
    const warnings = (await events(node, 'T-budget', 'budget.warning')).map((e) => e.payload);
    t.same(warnings, [{ scope: 'ticket', id: 'T-budget', ticket_id: 'T-budget', measure: 'cost_usd', spent: 0.6, limit: 1, share: 0.6 }], 'one warning past the warn share');
    const exceeded = (await events(node, 'T-budget', 'budget.exceeded')).map((e) => e.payload);
    t.equal(exceeded.length, 1, 'one exceeded at 100 %');
    t.match(exceeded[0], { scope: 'ticket', id: 'T-budget', ticket_id: 'T-budget', measure: 'cost_usd', limit: 1 });
    t.ok(Math.abs(exceeded[0].spent - 1.2) < 1e-9 && exceeded[0].share >= 1);
    t.equal((await ticketRow(node, 'T-budget'))!.budget_exceeded, true);

    // Several node ticks (heartbeat 500 ms: the stuck-ready sweep runs) and C has not started.
    await new Promise((r) => setTimeout(r, 2500));
    const still = (await taskRows(node, 'T-budget')).C;
    t.match(still, { status: 'ready', attempt: held.attempt, reason: 'budget_exceeded' }, 'no attempt starts while over budget');
    t.equal((await ticketRow(node, 'T-budget'))!.status, 'running');

    const shown = await api(node, 'GET', '/api/tickets/T-budget');
    t.match(shown.json.ticket, { budget_exceeded: true, budget: { cost_usd: 1, warn_share: 0.5 } }, 'the API shows it over budget');

    const raised = await api(node, 'PUT', '/api/tickets/T-budget/budget', { cost_usd: 5 });
    t.equal(raised.status, 202, 'the raise is accepted');
    const done = await waitTicket(node, 'T-budget', 'completed');
    t.equal(done.budget_exceeded, false);
    const changed = (await events(node, 'T-budget', 'budget.changed')).map((e) => e.payload);
    t.same(changed, [{ scope: 'ticket', id: 'T-budget', ticket_id: 'T-budget', cost_usd: 5, wall_ms: null, exceeded: false }], 'budget.changed says it is no longer exceeded');
    t.equal((await events(node, 'T-budget', 'budget.exceeded')).length, 1, 'the raise did not exceed again');
  });

  await t.test('on_exceeded stop: reaching the budget stops a running long command; it runs again after the raise', async (t) => {
    const seconds = `${700 + (process.pid % 1000)}.${Date.now() % 1000}`;
    const tag = `sleep ${seconds}`;
    const started = path.join(flags, 'long-started');
    // The long task: its first attempt marks the flag and sleeps; a later one finds the flag and finishes.
    const long = `if [ -f ${started} ]; then exit 0; fi; touch ${started}; sh -c '${tag}' & wait`;
    // The short one waits until the long one runs: its measured wall time passes the budget.
    const short = `while [ ! -f ${started} ]; do sleep 0.05; done; sleep 1`;
    await node.submit('ticket.create', {
      ticket_id: 'T-stop', title: 'stop', repository: repo.dir, ownership: 'lenient',
      budget: { wall_ms: 800, on_exceeded: 'stop' },
      tasks: [task('LONG', long, { timeout_ms: 600_000 }), task('SHORT', short)],
    });
    await waitFor('the long command runs', () => alive(tag) || undefined);
    await waitTask(node, 'T-stop', 'SHORT', 'completed');
    const stopped = Date.now();
    await waitFor('the long command was stopped', () => !alive(tag) || undefined, { timeoutMs: 10_000 });
    t.ok(Date.now() - stopped < 10_000, 'stopped at once, not at its timeout');
    const held = await waitTask(node, 'T-stop', 'LONG', 'ready');
    t.match(held, { attempt: 1, reason: 'budget_exceeded', agent_id: null }, 'requeued, held for after the raise');
    t.equal((await events(node, 'T-stop', 'budget.exceeded')).length, 1);

    await node.submit('ticket.set_budget', { ticket_id: 'T-stop', wall_ms: null });
    const done = await waitTicket(node, 'T-stop', 'completed');
    t.equal(done.budget_exceeded, false);
    t.equal((await taskRows(node, 'T-stop')).LONG.attempt, 2, 'a new attempt ran after the raise');
    // The stopped attempt's late report (its process was killed) still costs: charged once, to the ticket.
    const stoppedUsage = await waitFor('the stopped attempt charged', async () =>
      (await sql<any>(node, `select outcome, agent_id, usage from omoi_attempt_usage where ticket_id = 'T-stop' and task_id = 'LONG' and attempt = 1`))[0]);
    t.match(stoppedUsage, { outcome: 'failed', agent_id: null });
    t.ok(stoppedUsage.usage.wall_ms > 0, 'its wall time');
    t.equal((await ticketRow(node, 'T-stop'))!.spend.attempts, 3, 'SHORT, the stopped LONG and the LONG after the raise');
    t.match((await events(node, 'T-stop', 'budget.changed')).map((e) => e.payload), [{ wall_ms: null, cost_usd: null, exceeded: false }]);
  });

  await t.test('bad usage and budget input is refused with a clear code', async (t) => {
    await t.rejects(node.submit('ticket.set_budget', { ticket_id: 'T-budget', cost_usd: -1 }), { code: 'schema_violation', path: '/payload/cost_usd' }, 'a negative limit');
    await t.rejects(node.submit('ticket.create', { ticket_id: 'T-bad', title: 'x', repository: repo.dir, tasks: [task('A', 'true')], budget: { warn_share: 2 } }), { code: 'schema_violation', path: '/payload/budget/warn_share' }, 'a warn share above 1');
    await t.rejects(node.submit('task.complete', { ticket_id: 'T-budget', task_id: 'A', attempt: 1, usage: { input_tokens: -3 } }), { code: 'schema_violation', path: '/payload/usage/input_tokens' }, 'negative tokens');
    await t.rejects(node.submit('task.fail', { ticket_id: 'T-budget', task_id: 'A', attempt: 1, error: 'x', usage: { gpu_hours: 1 } }), { code: 'schema_violation' }, 'an unknown usage field');
    const http = await api(node, 'PUT', '/api/tickets/T-budget/budget', { wall_ms: 'soon' });
    t.equal(http.status, 400);
    t.match(http.json.error, { code: 'schema_violation', field: '/wall_ms' }, 'HTTP names the field');
    const policy = await api(node, 'PUT', '/api/agents/some-agent/budget', { on_exceeded: 'explode' });
    t.equal(policy.status, 400);
    t.equal(policy.json.error.code, 'schema_violation');
    const unknown = await api(node, 'PUT', '/api/tickets/T-nope/budget', { cost_usd: 1 });
    t.equal(unknown.status, 202, 'accepted at the edge, refused by the ticket\'s actor');
    const dead = await waitFor('the unknown ticket\'s budget change dead-lettered', async () =>
      (await sql<any>(node, `select code, reason from omoi_dead_letter where type = 'ticket.set_budget'`))[0]);
    t.match(dead, { code: 'not_found', reason: /T-nope/ }, 'with a clear code, not retried forever');
  });

  await t.test('an agent over budget is offered no task until agent.set_budget raises it', async (t) => {
    const agentId = `local-${node.config.nodeId}`;
    // The agent ran the attempts above: its budget leaves it 0.5 more.
    const before = (await sql<any>(node, 'select spend from omoi_agent where id = ?', [agentId]))[0].spend;
    t.ok(Math.abs(before.cost_usd - 1.55) < 1e-9, 'the agent\'s spend is the sum of its attempts\' costs over every ticket');
    const limit = before.cost_usd + 0.5;
    const accepted = await api(node, 'PUT', `/api/agents/${agentId}/budget`, { cost_usd: limit });
    t.equal(accepted.status, 202);
    await waitFor('the agent budget is set', async () => (await eventsOfType(node, 'budget.changed')).find((e) => e.scope === 'agent'));
    await node.submit('ticket.create', { ticket_id: 'T-agent', title: 'agent', repository: repo.dir, tasks: [task('A', reporting({ cost_usd: 0.7 }))] });
    await waitTicket(node, 'T-agent', 'completed');
    const over = await waitFor('the agent exceeded', async () => (await eventsOfType(node, 'budget.exceeded')).find((e) => e.scope === 'agent'));
    t.match(over, { scope: 'agent', id: agentId, ticket_id: 'T-agent', measure: 'cost_usd', limit });
    t.ok(Math.abs(over.spent - (before.cost_usd + 0.7)) < 1e-9, 'the attempt\'s cost was added once');
    const agentRow = async () => (await sql<any>(node, 'select budget_exceeded, spend from omoi_agent where id = ?', [agentId]))[0];
    t.match(await agentRow(), { budget_exceeded: true });

    await node.submit('ticket.create', { ticket_id: 'T-agent-2', title: 'agent 2', repository: repo.dir, tasks: [task('A', 'true')] });
    await waitTask(node, 'T-agent-2', 'A', 'ready');
    await new Promise((r) => setTimeout(r, 2500));
    t.match((await taskRows(node, 'T-agent-2')).A, { status: 'ready', attempt: 0 }, 'the only agent is over budget: nothing is offered');
    const mismatch = (await events(node, 'T-agent-2', 'agent.mismatch'))[0];
    t.match(mismatch?.payload.candidates, [{ agent_id: agentId, missing: ['budget (exceeded)'] }], 'agent.mismatch says why');

    await node.submit('agent.set_budget', { agent_id: agentId, cost_usd: null });
    await waitTicket(node, 'T-agent-2', 'completed');
    t.match(await agentRow(), { budget_exceeded: false });

    // A budget given at registration.
    const registered = await api(node, 'POST', '/api/agents', { agent_id: 'agent-b', name: 'b', phase: 'review', capabilities: [], version: '1.0.0', budget: { cost_usd: 3, warn_share: 0.9 } });
    t.equal(registered.status, 201, registered.text);
    const row = await waitFor('agent-b registered', async () => (await sql<any>(node, `select budget, spend, budget_exceeded from omoi_agent where id = 'agent-b'`))[0]);
    t.match(row, { budget: { cost_usd: 3, warn_share: 0.9, wall_ms: null }, spend: { cost_usd: 0, attempts: 0 }, budget_exceeded: false });
  });
});
