import { isTerminal, TaskState, TicketState } from '../dag/index.ts';
import { NotFoundError, TerminalError } from '../errors.ts';
import { failpoint } from '../failpoints.ts';
import { prepareTicketClone, refreshTicketClone, ticketRepoDir } from '../git/index.ts';
import { TaskEntity, TicketEntity, toTask, toTicket, type EntityManager } from '../persistence/index.ts';
import { ActorType, type Envelope, type PayloadOf } from '../protocol/index.ts';
import type { CommandMail } from './actor-runtime.ts';
import type { ActorContext, EntityBehavior } from './entity-host.ts';
import { approve, reject } from './ticket/approvals.ts';
import { create } from './ticket/create.ts';
import { deliver, deliveryReport } from './ticket/delivery.ts';
import { add, split } from './ticket/dynamic-dag.ts';
import { agentAdd, agentSplit } from './ticket/agent-discovery.ts';
import { cancelTicket, finalize } from './ticket/finish.ts';
import { mergeFinished, resolve, wake } from './ticket/joins.ts';
import { chargeAttempt, chargeLateAttempt, setBudget } from './ticket/budget.ts';
import { assertReporter, cancelTask, complete, expire, fail, live, retryDue, started } from './ticket/lifecycle.ts';
import { schedule } from './ticket/schedule.ts';
import { retryTask } from './ticket/retry.ts';
import { progress, stall, ticketStall } from './ticket/stalls.ts';
import { save, type TicketActorState, type TicketDeps, type Work } from './ticket/work.ts';
import { detachedScope } from '../messaging/detached-scope.ts';
import { emit, send } from '../messaging/typed.ts';

export { taskBranch } from './ticket/branch.ts';
export type { TicketActorState, TicketDeps } from './ticket/work.ts';

/** The commands of an existing ticket, each with its typed handler. */
type TicketCommand =
  | 'ticket.cancel' | 'ticket.wake' | 'ticket.finalize' | 'ticket.set_budget' | 'ticket.stall'
  | 'ticket.approve' | 'ticket.reject' | 'ticket.deliver' | 'ticket.delivery_report'
  | 'task.started' | 'task.progress' | 'task.complete' | 'task.fail' | 'task.expire' | 'task.stall' | 'task.retry_due' | 'task.add' | 'task.split' | 'task.cancel' | 'task.retry'
  | 'task.agent_add' | 'task.agent_split'
  | 'merge.finished' | 'merge.resolve';

type Handler<T extends TicketCommand> = (w: Work, payload: PayloadOf<T>) => void | Promise<void>;

/**
 * An attempt's report, then its usage charged (src/actors/ticket/budget.ts): only the live
 * attempt's, so once per attempt, and after the report changed its task (a stop on reaching the
 * budget then finds it no longer running). The outcome is what the report made of the task (a
 * completion whose commit was refused failed). A late report of an earlier attempt is charged
 * once too (`chargeLateAttempt`).
 */
function charged<T extends 'task.complete' | 'task.fail'>(report: Handler<T>): Handler<T> {
  return async (w, p) => {
    const attempt = live(w, p);
    await report(w, p);
    if (attempt) chargeAttempt(w, attempt, w.s.tasks.get(attempt.id)?.status === TaskState.completed ? 'completed' : 'failed', p.usage);
    else await chargeLateAttempt(w, p);
  };
}

/**
 * One handler per command. `full`: after it any pending task may have become schedulable, so
 * the scheduler looks at all of them; otherwise only at the tasks the message touched.
 */
const HANDLERS: { [T in TicketCommand]: { run: Handler<T>; full?: true } } = {
  'ticket.cancel': { run: cancelTicket },
  'ticket.wake': { run: wake, full: true },
  'ticket.finalize': { run: finalize },
  'ticket.set_budget': { run: setBudget, full: true },
  'ticket.stall': { run: ticketStall },
  'ticket.approve': { run: approve, full: true },
  'ticket.reject': { run: reject },
  'ticket.deliver': { run: deliver },
  'ticket.delivery_report': { run: deliveryReport },
  'task.started': { run: started },
  'task.progress': { run: progress },
  'task.stall': { run: stall },
  'task.complete': { run: charged(complete) },
  'task.fail': { run: charged((w, p) => fail(w, p)) },
  'task.expire': { run: expire },
  'task.retry_due': { run: retryDue },
  'task.add': { run: add, full: true },
  'task.split': { run: split, full: true },
  'task.agent_add': { run: agentAdd, full: true },
  'task.agent_split': { run: agentSplit, full: true },
  'task.cancel': { run: cancelTask },
  'task.retry': { run: retryTask, full: true },
  'merge.finished': { run: mergeFinished },
  'merge.resolve': { run: resolve, full: true },
};

/** An agent's reports of its attempt: signed ones must be that agent's (`assertReporter`). */
const REPORTS = new Set<string>(['task.started', 'task.progress', 'task.complete', 'task.fail']);

const isTicketCommand = (type: string): type is TicketCommand => Object.hasOwn(HANDLERS, type);

