import nact from 'nact';
import type { Logger } from '../logging/logger.ts';
import type { Dispatch } from '../messaging/partition-worker.ts';
import type { MessageScope } from '../messaging/unit-of-work.ts';
import type { Metrics } from '../metrics.ts';
import type { Database } from '../persistence/index.ts';
import { ActorType, lookup, type CommandDef, type Envelope } from '../protocol/index.ts';
import { EntityHost, type EntityBehavior, type SupervisionReport } from './entity-host.ts';
import type { SupervisionOptions } from './supervision.ts';

/** A command delivered to an entity actor. Actors may also accept their own ask messages. */
export interface CommandMail { kind: 'command'; env: Envelope }

/** How each actor type names its entity from a command payload. */
export const ENTITY_ID: Record<ActorType, (payload: any) => string> = {
  TicketActor: (p) => p.ticket_id,
  OwnershipActor: (p) => p.ticket_id,
  JoinActor: (p) => `${p.ticket_id}/${p.join_id}`,
  MergeActor: (p) => `${p.ticket_id}/${p.join_id}`,
  AgentActor: (p) => p.agent_id,
  AlertActor: (p) => p.fingerprint,
  SpecActor: (p) => p.spec_id,
};

/**
 * The node's actor system: one nact system, one supervised host per actor type, and the
 * dispatch table that delivers each command type to its actor.
 */
export class ActorRuntime {
  private readonly system = nact.start();
  private readonly hosts = new Map<ActorType, EntityHost<any, any>>();

  /**
   * Forgets the in-memory state of every live entity actor (each re-reads its rows with its next
   * message). Called when this node acquires a partition: while another node held it, that node
   * changed the rows this node's actors may still hold from an earlier holding, and handling a
   * message on such stale state would lose or overwrite the other node's work.
   */
  invalidateAll(): void {
    for (const host of this.hosts.values()) host.invalidateAll();
  }
  private readonly prepares = new Map<ActorType, (env: Envelope) => Promise<void>>();

  constructor(
    private readonly deps: {
      db: Database; log: Logger; metrics: Metrics; supervision: SupervisionOptions; idleMs: number; askTimeoutMs: number;
      report: (r: SupervisionReport) => void;
    },
  ) {}

  /** The root of this node's actor system: node-level supervisors (final merges) are spawned under it. */
  get root(): nact.Ref<any> {
    return this.system;
  }

  /** Registers a behaviour; its host is spawned under the system root. */
  register<S, M>(behavior: EntityBehavior<S, M>): EntityHost<S, M> {
    if (this.hosts.has(behavior.type)) throw new Error(`actor type ${behavior.type} registered twice`);
    const host = new EntityHost<S, M>(this.system, behavior, this.deps);
    this.hosts.set(behavior.type, host);
    if (behavior.prepare) this.prepares.set(behavior.type, behavior.prepare.bind(behavior));
    return host;
  }

  host<S = unknown, M = unknown>(type: ActorType): EntityHost<S, M> {
    const host = this.hosts.get(type);
    if (!host) throw new Error(`no actor registered for ${type}`);
    return host as EntityHost<S, M>;
  }

  /** Actor types that have a host (the orphan check compares this with the protocol). */
  registeredTypes(): ActorType[] {
    return [...this.hosts.keys()];
  }

  readonly dispatch: Dispatch = async (env: Envelope, scope: MessageScope) => {
    const def = lookup(env.type) as CommandDef | undefined;
    if (def?.kind !== 'command') throw new Error(`no command ${env.type}`);
    const id = ENTITY_ID[def.handledBy](env.payload);
    await this.host(def.handledBy).ask(id, { kind: 'command', env } satisfies CommandMail, scope);
  };

  /**
   * The behaviour's `prepare` step for a command (clone, fetch…), outside any transaction; the
   * partition worker awaits it before handing the message to the group commit. Resolves at
   * once for commands whose actor has none.
   */
  readonly prepare = async (env: Envelope): Promise<void> => {
    const def = lookup(env.type) as CommandDef | undefined;
    if (def?.kind !== 'command') return;
    await this.prepares.get(def.handledBy)?.(env);
  };

  stop(): void {
    for (const host of this.hosts.values()) host.stopAll();
    nact.stop(this.system);
  }
}
