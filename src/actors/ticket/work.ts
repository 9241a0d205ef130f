import { assertTransition, isActive } from '../../dag/index.ts';
import type { PublishCommand } from '../../executor/command-publisher.ts';
import type { BudgetDefaults, Charge } from '../../budget/index.ts';
import type { CommitStore } from '../../git/index.ts';
import { emit, send } from '../../messaging/typed.ts';
import { TaskEntity, TicketEntity, fromTask, type Task, type Ticket } from '../../persistence/index.ts';
import type { PayloadOf } from '../../protocol/index.ts';
import type { AgentDirectory } from '../agent-directory.ts';
import type { ActorContext, EntityHost } from '../entity-host.ts';
import type { JoinMail, JoinReply } from '../join-actor.ts';
import type { MergeSupervisor } from '../merge-actor.ts';
import type { ClaimReply, OwnershipMail } from '../ownership-actor.ts';
import type { TaskRecall } from '../../memory/index.ts';

export interface TicketDeps {
  /** Node data directory: Omoi's clones live in `<dataDir>/repos/<ticket>`. */
  dataDir: string;
  ownership: () => EntityHost<unknown, OwnershipMail>;
  joins: () => EntityHost<unknown, JoinMail>;
  /** Final merges of several sinks (`finalize`), run by a MergeActor under the node's supervisor. */
  merges: MergeSupervisor;
  publish: PublishCommand;
  /** Where commits travel between nodes (the ticket's head is fetched before its branch is set). */
  commits: CommitStore;
  /** The agents tasks may be offered to (a short-lived snapshot, see there). */
  agents: AgentDirectory;
  /** First retry delay of a failed attempt, doubled per attempt (default 500 ms, at most 60 s). */
  retryBaseMs?: number;
  /** Warn share and policy at 100 % of budgets that do not set them (OMOI_BUDGET_*). */
  budgetDefaults: BudgetDefaults;
  /** `max_conflicts_auto_resolve` of a ticket that does not set it (OMOI_MAX_CONFLICTS_AUTO_RESOLVE; null: no limit). */
  maxConflictsAutoResolve?: number | null;
  /** The node's push dispatcher, woken after a transaction asked for a push (it polls anyway). */
  pushes?: { wake(): void };
  /** Told, after the commit, of each attempt's recorded usage (the node's `/metrics` counters). */
  onUsage?: (charge: Charge, outcome: 'completed' | 'failed') => void;
  /** The cluster's partition count and this node's id: an escalation's messages go through the outbox with them. */
  messages: { partitions: number; source: string };
  /** Recalls the repository's memory of past work into a starting task's context (`context.memory`); never throws. */
  memory?: TaskRecall;
}

/** In-memory state of one ticket: its row and its tasks, keyed by task id (decoded rows). */
export interface TicketActorState {
  ticket: Ticket | undefined;
  tasks: Map<string, Task>;
}

/**
 * One message's work on a ticket: the state being changed (rows are replaced, never mutated
 * in place, so the state before the message stays intact should it fail) and the tasks it
 * touched (written at the end, and the only ones the scheduler re-examines).
 */
export interface Work {
  s: { ticket: Ticket; tasks: Map<string, Task> };
  ctx: ActorContext;
  dirty: Set<string>;
  deps: TicketDeps;
  /** The ticket's clone directory (see `TicketBehavior.repoDir`). */
  repoDir: (ticketId: string) => string;
  /** Who sent the message (its envelope's `source`: a node, `http:<principal>`, `agent:<id>`). */
  source?: string;
}

/** A `task.status` event's extra fields, or `false` for none. */
type StatusEvent = Partial<PayloadOf<'task.status'>> | false;

/**
 * Changes a task. A change of state goes through the transition table of src/dag/states.ts
 * (throws `illegal_transition`), leaves `unmatched` behind, and emits `task.status`.
 */
export function setTask(w: Work, id: string, patch: Partial<Task>, event: StatusEvent = {}): Task {
  const prev = w.s.tasks.get(id)!;
  const changes = patch.status !== undefined && patch.status !== prev.status;
  if (changes) assertTransition(prev.status, patch.status!, id);
  const next: Task = { ...prev, ...(changes ? { unmatched: false } : {}), ...patch, updated_at: w.ctx.scope.now, version: prev.version + 1 };
  w.s.tasks.set(id, next);
  w.dirty.add(id);
  if (event !== false && changes) {
    emit(w.ctx.scope, 'task.status', {
      ticket_id: next.ticket_id, task_id: id, status: next.status, attempt: next.attempt,
      ...(next.reason ? { reason: next.reason } : {}), ...(next.commit ? { commit: next.commit } : {}),
      ...(next.base_commit ? { base: next.base_commit } : {}), ...(next.agent_id ? { agent_id: next.agent_id } : {}), ...event,
    });
  }
  return next;
}

/** Replaces the ticket row (written at the end of the message). */
export function setTicket(w: Work, patch: Partial<Ticket>): Ticket {
  const prev = w.s.ticket;
  w.s.ticket = { ...prev, ...patch, updated_at: w.ctx.scope.now, version: prev.version + 1 };
  return w.s.ticket;
}

/**
 * Tells the agent of an active attempt that it ended, so it frees the slot; `stop` when it ended
 * without the agent's report (cancelled, expired), so a process still running it is stopped.
 */
export function endedOnAgent(w: Work, t: Task, o: { stop?: boolean } = {}): void {
  if (t.agent_id && isActive(t)) {
    send(w.ctx.scope, 'agent.task_ended', { agent_id: t.agent_id, ticket_id: t.ticket_id, task_id: t.id, attempt: t.attempt, ...(o.stop ? { stop: true } : {}) });
  }
}

export async function askJoin(w: Work, joinId: string, mail: JoinMail): Promise<JoinReply> {
  return (await w.deps.joins().ask(`${w.s.ticket.id}/${joinId}`, mail, w.ctx.scope)) as JoinReply;
}

export async function claim(w: Work, taskId: string, globs: readonly string[]): Promise<ClaimReply> {
  return (await w.deps.ownership().ask(w.s.ticket.id, { kind: 'claim', ticketId: w.s.ticket.id, taskId, globs: [...globs] }, w.ctx.scope)) as ClaimReply;
}

/** Frees a task's claims; the task ids granted as a result. */
export async function releaseClaims(w: Work, taskId: string): Promise<string[]> {
  return (await w.deps.ownership().ask(w.s.ticket.id, { kind: 'release', ticketId: w.s.ticket.id, taskId }, w.ctx.scope)) as string[];
}

/** Write-behind of the rows a message changed: the ticket (if replaced) and the dirty tasks. */
export function save(w: Work, ticket: Ticket | undefined): void {
  if (ticket) w.ctx.scope.uow.upsert(TicketEntity, ['id'], ticket);
  for (const id of w.dirty) w.ctx.scope.uow.upsert(TaskEntity, ['ticket_id', 'id'], fromTask(w.s.tasks.get(id)!));
}
