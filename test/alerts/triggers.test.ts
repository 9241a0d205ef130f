// The trigger mapping (src/alerts/triggers.ts): every alert kind is raised by some event, and
// the events that end its condition clear the same fingerprint. Unknown events map to nothing;
// malformed ones throw a MalformedTriggerEvent (the consumer logs and drops them).
import t from 'tap';
import { ALERT_KINDS } from '../../src/alerts/alert-kinds.ts';
import { MalformedTriggerEvent, TRIGGER_TYPES, triggersOf, type AlertAction } from '../../src/alerts/triggers.ts';
import { lookup, validatePayload } from '../../src/protocol/index.ts';
import { TRIGGER_DOC } from '../../src/cli/protocol-doc.ts';

type Row = [name: string, type: string, payload: Record<string, unknown>, expected: Array<Partial<AlertAction>>];

const ROWS: Row[] = [
  ['dead letter', 'error.rejected', { code: 'schema_violation', reason: 'bad', subject: 'omoi.in.task.complete', type: 'task.complete', dead_letter_id: 12 },
    [{ op: 'raise', kind: 'dead_letter', fingerprint: 'dead_letter:schema_violation' }]],
  ['a rejection with no dead letter', 'error.rejected', { code: 'schema_violation', reason: 'bad', subject: 'omoi.in.x' }, []],
  ['the last dead letter of a code closed', 'dead_letter.closed', { dead_letter_id: 12, code: 'schema_violation', status: 'discarded', open_with_code: 0 },
    [{ op: 'clear', fingerprint: 'dead_letter:schema_violation' }]],
  ['a dead letter closed, others of its code open', 'dead_letter.closed', { dead_letter_id: 12, code: 'schema_violation', status: 'retried', open_with_code: 2 }, []],
  ['agent degraded', 'agent.status', { agent_id: 'agent-7', status: 'degraded', reason: 'no heartbeat for 31000 ms' },
    [{ op: 'raise', kind: 'agent_degraded', fingerprint: 'agent_degraded:agent-7' }]],
  ['agent failed', 'agent.status', { agent_id: 'agent-7', status: 'failed', reason: 'no heartbeat' },
    [{ op: 'clear', fingerprint: 'agent_degraded:agent-7' }, { op: 'raise', kind: 'agent_failed', fingerprint: 'agent_failed:agent-7' }]],
  ['agent healthy again', 'agent.status', { agent_id: 'agent-7', status: 'healthy' },
    [{ op: 'clear', fingerprint: 'agent_degraded:agent-7' }, { op: 'clear', fingerprint: 'agent_failed:agent-7' }]],
  ['agent registered', 'agent.status', { agent_id: 'agent-7', status: 'registered' }, []],
  ['a degraded agent drained (not a change of health)', 'agent.status', { agent_id: 'agent-7', status: 'degraded', draining: true }, []],
  ['a healthy agent undrained', 'agent.status', { agent_id: 'agent-7', status: 'healthy', draining: false }, []],
  ['task blocked', 'task.status', { ticket_id: 'T1', task_id: 'D', status: 'blocked', reason: 'source_failed' },
    [{ op: 'clear', fingerprint: 'task_stalled:T1/D' }, { op: 'clear', fingerprint: 'ticket_stalled:T1' }, { op: 'raise', kind: 'task_blocked', fingerprint: 'task_blocked:T1/D' }]],
  ['task moves on', 'task.status', { ticket_id: 'T1', task_id: 'D', status: 'ready' },
    [{ op: 'clear', fingerprint: 'task_stalled:T1/D' }, { op: 'clear', fingerprint: 'ticket_stalled:T1' }, { op: 'clear', fingerprint: 'task_blocked:T1/D' }]],
  ['merge left unresolved', 'join.status', { ticket_id: 'T1', join_id: 'join-D', status: 'blocked', continuation: 'D', collected: 2, of: 2, reason: 'merge_conflict', files: ['a.txt'] },
    [{ op: 'raise', kind: 'merge_unresolved', fingerprint: 'merge_unresolved:T1/join-D' }]],
  ['a join blocked by a failed source (task_blocked covers it)', 'join.status', { ticket_id: 'T1', join_id: 'join-D', status: 'blocked', continuation: 'D', collected: 1, of: 2, reason: 'B failed' }, []],
  ['merge resolved', 'join.status', { ticket_id: 'T1', join_id: 'join-D', status: 'merged', continuation: 'D', collected: 2, of: 2, commit: 'a'.repeat(40) },
    [{ op: 'clear', fingerprint: 'merge_unresolved:T1/join-D' }]],
  ['a join collecting', 'join.status', { ticket_id: 'T1', join_id: 'join-D', status: 'collecting', continuation: 'D', collected: 1, of: 2 }, []],
  ['ticket failed', 'ticket.ended', { ticket_id: 'T1', status: 'failed', reason: 'task B failed' },
    [{ op: 'clear', fingerprint: 'ticket_stalled:T1' }, { op: 'raise', kind: 'ticket_failed', fingerprint: 'ticket_failed:T1' }]],
  ['ticket cancelled', 'ticket.ended', { ticket_id: 'T1', status: 'cancelled' }, [{ op: 'clear', fingerprint: 'ticket_stalled:T1' }]],
  ['ticket resumed by a retry', 'ticket.resumed', { ticket_id: 'T1', status: 'running', task_id: 'B' }, [{ op: 'clear', fingerprint: 'ticket_failed:T1' }]],
  ['ticket completed', 'ticket.completed', { ticket_id: 'T1', status: 'completed' }, [{ op: 'clear', fingerprint: 'ticket_stalled:T1' }]],
  ['delivery failed', 'ticket.delivery_failed', { ticket_id: 'T1', attempts: 8, error: 'push_failed: refused' },
    [{ op: 'raise', kind: 'delivery_failed', fingerprint: 'delivery_failed:T1', fields: { ticket_id: 'T1', error: 'push_failed: refused' } }]],
  ['delivered after a retry', 'ticket.delivered', { ticket_id: 'T1', commit: 'a'.repeat(40), attempts: 1 }, [{ op: 'clear', fingerprint: 'delivery_failed:T1' }]],
  ['actor escalated', 'actor.supervision', { actor: 'JoinActor', entity: 'T1/join-D', action: 'escalated', error: 'boom', restarts: 3 },
    [{ op: 'raise', kind: 'actor_escalated', fingerprint: 'actor_escalated:JoinActor/T1/join-D', fields: { actor: 'JoinActor', entity: 'T1/join-D', error: 'boom', ticket_id: 'T1', join_id: 'join-D' } }]],
  ['actor restarted', 'actor.supervision', { actor: 'TicketActor', entity: 'T1', action: 'restarted', restarts: 1 }, []],
  ['budget warning', 'budget.warning', { scope: 'ticket', id: 'T1', measure: 'cost_usd', spent: 8, limit: 10, share: 0.8 },
    [{ op: 'raise', kind: 'budget_warning', fingerprint: 'budget_warning:ticket/T1' }]],
  ['budget exceeded', 'budget.exceeded', { scope: 'agent', id: 'agent-7', ticket_id: 'T1', measure: 'wall_ms', spent: 1000, limit: 900, share: 1.1 },
    [{ op: 'raise', kind: 'budget_exceeded', fingerprint: 'budget_exceeded:agent/agent-7', fields: { scope: 'agent', id: 'agent-7', ticket_id: 'T1', agent_id: 'agent-7', measure: 'wall_ms', spent: '1000', limit: '900' } }]],
  ['budget raised above spend', 'budget.changed', { scope: 'ticket', id: 'T1', cost_usd: 20, wall_ms: 0, exceeded: false },
    [{ op: 'clear', fingerprint: 'budget_exceeded:ticket/T1' }, { op: 'clear', fingerprint: 'budget_warning:ticket/T1' }]],
  ['budget changed, still exceeded', 'budget.changed', { scope: 'ticket', id: 'T1', cost_usd: 5, wall_ms: 0, exceeded: true }, []],
  ['task stalled', 'task.stalled', { ticket_id: 'T1', task_id: 'B', attempt: 2, agent_id: 'agent-7', silent_ms: 600000, action: 'left' },
    [{ op: 'raise', kind: 'task_stalled', fingerprint: 'task_stalled:T1/B' }]],
  ['ticket stalled', 'ticket.stalled', { ticket_id: 'T1', status: 'running', idle_ms: 3600000 },
    [{ op: 'raise', kind: 'ticket_stalled', fingerprint: 'ticket_stalled:T1' }]],
  ['node lost', 'node.lost', { node_id: 'n1', by: 'n2', partitions: [1, 2] }, [{ op: 'raise', kind: 'node_lost', fingerprint: 'node_lost:n1' }]],
  ['node back', 'node.status', { node_id: 'n1', status: 'started', partitions: [] }, [{ op: 'clear', fingerprint: 'node_lost:n1' }]],
  ['node stopping', 'node.status', { node_id: 'n1', status: 'stopping', partitions: [] }, []],
  ['circuit open', 'breaker.state', { node_id: 'n1', breaker: 'git_remote', key: 'https://g/x.git', state: 'open', reason: 'refused' },
    [{ op: 'raise', kind: 'circuit_open', fingerprint: 'circuit_open:n1/git_remote/https://g/x.git' }]],
  ['circuit half open', 'breaker.state', { node_id: 'n1', breaker: 'git_remote', key: 'https://g/x.git', state: 'half_open' }, []],
  ['circuit closed', 'breaker.state', { node_id: 'n1', breaker: 'git_remote', key: 'https://g/x.git', state: 'closed' },
    [{ op: 'clear', fingerprint: 'circuit_open:n1/git_remote/https://g/x.git' }]],
  ['an alert command dead-lettered (no alert on alerts)', 'error.rejected', { code: 'schema_violation', reason: 'bad', subject: 'omoi.part.1.alert.raise', type: 'alert.raise', dead_letter_id: 13 }, []],
  ['an AlertActor escalated (no alert on alerts)', 'actor.supervision', { actor: 'AlertActor', entity: 'dead_letter:x', action: 'escalated', error: 'boom', restarts: 3 }, []],
  ['an event no alert cares about', 'ticket.created', { ticket_id: 'T1', title: 't', tasks: [], joins: [] }, []],
  ['an unknown event type', 'something.new', { whatever: true }, []],
];

