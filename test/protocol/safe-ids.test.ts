import t from 'tap';
import { defaultNodeId, isSafeNodeId, loadConfig } from '../../src/config/index.ts';
import { joinIdFor } from '../../src/dag/index.ts';
import { isSafeId, MAX_ID_LENGTH } from '../../src/ids.ts';
import { checkEnvelope, makeEnvelope, validatePayload } from '../../src/protocol/codec.ts';

// Ticket, task, join and agent ids are checked at the edge (src/ids.ts): what is refused, what
// passes, and that the longest ids still make every derived message id the envelope accepts.

const UNSAFE = ['a..b', 'a.', '.a', '-a', 'x.lock', 'T:1', 'a/b', 'a b', 'a\tb', 'a\u0000b', 'a*', 'a>', 'é', '', 'x'.repeat(MAX_ID_LENGTH + 1)];
const SAFE = ['T1', 'a.b', 'v1.2-rc_3', 'lock', 'a.locked', 'x'.repeat(MAX_ID_LENGTH)];
const ticket = (ticket_id: string, taskId = 'A') => ({ ticket_id, title: 't', repository: '/tmp/r', tasks: [{ id: taskId, run: 'true' }] });

t.test('unsafe ticket, task and agent ids are refused with the field named; safe ones pass', async (t) => {
  for (const id of UNSAFE) {
    t.throws(() => validatePayload('ticket.create', ticket(id)), { code: 'schema_violation', path: '/payload/ticket_id' }, `ticket id ${JSON.stringify(id)}`);
    t.throws(() => validatePayload('ticket.create', ticket('T1', id)), { code: 'schema_violation', path: '/payload/tasks/0/id' }, `task id ${JSON.stringify(id)}`);
    t.throws(() => validatePayload('task.complete', { ticket_id: 'T1', task_id: id, attempt: 1, commit: '0'.repeat(40) }), { code: 'schema_violation', path: '/payload/task_id' });
    t.throws(() => validatePayload('agent.heartbeat', { agent_id: id }), { code: 'schema_violation', path: '/payload/agent_id' }, `agent id ${JSON.stringify(id)}`);
    t.notOk(isSafeId(id));
  }
  for (const id of SAFE) {
    t.doesNotThrow(() => validatePayload('ticket.create', ticket(id, id)), `${id} is accepted`);
    t.ok(isSafeId(id));
  }
});

t.test('the longest ids still make derived message ids the envelope accepts', async (t) => {
  const ticketId = 'T'.repeat(MAX_ID_LENGTH);
  const task = 'A'.repeat(MAX_ID_LENGTH);
  const join = joinIdFor(task);
  t.doesNotThrow(() => validatePayload('merge.finished', { ticket_id: ticketId, join_id: join, attempt: 1, ok: false, failure: 'error', reason: 'x', conflicts: {}, order: [], resolutions: [], files: [], resolver_output: '', duration_ms: 1 }), 'a join of the longest task id is a valid join id');
  for (const id of [`merge-finished:${ticketId}:${join}:999`, `task-result:${ticketId}:${task}:999`, `retry-due:${ticketId}:${task}:999`]) {
    t.doesNotThrow(() => checkEnvelope(makeEnvelope('ticket.wake', { ticket_id: ticketId }, { source: 'test', id })), `${id.slice(0, 15)}… (${id.length} chars) fits`);
  }
});

t.test('node ids: a configured one must be safe and short enough for its agent\'s id; the default always is', async (t) => {
  t.throws(() => loadConfig({ OMOI_NODE_ID: 'a..b' }, {}), { message: /OMOI_NODE_ID: must be at most 58/ });
  t.throws(() => loadConfig({ OMOI_NODE_ID: 'n'.repeat(59) }, {}), { message: /OMOI_NODE_ID/ });
  t.equal(loadConfig({ OMOI_NODE_ID: 'node-1.example' }, {}).nodeId, 'node-1.example');
  const id = defaultNodeId(7070);
  t.ok(isSafeNodeId(id), `the default ${id} is safe`);
  t.ok(isSafeId(`local-${id}`), 'and so is its local agent\'s id');
});