/**
 * TicketActor: one per ticket. Owns the ticket row and its task rows; every change to them
 * happens here, in the order the ticket's partition delivers its commands. It asks downwards
 * only (OwnershipActor, JoinActor, in the same transaction); agents and merges answer with
 * durable commands (`task.complete`, `task.fail`, `merge.finished`, `ticket.finalize`).
 *
 * Each message: its typed handler (src/actors/ticket/) changes the state, then the scheduler's
 * decisions (src/dag/scheduler.ts) are applied (`schedule`), then the changed rows are written.
 */
export class TicketBehavior implements EntityBehavior<TicketActorState, CommandMail> {
  readonly type = ActorType.TicketActor;

  constructor(private readonly deps: TicketDeps) {}

  async hydrate(em: EntityManager, id: string): Promise<TicketActorState> {
    const row = await em.findOne(TicketEntity, { id }, { disableIdentityMap: true });
    const tasks = row ? await em.find(TaskEntity, { ticket_id: id }, { disableIdentityMap: true }) : [];
    // Plain copies: an ORM-managed row carries its change-tracking data, a few KiB per idle actor.
    return { ticket: row ? toTicket({ ...row }) : undefined, tasks: new Map(tasks.map((t) => [t.id, toTask({ ...t })])) };
  }

  async handle(state: TicketActorState, mail: CommandMail, ctx: ActorContext): Promise<{ state: TicketActorState }> {
    const { env } = mail;
    failpoint('ticket.handle', env.type); // a test's crash of the actor, up to its escalation
    const base = { ctx, dirty: new Set<string>(), deps: this.deps, repoDir: (ticketId: string) => this.repoDir(ticketId), source: env.source };
    if (env.type === 'ticket.create') {
      // The codec validated the payload against the command's schema before it got here.
      const w = await create(base, state.ticket, env.payload as PayloadOf<'ticket.create'>);
      await schedule(w, 'all');
      save(w, w.s.ticket);
      return { state: w.s };
    }
    if (!isTicketCommand(env.type)) throw new TerminalError('unsupported_command', `TicketActor cannot handle ${env.type}`);
    const ticket = this.existing(state, env.payload);
    const w: Work = { ...base, s: { ticket, tasks: new Map(state.tasks) } };
    const handler = HANDLERS[env.type] as { run: Handler<TicketCommand>; full?: true };
    if (REPORTS.has(env.type)) assertReporter(w, env.source, env.payload as PayloadOf<'task.started'>);
    await handler.run(w, env.payload as PayloadOf<TicketCommand>);
    await schedule(w, handler.full ? 'all' : w.dirty);
    // The ticket row is written only when this message replaced it (changes never mutate it in place).
    save(w, w.s.ticket === ticket ? undefined : w.s.ticket);
    return { state: w.s };
  }

  /**
   * Before the transaction (see `EntityBehavior.prepare`): `ticket.create` clones or fetches the
   * repository into the node's shared clone and links `repos/<ticket>` to it; `merge.resolve`
   * with a commit fetches the resolution. The handlers then only check the link.
   */
  async prepare(env: Envelope): Promise<void> {
    if (env.type === 'ticket.create') {
      const p = env.payload as PayloadOf<'ticket.create'>;
      await prepareTicketClone(this.deps.dataDir, p.ticket_id, p.repository);
    } else if (env.type === 'merge.resolve' && 'commit' in (env.payload as PayloadOf<'merge.resolve'>)) {
      await refreshTicketClone(this.deps.dataDir, (env.payload as PayloadOf<'merge.resolve'>).ticket_id);
    }
  }

  /**
   * Escalation. Those who wait for the ticket's end are told, as `endTicket` tells them: its
   * watchers (`ticket.ended`) and its spec (`spec.ticket_ended`), which would otherwise wait
   * for a ticket that never ends.
   */
  async markFailed(em: EntityManager, id: string, reason: string): Promise<void> {
    const before = await em.findOne(TicketEntity, { id }, { fields: ['status', 'spec_id', 'spec_phase', 'head'] });
    await em.nativeUpdate(TicketEntity, { id }, { status: TicketState.failed, failed_reason: reason, updated_at: new Date() });
    if (!before || isTerminal(before.status as TicketState)) return; // an ended ticket is not ended again
    const { scope, finish } = detachedScope(em, { ...this.deps.messages, entity: 'ticket', id, cause: `escalated-ticket-${id}-${Date.now()}` });
    const why = reason.slice(0, 2000);
    emit(scope, 'ticket.ended', { ticket_id: id, status: TicketState.failed, reason: why });
    if (before.spec_id && before.spec_phase) {
      send(scope, 'spec.ticket_ended', {
        spec_id: before.spec_id, ticket_id: id, phase: before.spec_phase as PayloadOf<'spec.ticket_ended'>['phase'], status: TicketState.failed,
        ...(before.head ? { head: before.head } : {}), reason: why,
      });
    }
    await finish();
  }

  /** Omoi's clone of the ticket's repository on this node. */
  private repoDir(ticketId: string): string {
    return ticketRepoDir(this.deps.dataDir, ticketId); // a link to the node's shared clone of the repository
  }

  private existing(state: TicketActorState, payload: unknown) {
    if (!state.ticket) throw new NotFoundError('ticket', (payload as { ticket_id: string }).ticket_id);
    if (state.ticket.status === TicketState.failed && state.ticket.failed_reason) {
      throw new TerminalError('entity_failed', `ticket ${state.ticket.id} failed: ${state.ticket.failed_reason}`);
    }
    return state.ticket;
  }
}