t.test('each event maps to the expected raises and clears', async (t) => {
  for (const [name, type, payload, expected] of ROWS) {
    // Events of our protocol are checked against their schema, so the table cannot drift from it.
    if (lookup(type)) validatePayload(type, payload);
    const actions = triggersOf({ type, payload });
    t.equal(actions.length, expected.length, `${name}: ${expected.length} action(s)`);
    expected.forEach((e, i) => t.match(actions[i], e, `${name}: action ${i + 1}`));
    for (const a of actions) {
      if (a.op === 'raise') {
        t.ok(a.title.length > 0 && a.title.length <= 500, `${name}: a title a person reads`);
        t.ok(Object.values(a.fields).every((v) => typeof v === 'string'), `${name}: fields are strings`);
      }
    }
  }
});

t.test('every alert kind is raised by some event, and every raise has a clear or a person ends it', async (t) => {
  const raised = new Set(ROWS.flatMap(([, type, payload]) => triggersOf({ type, payload })).filter((a) => a.op === 'raise').map((a) => (a as { kind: string }).kind));
  t.same([...raised].sort(), [...ALERT_KINDS].sort(), 'all kinds covered');
  const cleared = new Set(ROWS.flatMap(([, type, payload]) => triggersOf({ type, payload })).filter((a) => a.op === 'clear').map((a) => a.fingerprint.split(':')[0]));
  // actor_escalated describes an end: only a person resolves it (ticket_failed also clears when a retry resumes the ticket).
  t.same([...ALERT_KINDS].filter((k) => !cleared.has(k)).sort(), ['actor_escalated'], 'every other kind clears by itself');
  t.same([...new Set(ROWS.map((r) => r[1]))].filter((type) => TRIGGER_TYPES.includes(type)).sort(), [...TRIGGER_TYPES], 'the table covers every mapped event type');
  t.same(TRIGGER_DOC.map(([event]) => event).sort(), [...TRIGGER_TYPES], 'docs/protocol.md documents every mapped event type');
});

