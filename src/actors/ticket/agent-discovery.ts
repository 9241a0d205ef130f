import { isActive } from '../../dag/index.ts';
import { ConflictError, NotFoundError, TerminalError } from '../../errors.ts';
import { agentOfSource, type PayloadOf } from '../../protocol/index.ts';
import { add, split } from './dynamic-dag.ts';
import type { Work } from './work.ts';

/**
 * Discovery by a remote agent (`task.agent_add`, `task.agent_split`): the same change as
 * `task.add` / `task.split`, allowed only to the agent that runs the named attempt, while it is
 * the task's live one. The ingress router has checked the signature and set the source to
 * `agent:<id>`; a message without that source (a node or a client that sent it another way) is
 * refused like another agent's.
 */
function assertRunsAttempt(w: Work, p: { task_id: string; attempt: number; agent_id: string }): void {
  const agent = agentOfSource(w.source ?? '');
  if (agent === undefined || agent !== p.agent_id) {
    throw new TerminalError('wrong_agent', `task.agent_add and task.agent_split must be signed by agent ${p.agent_id} (source ${JSON.stringify(w.source ?? '')})`, { agent_id: p.agent_id });
  }
  const t = w.s.tasks.get(p.task_id);
  if (!t) throw new NotFoundError('task', `${w.s.ticket.id}/${p.task_id}`);
  if (t.agent_id !== agent) {
    throw new TerminalError('wrong_agent', `task ${w.s.ticket.id}/${p.task_id} is ${t.agent_id ? `run by agent ${t.agent_id}` : 'not run by an agent'}, not by ${agent}`, { agent_id: agent });
  }
  if (t.attempt !== p.attempt || !isActive(t)) {
    throw new ConflictError('not_running', `attempt ${p.attempt} of task ${w.s.ticket.id}/${p.task_id} is not running (the task is ${t.status}, attempt ${t.attempt ?? 0})`);
  }
}

export async function agentAdd(w: Work, p: PayloadOf<'task.agent_add'>): Promise<void> {
  assertRunsAttempt(w, p);
  await add(w, { ticket_id: p.ticket_id, task: p.task });
}

export async function agentSplit(w: Work, p: PayloadOf<'task.agent_split'>): Promise<void> {
  assertRunsAttempt(w, p);
  await split(w, { ticket_id: p.ticket_id, task_id: p.task_id, tasks: p.tasks, continuation: p.continuation });
}
