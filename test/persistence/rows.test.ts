import t from 'tap';
import { RowDecodeError, fromTask, toTask, toTicket, type TaskRow, type TicketRow } from '../../src/persistence/index.ts';

const at = new Date('2026-01-01T10:00:00Z');
const taskRow = (patch: Partial<TaskRow> = {}): TaskRow => ({
  ticket_id: 'T1', id: 'A', spec: { id: 'A', title: 'a', depends_on: [], owns: ['src/**'], capabilities: ['rust'], phase: 'review', priority: 3, kind: 'agent', run: 'do it', max_retries: 1, timeout_ms: 1000, synthesis: 'union' },
  depends_on: [], owns: ['src/**'], status: 'ready', attempt: 1, base_commit: null, commit: null, result: null, reason: null, agent_id: null,
  context: null, ready_since: at, unmatched: false, attempt_base: 0, created_at: at, updated_at: at, version: 1, ...patch,
});
const ticketRow = (patch: Partial<TicketRow> = {}): TicketRow => ({
  id: 'T1', title: 't', repository: '/r', base_branch: 'main', base_commit: null, status: 'running', ownership: 'strict', resolver_command: null,
  check_command: null, network: true, head: null, reason: null, failed_reason: null, finalizing: false,
  budget: null, spend: { cost_usd: 0, wall_ms: 0, input_tokens: 0, output_tokens: 0, attempts: 0 }, budget_marks: {}, budget_exceeded: false, created_at: at, updated_at: at, version: 1, ...patch,
});

t.test('a task row decodes to its typed view and back unchanged', async (t) => {
  const row = taskRow();
  const task = toTask(row);
  t.equal(task.status, 'ready');
  t.same(task.spec, row.spec);
  t.same(fromTask(task), row);
});

t.test('a spec written with fields left out gets the protocol defaults; ids and claims come from the row', async (t) => {
  const task = toTask(taskRow({ id: 'B', depends_on: ['A'], owns: [], spec: { id: 'B', run: 'make', phase: 'execute' } }));
  t.same(task.spec, { id: 'B', depends_on: ['A'], owns: [], capabilities: [], phase: 'execute', priority: 0, kind: 'command', run: 'make', max_retries: 2, timeout_ms: 600_000 });
});

t.test('a row that does not decode is an error naming the row and field', async (t) => {
  t.throws(() => toTask(taskRow({ status: 'finishing' })), new RowDecodeError('omoi_task', 'T1/A', 'status', 'finishing'));
  t.throws(() => toTask(taskRow({ spec: null as never })), RowDecodeError);
  t.throws(() => toTicket(ticketRow({ status: 'paused' })), { message: /omoi_ticket T1: status "paused"/ });
  t.throws(() => toTicket(ticketRow({ ownership: 'loose' })), RowDecodeError);
  t.equal(toTicket(ticketRow({ finalizing: true })).finalizing, true);
});