t.test('a malformed event of a mapped type throws a MalformedTriggerEvent naming the field', async (t) => {
  const bad: Array<[string, unknown, string]> = [
    ['agent.status', { status: 'failed' }, 'agent_id'],
    ['agent.status', { agent_id: 7, status: 'failed' }, 'agent_id'],
    ['breaker.state', { node_id: 'n', breaker: 'b', key: 'k' }, 'state'],
    ['budget.exceeded', { scope: 'ticket', id: 'T1', measure: 'cost_usd', spent: 'lots', limit: 1 }, 'spent'],
    ['node.lost', { node_id: 'n', by: 'm', partitions: ['x'] }, 'partitions'],
    ['join.status', { ticket_id: 'T1', join_id: 'j', status: 'blocked', files: 'a.txt' }, 'files'],
    ['task.status', null, 'payload'],
    ['ticket.ended', ['T1'], 'payload'],
  ];
  for (const [type, payload, field] of bad) {
    let caught: unknown;
    try {
      triggersOf({ type, payload });
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof MalformedTriggerEvent, `${type}: a MalformedTriggerEvent`);
    t.equal((caught as MalformedTriggerEvent).field, field, `${type}: names ${field}`);
    t.match((caught as Error).message, /^malformed_event: /, `${type}: a stable code`);
  }
  t.same(triggersOf({ type: 'no.such.event', payload: null }), [], 'an unknown type is ignored whatever its payload');
});

t.test('long text is clipped to what the alert.raise schema takes', async (t) => {
  const [a] = triggersOf({ type: 'actor.supervision', payload: { actor: 'TicketActor', entity: 'T1', action: 'escalated', error: 'x'.repeat(10_000), restarts: 3 } });
  t.ok(a && a.op === 'raise');
  if (a?.op !== 'raise') return;
  validatePayload('alert.raise', { kind: a.kind, fingerprint: a.fingerprint, title: a.title, fields: a.fields });
  t.ok(a.title.length <= 500);
});
