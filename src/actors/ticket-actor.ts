import { validateTasks, joinsFor, TicketState, TaskState, assertTicketTransition, isTerminal as isTerminalState, type TaskSpec } from '../dag/index.ts';
import { NotFoundError, TerminalError } from '../errors.ts';
import type { EntityManager } from '../persistence/index.ts';
import { TaskEntity, TicketEntity, type TaskRow, type TicketRow } from '../persistence/index.ts';
import { ActorType, type Envelope } from '../protocol/index.ts';
import type { CommandMail } from './actor-runtime.ts';
import type { ActorContext, EntityBehavior } from './entity-host.ts';

/** In-memory state of one ticket: its row and its tasks, keyed by task id. */
export interface TicketActorState {
  ticket: TicketRow | undefined;
  tasks: Map<string, TaskRow>;
}

type CreatePayload = {
  ticket_id: string; title: string; repository: string; base_branch: string; tasks: TaskSpec[];
  ownership: string; resolver_command?: string; check_command?: string;
};

/**
 * TicketActor: one per ticket. Owns the ticket row and its task rows; every change to them
 * happens here, in the order the ticket's partition delivers its commands.
 */
export class TicketBehavior implements EntityBehavior<TicketActorState, CommandMail> {
  readonly type = ActorType.TicketActor;

  async hydrate(em: EntityManager, id: string): Promise<TicketActorState> {
    const ticket = (await em.findOne(TicketEntity, { id })) ?? undefined;
    const tasks = ticket ? await em.find(TaskEntity, { ticket_id: id }) : [];
    if (ticket) em.clear();
    return { ticket, tasks: new Map(tasks.map((t) => [t.id, t])) };
  }

  async handle(state: TicketActorState, mail: CommandMail, ctx: ActorContext): Promise<{ state: TicketActorState }> {
    const env = mail.env;
    switch (env.type) {
      case 'ticket.create':
        return { state: this.create(state, env as Envelope<CreatePayload>, ctx) };
      case 'ticket.cancel':
        return { state: this.cancel(this.existing(state, env), (env.payload as { reason?: string }).reason ?? 'cancelled', ctx) };
      default:
        throw new TerminalError('unsupported_command', `TicketActor cannot handle ${env.type}`);
    }
  }

  async markFailed(em: EntityManager, id: string, reason: string): Promise<void> {
    await em.nativeUpdate(TicketEntity, { id }, { status: TicketState.failed, failed_reason: reason, updated_at: new Date() });
  }

  private existing(state: TicketActorState, env: Envelope): TicketActorState & { ticket: TicketRow } {
    if (!state.ticket) throw new NotFoundError('ticket', (env.payload as { ticket_id: string }).ticket_id);
    if (state.ticket.status === TicketState.failed && state.ticket.failed_reason) {
      throw new TerminalError('entity_failed', `ticket ${state.ticket.id} failed: ${state.ticket.failed_reason}`);
    }
    return state as TicketActorState & { ticket: TicketRow };
  }

  private create(state: TicketActorState, env: Envelope<CreatePayload>, ctx: ActorContext): TicketActorState {
    const p = env.payload;
    if (state.ticket) throw new TerminalError('duplicate_ticket', `ticket ${JSON.stringify(p.ticket_id)} already exists`, { ticket_id: p.ticket_id }, 409);
    validateTasks(p.tasks);
    const now = ctx.scope.now;
    const ticket: TicketRow = {
      id: p.ticket_id, title: p.title, repository: p.repository, base_branch: p.base_branch, base_commit: null,
      status: TicketState.open, ownership: p.ownership, resolver_command: p.resolver_command ?? null, check_command: p.check_command ?? null,
      head: null, reason: null, failed_reason: null, created_at: now, updated_at: now, version: 1,
    };
    const tasks = new Map<string, TaskRow>();
    for (const spec of p.tasks) {
      tasks.set(spec.id, {
        ticket_id: p.ticket_id, id: spec.id, spec: spec as unknown as Record<string, unknown>, depends_on: spec.depends_on, owns: spec.owns,
        status: TaskState.pending, attempt: 0, base_commit: null, commit: null, result: null, reason: null, agent_id: null,
        context: null, ready_since: null, created_at: now, updated_at: now, version: 1,
      });
    }
    this.save(ctx, ticket, [...tasks.values()]);
    ctx.scope.emit('ticket.created', { ticket_id: ticket.id, title: ticket.title, tasks: [...tasks.keys()], joins: joinsFor(p.tasks).map((j) => j.joinId) });
    return { ticket, tasks };
  }

  private cancel(state: TicketActorState & { ticket: TicketRow }, reason: string, ctx: ActorContext): TicketActorState {
    assertTicketTransition(state.ticket.status as TicketState, TicketState.cancelled, state.ticket.id);
    const now = ctx.scope.now;
    const ticket = { ...state.ticket, status: TicketState.cancelled, reason, updated_at: now, version: state.ticket.version + 1 };
    const tasks = new Map(state.tasks);
    for (const [id, task] of tasks) {
      if (isTerminalState(task.status as TaskState)) continue;
      tasks.set(id, { ...task, status: TaskState.cancelled, reason: `ticket cancelled: ${reason}`, updated_at: now, version: task.version + 1 });
      ctx.scope.emit('task.status', { ticket_id: ticket.id, task_id: id, status: TaskState.cancelled, reason });
    }
    this.save(ctx, ticket, [...tasks.values()]);
    ctx.scope.emit('ticket.ended', { ticket_id: ticket.id, status: ticket.status, reason });
    return { ticket, tasks };
  }

  private save(ctx: ActorContext, ticket: TicketRow, tasks: TaskRow[]): void {
    ctx.scope.uow.upsert(TicketEntity, ['id'], ticket);
    for (const task of tasks) ctx.scope.uow.upsert(TaskEntity, ['ticket_id', 'id'], task);
  }
}
