import nact from 'nact';
import { isTerminal, RetryableError, errorMessage } from '../errors.ts';
import { isDatabaseOutage } from '../persistence/outage.ts';
import type { Logger } from '../logging/logger.ts';
import type { MessageScope } from '../messaging/unit-of-work.ts';
import type { Metrics } from '../metrics.ts';
import type { Database, EntityManager } from '../persistence/index.ts';
import type { ActorType, Envelope } from '../protocol/index.ts';
import { RestartBudget, type SupervisionOptions } from './supervision.ts';

const { spawn, dispatch, query, stop } = nact;
type Ref = nact.Ref<any>;

/** What a behaviour sees while it handles one message. */
export interface ActorContext {
  /** The entity id of this actor. */
  id: string;
  /** Transaction, clock, and the producer of events/commands caused by the current message. */
  scope: MessageScope;
  /** The nact reference of this actor (to spawn children such as a MergeActor). */
  self: Ref;
}

/**
 * The logic of one actor type. State lives in memory while the actor is alive and is
 * re-hydrated from PostgreSQL (inside the current transaction) when it is not.
 */
export interface EntityBehavior<S, M = unknown> {
  readonly type: ActorType;
  hydrate(em: EntityManager, id: string): Promise<S>;
  handle(state: S, message: M, ctx: ActorContext): Promise<{ state: S; reply?: unknown }>;
  /**
   * Optional slow work for a command, done before the transaction that handles it and outside
   * it (a clone or fetch): the partition worker awaits it, so the handler finds its result.
   * Must be idempotent (it runs again on redelivery, also for a duplicate) and must not write
   * what the database owns. A throw fails the message as a handler error would.
   */
  prepare?(env: Envelope): Promise<void>;
  /** Escalation: record that the entity failed for good (called in its own transaction). */
  markFailed(em: EntityManager, id: string, reason: string): Promise<void>;
  /**
   * The entity's actor stopped (passivated, escalated, node stopping): release what it owns.
   * nact does not stop the children of a stopped actor (it only detaches them), so an actor
   * that spawns children (a JoinActor's MergeActor) stops them here. Must not throw.
   */
  stopped?(id: string, self: Ref): void;
}

export interface SupervisionReport {
  actor: string;
  entity: string;
  action: 'crashed' | 'restarted' | 'escalated';
  error?: string;
  restarts: number;
  backoff_ms?: number;
}

