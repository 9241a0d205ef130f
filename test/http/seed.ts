import {
  AgentEntity, DeadLetterEntity, EventLogEntity, JoinEntity, JoinSourceEntity, MergeAttemptEntity, NodeEntity, PartitionLeaseEntity, TaskEntity, TicketEntity,
  type Database,
} from '../../src/persistence/index.ts';

const SHA = (c: string) => c.repeat(40);

/**
 * Rows of one ticket as the actors would leave them: a diamond A → (B, C) → D → E whose
 * merge conflicted on `config.py`, so D is blocked with reason `merge_conflict`, and a few
 * of its events.
 */
export async function seedBlockedDiamond(db: Database, ticketId = 'T-diamond'): Promise<void> {
  const em = db.em();
  const { at, task } = seedRunningTicket(em, ticketId, 'Diamond with a conflicting merge', (s) => ({ ready_since: null, created_at: s, updated_at: s }));
  task('A', [], 'completed', 0, { commit: SHA('1') });
  task('B', ['A'], 'completed', 1, { commit: SHA('2'), agent_id: 'agent-1' });
  task('C', ['A'], 'completed', 2, { commit: SHA('3'), agent_id: 'agent-1' });
  task('D', ['B', 'C'], 'blocked', 3, { reason: 'merge_conflict' });
  task('E', ['D'], 'pending', 4);
  em.create(JoinEntity, {
    ticket_id: ticketId, id: 'join-D', continuation: 'D', sources: ['B', 'C'],
    status: 'blocked', strategy: 'combine', synthesis: null, merge_commit: null, reason: 'merge_conflict', files: ['config.py'],
    attempts: 1, created_at: at(3), updated_at: at(5), version: 1,
  });
  em.create(JoinSourceEntity, { ticket_id: ticketId, join_id: 'join-D', source: 'B', commit: SHA('2'), result: { summary: 'b' }, completed_at: at(1) });
  em.create(JoinSourceEntity, { ticket_id: ticketId, join_id: 'join-D', source: 'C', commit: SHA('3'), result: { summary: 'c' }, completed_at: at(2) });
  em.create(MergeAttemptEntity, {
    ticket_id: ticketId, join_id: 'join-D', attempt: 1, ok: false, commit: null, merge_order: ['C', 'B'],
    conflicts: { B: ['config.py'], C: [] }, resolutions: [], files: ['config.py'], resolver_output: 'no resolver configured',
    duration_ms: 12, created_at: at(5),
  });
  const event = (n: number, type: string, payload: Record<string, unknown>) =>
    em.create(EventLogEntity, { message_id: `evt-${ticketId}-${n}`, type, ticket_id: ticketId, entity: ticketId, payload, time: at(n) });
  event(1, 'ticket.created', { ticket_id: ticketId, title: 'Diamond', tasks: ['A', 'B', 'C', 'D', 'E'], joins: ['join-D'] });
  event(2, 'task.status', { ticket_id: ticketId, task_id: 'A', status: 'completed' });
  event(3, 'merge.attempted', { ticket_id: ticketId, join_id: 'join-D', ok: false, order: ['C', 'B'], conflicts: { B: ['config.py'], C: [] }, files: ['config.py'], duration_ms: 12 });
  event(4, 'task.status', { ticket_id: ticketId, task_id: 'D', status: 'blocked', reason: 'merge_conflict' });
  await em.flush();
}

/** What is not a ticket's: an agent, a node holding partition 0, an open dead letter. */
export async function seedCluster(db: Database): Promise<void> {
  const em = db.em();
  const at = (s: number) => new Date(Date.parse('2026-01-01T10:00:00Z') + s * 1000);
  em.create(AgentEntity, {
    id: 'agent-1', name: 'coder-1', phase: 'execute', capabilities: ['git', 'typescript'], agent_version: '1.0.0', kind: 'local',
    public_key: null, status: 'healthy', capacity: 2, running: [], registered_at: at(0), last_heartbeat_at: at(5), restarts: 0,
    restart_window_start: null, reason: null, updated_at: at(5), version: 1,
  });
  em.create(NodeEntity, { id: 'node-1', started_at: at(0), heartbeat_at: at(5), http_url: 'http://127.0.0.1:7070', status: 'alive' });
  em.create(PartitionLeaseEntity, { partition: 0, node_id: 'node-1', epoch: 3, expires_at: at(60) });
  em.create(DeadLetterEntity, {
    message_id: 'bad-1', subject: 'omoi.in.task.complete', type: 'task.complete', code: 'schema_violation',
    reason: '/payload/attempt: Expected integer', body: '{"attempt":"x"}', deliveries: 1, status: 'open', created_at: at(4), resolved_at: null,
  });
  await em.flush();
}

