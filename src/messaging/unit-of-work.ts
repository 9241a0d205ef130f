import type { EntitySchema } from '@mikro-orm/core';
import type { EntityManager } from '../persistence/index.ts';
import { eventLogRow, EventLogEntity, OutboxEntity, ProcessedMessageEntity, type OutboxRow } from '../persistence/index.ts';
import { lookup, makeEnvelope, partitionOf, Subjects, validatePayload, type CommandDef, type Envelope } from '../protocol/index.ts';

/**
 * One database transaction, shared by every message of a commit round (the batches of one or
 * more partitions held by this node: see `GroupCommitter`).
 *
 * Invariants:
 * 1. Everything a handler produces (state rows, events, commands) is written in this
 *    transaction; nothing reaches NATS before it commits (outbox).
 * 2. Ids of produced messages are derived from the causing message's id, so re-processing
 *    the same message after a failed commit produces the same ids (deduplicated downstream).
 * 3. `afterCommit` effects run only once the transaction committed.
 */
export class UnitOfWork {
  readonly outbox: OutboxRow[] = [];
  private readonly processed: Array<{ message_id: string; partition: number }> = [];
  private readonly effects: Array<() => void | Promise<void>> = [];
  private readonly pending = new Map<EntitySchema<any>, { pk: string[]; rows: Map<string, object>; removed: Map<string, object> }>();
  private readonly touched = new Set<() => void>();

  constructor(
    public em: EntityManager,
    readonly partitions: number,
    readonly source: string,
    readonly now: Date = new Date(),
  ) {}

  /** A scope that produces messages caused by `cause`, a message of `partition`. */
  scope(cause: Envelope, partition: number): MessageScope {
    return new MessageScope(this, cause, partition);
  }

  markProcessed(messageId: string, partition: number): void {
    this.processed.push({ message_id: messageId, partition });
  }

  /** Write-behind upsert keyed by primary key; the last write of a row wins. */
  upsert<T extends object>(entity: EntitySchema<T>, pk: Array<keyof T & string>, row: T): void {
    const slot = this.slot(entity, pk);
    const key = pk.map((k) => String(row[k])).join('\u0000');
    slot.removed.delete(key);
    slot.rows.set(key, { ...row });
  }

  /** Write-behind delete by primary key; cancels a pending upsert of the same row. */
  remove<T extends object>(entity: EntitySchema<T>, pk: Array<keyof T & string>, key: Partial<T>): void {
    const slot = this.slot(entity, pk);
    const k = pk.map((c) => String(key[c])).join('\u0000');
    slot.rows.delete(k);
    slot.removed.set(k, Object.fromEntries(pk.map((c) => [c, key[c]])));
  }

  private slot(entity: EntitySchema<any>, pk: string[]) {
    let slot = this.pending.get(entity);
    if (!slot) {
      slot = { pk, rows: new Map(), removed: new Map() };
      this.pending.set(entity, slot);
    }
    return slot;
  }

  afterCommit(effect: () => void | Promise<void>): void {
    this.effects.push(effect);
  }

  /** Remember how to forget in-memory state written in this transaction, should it roll back. */
  onRollback(invalidate: () => void): void {
    this.touched.add(invalidate);
  }

  /** Writes pending upserts (of `only`, or of every entity) now, so reads in this transaction see them. */
  async flush(only?: EntitySchema<any>): Promise<void> {
    for (const [entity, slot] of this.pending) {
      if (only && entity !== only) continue;
      if (slot.removed.size) {
        const keys = [...slot.removed.values()];
        slot.removed.clear();
        await this.em.nativeDelete(entity, { $or: keys } as never);
      }
      if (slot.rows.size === 0) continue;
      const rows = [...slot.rows.values()];
      slot.rows.clear();
      await this.em.createQueryBuilder(entity).insert(rows).onConflict(slot.pk).merge().execute();
    }
  }

  /** Final writes of the transaction: state rows, processed ids, outbox, event log. */
  async finish(): Promise<void> {
    await this.flush();
    if (this.processed.length) {
      await this.em
        .createQueryBuilder(ProcessedMessageEntity)
        .insert(this.processed.map((p) => ({ ...p, processed_at: this.now })))
        .onConflict(['message_id']).ignore().execute();
    }
    if (this.outbox.length) {
      await this.em.createQueryBuilder(OutboxEntity).insert(this.outbox.map(({ id: _id, ...row }) => row)).onConflict(['message_id']).ignore().execute();
      const events = this.outbox.filter((o) => o.subject.startsWith('omoi.evt.') || o.subject.startsWith('omoi.errors.'));
      if (events.length) {
        await this.em.createQueryBuilder(EventLogEntity)
          .insert(events.map((o) => eventLogRow(o.message_id, JSON.parse(o.body) as Envelope)))
          .onConflict(['message_id']).ignore().execute();
      }
    }
  }

  async runEffects(onError: (err: unknown) => void): Promise<void> {
    for (const effect of this.effects) {
      try {
        await effect();
      } catch (err) {
        onError(err);
      }
    }
  }

  rollbackState(): void {
    for (const invalidate of this.touched) invalidate();
    this.touched.clear();
  }
}

/** Produces events and commands caused by one message, inside a unit of work. */
export class MessageScope {
  private seq = 0;
  constructor(
    readonly uow: UnitOfWork,
    readonly cause: Envelope,
    /** The partition of the causing message; its holder publishes what this scope produces. */
    readonly partition: number,
  ) {}

  get em(): EntityManager {
    return this.uow.em;
  }

  get now(): Date {
    return this.uow.now;
  }

  /** Publishes a domain event on `omoi.evt.<type>` after commit. The payload is validated. */
  emit(type: string, payload: Record<string, unknown>): void {
    const def = lookup(type);
    if (def?.kind !== 'event') throw new Error(`emit: ${type} is not an event of the protocol`);
    this.push(Subjects.event(type), this.envelope(type, validatePayload(type, payload)));
  }

  /** Sends a command to its entity's partition after commit. The payload is validated. */
  send(type: string, payload: Record<string, unknown>): void {
    const def = lookup(type);
    if (def?.kind !== 'command') throw new Error(`send: ${type} is not a command of the protocol`);
    const valid = validatePayload(type, payload);
    const { entity, id } = (def as CommandDef).route(valid as never);
    const partition = partitionOf(entity, id, this.uow.partitions);
    this.push(Subjects.partition(partition, type), this.envelope(type, valid));
  }

  /**
   * Publishes a bare payload on `subject` after commit, through the outbox like every effect
   * (so it is re-driven until JetStream stored it), as message `id`. For subjects outside
   * Omoi's envelopes: an agent's assignments and stops (`omoi.agent.<id>.assign`, `.stop`).
   */
  offer(subject: string, payload: Record<string, unknown>, id: string): void {
    this.uow.outbox.push({ message_id: id, subject, body: JSON.stringify(payload), partition: this.partition, created_at: this.uow.now });
  }

  private envelope(type: string, payload: unknown): Envelope {
    return makeEnvelope(type, payload, { source: this.uow.source, id: `${this.cause.id}/${++this.seq}`, causation: this.cause, time: this.uow.now });
  }

  /** Outbox rows belong to the producing partition: its holder publishes them. */
  private push(subject: string, env: Envelope): void {
    this.uow.outbox.push({ message_id: env.id, subject, body: JSON.stringify(env), partition: this.partition, created_at: this.uow.now });
  }
}
