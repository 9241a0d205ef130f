import type { AttemptUsageRow, Database } from '../persistence/index.ts';

/** One attempt of a task as the task view shows it. */
export interface TaskAttemptView {
  attempt: number;
  agent_id: string | null;
  /** When it was assigned, started, and ended (ISO; null: not seen). */
  assigned_at: string | null; started_at: string | null; ended_at: string | null;
  /** Its last state (`assigned`, `running`, `completed`, `failed`, `ready` = failed and retried, …). */
  status: string | null;
  reason: string | null;
  /** What its report said it used (`attempt_usage`), null before it reported. */
  outcome: string | null; usage: Record<string, unknown> | null;
  /** How the task's check ended in this attempt (its `task.check_passed` / `task.check_failed` event); null: it did not run (or no check). */
  check: { passed: boolean; exit_code: number | null; timed_out: boolean; output: string } | null;
}

/** At most this many `task.status` (and check) events are read per task: a task retried without end stays readable. */
const MAX_STATUS_EVENTS = 2000;

/**
 * A task's attempts, 1…`upTo`, from its `task.status` events (times, agent, state, reason), its
 * check events (`check`) and its `omoi_attempt_usage` rows (outcome, usage). An attempt whose events were pruned by
 * retention shows only what its usage row says.
 */
export async function taskAttempts(db: Database, ticketId: string, taskId: string, upTo: number, usage: AttemptUsageRow[]): Promise<TaskAttemptView[]> {
  type Payload = { attempt?: number; status?: string; agent_id?: string; reason?: string; exit_code?: number | null; timed_out?: boolean; output?: string };
  const rows: { type: string; payload: Payload; time: Date | string }[] = await db.em().getConnection().execute(
    `select type, payload, time from omoi_event where ticket_id = ? and type in ('task.status', 'task.check_passed', 'task.check_failed') and payload->>'task_id' = ? order by id limit ${MAX_STATUS_EVENTS}`,
    [ticketId, taskId],
  );
  const byAttempt = new Map<number, TaskAttemptView>();
  const view = (n: number): TaskAttemptView => {
    let a = byAttempt.get(n);
    if (!a) byAttempt.set(n, (a = { attempt: n, agent_id: null, assigned_at: null, started_at: null, ended_at: null, status: null, reason: null, outcome: null, usage: null, check: null }));
    return a;
  };
  for (let n = 1; n <= upTo; n++) view(n);
  for (const { type, payload: p, time } of rows) {
    if (typeof p.attempt !== 'number' || p.attempt < 1) continue;
    if (type !== 'task.status') {
      view(p.attempt).check = { passed: type === 'task.check_passed', exit_code: p.exit_code ?? (type === 'task.check_passed' ? 0 : null), timed_out: p.timed_out ?? false, output: p.output ?? '' };
      continue;
    }
    if (!p.status) continue;
    const a = view(p.attempt);
    const at = new Date(time).toISOString();
    if (p.agent_id) a.agent_id = p.agent_id;
    if (p.status === 'assigned') a.assigned_at ??= at;
    else if (p.status === 'running') a.started_at ??= at;
    else a.ended_at = at;
    a.status = p.status;
    a.reason = p.reason ?? null;
  }
  for (const u of usage) {
    const a = view(u.attempt);
    a.outcome = u.outcome;
    a.usage = u.usage;
    a.agent_id ??= u.agent_id;
    a.ended_at ??= new Date(u.recorded_at).toISOString();
  }
  return [...byAttempt.values()].sort((x, y) => x.attempt - y.attempt);
}