/** An event row of another ticket, to check filtering. */
export async function seedEvent(db: Database, messageId: string, ticketId: string | null, type = 'task.status'): Promise<number> {
  const em = db.em();
  const row = em.create(EventLogEntity, { message_id: messageId, type, ticket_id: ticketId, entity: ticketId, payload: { ticket_id: ticketId }, time: new Date() });
  await em.flush();
  return Number(row.id);
}

/**
 * A ticket A → F1..F`fan` → J as the actors would leave it mid-run: A completed, the fan-out's
 * tasks in the given statuses (in order: `completed` of them completed, then `running`, the rest
 * pending), J pending behind its join `join-J`, which collected the completed ones.
 */
export async function seedFanOut(db: Database, ticketId: string, counts: { fan: number; completed: number; running: number }): Promise<void> {
  const em = db.em();
  const { at, task } = seedRunningTicket(em, ticketId, 'One, two hundred, one', (s, status) => ({ ready_since: status === 'pending' ? null : s, created_at: 0, updated_at: s + 2 }));
  task('A', [], 'completed', 0, { commit: SHA('1') });
  const fan = Array.from({ length: counts.fan }, (_, i) => `F${i + 1}`);
  fan.forEach((id, i) => task(id, ['A'], i < counts.completed ? 'completed' : i < counts.completed + counts.running ? 'running' : 'pending', 3 + (i % 7), i < counts.completed ? { commit: SHA('2') } : {}));
  task('J', fan, 'pending', 20);
  em.create(JoinEntity, {
    ticket_id: ticketId, id: 'join-J', continuation: 'J', sources: fan,
    status: 'collecting', strategy: 'combine', synthesis: null, merge_commit: null, reason: null, files: null,
    attempts: 0, created_at: at(0), updated_at: at(9), version: 1,
  });
  for (const id of fan.slice(0, counts.completed)) {
    em.create(JoinSourceEntity, { ticket_id: ticketId, join_id: 'join-J', source: id, commit: SHA('2'), result: null, completed_at: at(9) });
  }
  await em.flush();
}

/**
 * A running ticket row (strict ownership, base `aaaa…`, created 2026-01-01 10:00) and a maker of
 * its task rows: `task(id, depends_on, status, s, extra)`, `s` seconds after that time; `times`
 * says which seconds the task's `ready_since`/`created_at`/`updated_at` are.
 */
function seedRunningTicket(em: ReturnType<Database['em']>, ticketId: string, title: string,
  times: (s: number, status: string) => { ready_since: number | null; created_at: number; updated_at: number }) {
  const t0 = Date.parse('2026-01-01T10:00:00Z');
  const at = (s: number) => new Date(t0 + s * 1000);
  em.create(TicketEntity, {
    id: ticketId, title, repository: '/srv/repos/app', base_branch: 'main', base_commit: SHA('a'),
    status: 'running', ownership: 'strict', resolver_command: null, check_command: null, head: null, reason: null, failed_reason: null,
    created_at: at(0), updated_at: at(5), version: 1,
  });
  const task = (id: string, depends_on: string[], status: string, s: number, extra: Partial<Record<string, unknown>> = {}) => {
    const when = times(s, status);
    return em.create(TaskEntity, {
      ticket_id: ticketId, id, spec: { id, title: `task ${id}`, depends_on, run: `make ${id}`, phase: 'execute' }, depends_on, owns: [`src/${id}/**`],
      status, attempt: status === 'pending' ? 0 : 1, base_commit: null, commit: null, result: null, reason: null, agent_id: null,
      context: null, ready_since: when.ready_since === null ? null : at(when.ready_since), created_at: at(when.created_at), updated_at: at(when.updated_at),
      version: 1, ...extra,
    });
  };
  return { at, task };
}