type Mail<M> = { kind: 'handle'; message: M; scope: MessageScope } | { kind: 'invalidate' } | { kind: 'keepalive' };
type Slot<S> = { hydrated: false } | { hydrated: true; value: S };
type Reply = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Hosts the actors of one type on this node: one supervised nact child per entity, spawned
 * on its first message, passivated after `idleMs` without one.
 *
 * Invariants:
 * 1. One live actor per entity on this node (the partition lease makes it one per cluster).
 * 2. A handler error is replied to the asker; a terminal error (bad input) leaves the actor
 *    running, any other error crashes it into supervision (backoff restart, then escalation).
 * 3. `invalidate` goes through the mailbox, so it never races a message being handled.
 * 4. An entity actor with a running child (a JoinActor's MergeActor) is not passivated: the
 *    child sends `keepAlive` to it, which restarts its idle timer and changes nothing else.
 *    When an entity actor stops anyway, `behavior.stopped` stops its children (nact does not).
 */
export class EntityHost<S, M = unknown> {
  private readonly refs = new Map<string, Ref>();
  private readonly supervisor: Ref;
  private readonly budget: RestartBudget;

  constructor(
    system: Ref,
    private readonly behavior: EntityBehavior<S, M>,
    private readonly deps: {
      db: Database;
      log: Logger;
      metrics: Metrics;
      supervision: SupervisionOptions;
      idleMs: number;
      askTimeoutMs: number;
      report: (r: SupervisionReport) => void;
    },
  ) {
    this.budget = new RestartBudget(deps.supervision);
    this.supervisor = spawn(system, (state: unknown) => state, hostName(behavior.type), {
      // Escalations from children land here: the entity is marked failed and the child stopped.
      onCrash: async (_msg: unknown, err: Error | undefined, ctx: any, child: Ref | undefined) => {
        const id = child ? this.idOf(child) : undefined;
        if (id !== undefined) await this.escalate(id, err);
        return ctx.stopChild;
      },
    });
  }

  get type(): ActorType {
    return this.behavior.type;
  }

  get size(): number {
    return this.refs.size;
  }

  /** Deliver a message to the entity's actor and wait for its reply. */
  async ask(id: string, message: M, scope: MessageScope): Promise<unknown> {
    const reply = (await this.queryActor(id, { kind: 'handle', message, scope })) as Reply;
    if (!reply.ok) throw reply.error;
    return reply.value;
  }

  /** Forget the entity's in-memory state (after a rolled-back transaction). */
  invalidate(id: string): void {
    const ref = this.refs.get(id);
    if (ref) dispatch(ref, { kind: 'invalidate' } satisfies Mail<M>);
  }

  /** Forget every entity's in-memory state (a partition was acquired: another node may have changed its rows). */
  invalidateAll(): void {
    for (const id of this.refs.keys()) this.invalidate(id);
  }

  isLive(id: string): boolean {
    return this.refs.has(id);
  }

  stopAll(): void {
    for (const ref of this.refs.values()) stop(ref);
    this.refs.clear();
    this.deps.metrics.liveActors.set({ actor: this.behavior.type }, 0);
  }

  private async queryActor(id: string, mail: Mail<M>): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const ref = this.refs.get(id) ?? this.spawnActor(id);
      try {
        return await query(ref, (sender: Ref) => ({ ...mail, sender }) as never, this.deps.askTimeoutMs);
      } catch (err) {
        // A ref can be stopped between lookup and query (passivation, escalation): respawn once.
        if (attempt === 0 && /AssertionError|stopped/i.test(String((err as Error)?.name) + errorMessage(err))) {
          this.refs.delete(id);
          continue;
        }
        if (errorMessage(err) === 'Query Timeout') {
          throw new RetryableError('actor_timeout', `${this.behavior.type} ${id} did not answer within ${this.deps.askTimeoutMs} ms`);
        }
        throw err;
      }
    }
  }

  private idOf(child: Ref): string | undefined {
    for (const [id, ref] of this.refs) if ((ref as any).name === (child as any).name) return id;
    return undefined;
  }

  private spawnActor(id: string): Ref {
    const { behavior, deps } = this;
    const key = `${behavior.type}:${id}`;
    const ref = spawn(
      this.supervisor,
      async (slot: Slot<S>, mail: Mail<M> & { sender: Ref }, ctx: any): Promise<Slot<S>> => {
        if (mail.kind === 'invalidate') return { hydrated: false };
        if (mail.kind === 'keepalive') return slot;
        const { scope } = mail;
        scope.uow.onRollback(() => this.invalidate(id));
        try {
          let state: S;
          if (slot.hydrated) state = slot.value;
          else {
            await scope.uow.flush();
            state = await behavior.hydrate(scope.em, id);
          }
          const out = await behavior.handle(state, mail.message, { id, scope, self: ctx.self });
          dispatch(mail.sender, { ok: true, value: out.reply } satisfies Reply);
          return { hydrated: true, value: out.state };
        } catch (err) {
          dispatch(mail.sender, { ok: false, error: err } satisfies Reply);
          // Not a crash: the message fails and waits for the database (its worker retries it).
          if (isTerminal(err) || isDatabaseOutage(err)) return { hydrated: false };
          throw err;
        }
      },
      encodeName(id),
      {
        initialState: { hydrated: false } as Slot<S>,
        shutdownAfter: deps.idleMs,
        onCrash: async (_msg: unknown, err: Error | undefined, sctx: any) => {
          const decision = this.budget.crashed(key);
          deps.metrics.restarts.inc({ actor: behavior.type, action: 'crashed' });
          deps.report({ actor: behavior.type, entity: id, action: 'crashed', error: errorMessage(err), restarts: decision.restarts });
          if (decision.action === 'escalate') return sctx.escalate;
          deps.log.warn({ actor: behavior.type, entity: id, err: errorMessage(err), backoffMs: decision.backoffMs }, 'actor crashed; restarting after backoff');
          await new Promise((r) => setTimeout(r, decision.backoffMs).unref());
          deps.metrics.restarts.inc({ actor: behavior.type, action: 'restarted' });
          deps.report({ actor: behavior.type, entity: id, action: 'restarted', error: errorMessage(err), restarts: decision.restarts, backoff_ms: decision.backoffMs });
          return sctx.reset;
        },
        afterStop: (_state: unknown, sctx: any) => {
          if (this.refs.get(id) === ref) this.refs.delete(id);
          deps.metrics.liveActors.set({ actor: behavior.type }, this.refs.size);
          try {
            behavior.stopped?.(id, ref);
          } catch (err) {
            deps.log.error({ actor: behavior.type, entity: id, err: errorMessage(err) }, 'could not release what a stopped actor owned');
          }
          // Whoever still waits in the mailbox gets an answer instead of a timeout.
          for (const queued of sctx.mailbox ?? []) {
            const sender = queued?.message?.sender;
            if (sender) dispatch(sender, { ok: false, error: new RetryableError('actor_stopped', `${behavior.type} ${id} stopped`) } satisfies Reply);
          }
        },
      },
    );
    this.refs.set(id, ref);
    deps.metrics.liveActors.set({ actor: behavior.type }, this.refs.size);
    return ref;
  }

  private async escalate(id: string, err: Error | undefined): Promise<void> {
    const { behavior, deps } = this;
    const reason = `escalated after ${deps.supervision.restartMax} restarts: ${errorMessage(err)}`;
    this.refs.delete(id);
    deps.metrics.restarts.inc({ actor: behavior.type, action: 'escalated' });
    deps.log.error({ actor: behavior.type, entity: id, err: errorMessage(err) }, 'actor escalated; entity marked failed');
    try {
      await deps.db.em().transactional((em) => behavior.markFailed(em as EntityManager, id, reason));
    } catch (e) {
      deps.log.error({ actor: behavior.type, entity: id, err: errorMessage(e) }, 'could not mark escalated entity failed');
    }
    deps.report({ actor: behavior.type, entity: id, action: 'escalated', error: errorMessage(err), restarts: deps.supervision.restartMax });
  }
}

/** The nact name of the host (the supervisor) of an actor type: `JoinActors`. */
function hostName(type: ActorType): string {
  return `${type}s`;
}

/**
 * The actor type of an entity actor, read from its nact reference (its host's name), or
 * `undefined` if the reference is not an entity actor. What observes a child's real parent.
 */
export function actorTypeOf(ref: Ref): ActorType | undefined {
  const parts: string[] = (ref as any)?.path?.parts ?? [];
  if (parts.length !== 2 || !parts[0]!.endsWith('s')) return undefined;
  return parts[0]!.slice(0, -1) as ActorType;
}

/** Keeps an entity actor from passivating for another `idleMs` (sent by its running children). */
export function keepAlive(ref: Ref): void {
  dispatch(ref, { kind: 'keepalive' } satisfies Mail<unknown>);
}

/** nact child names must be unique and path-safe. */
function encodeName(id: string): string {
  return `e-${Buffer.from(id).toString('base64url')}`;
}
